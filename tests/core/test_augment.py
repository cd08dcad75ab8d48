"""core.augment: each augmentation of a batch is, sample by sample, torchvision's own transform with
that sample's parameters; seeded, bit-reproducible, continued exactly by a resumed run, never
applied to validation data; and its settings live in the project JSON with torchvision's names."""

from __future__ import annotations

import json

import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from playground.core import augment
from playground.core.augment import build_augment, check_augment, rotate
from playground.core.data import Batches, augmentation, dataset_info, load
from playground.core.errors import ProjectError
from playground.core.resume import run_state
from playground.core.spec import DataSpec, Project
from playground.core.training import FINISHED, STOPPED, StepEvent, Trainer
from tests.conftest import REPO
from tests.core.test_image_data import cifar_files
from tests.core.test_resume import continued, epochs_of, same_weights

SHAPE = (3, 8, 10)


def batch(n: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, *SHAPE, generator=torch.Generator().manual_seed(seed))


def augmented(settings: dict, x: torch.Tensor, seed: int = 1, mean: float = 0.0, std: float = 1.0):
    apply = build_augment(check_augment(settings, SHAPE), mean, std)
    return apply(x, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect"])
def test_random_crop_is_torchvisions_pad_and_crop_at_some_place_per_sample(mode):
    x = batch()
    out = augmented({"RandomCrop": {"padding": 2, "padding_mode": mode, "fill": 0.25}}, x)
    places = set()
    for sample, got in zip(x, out):
        padded = TF.pad(sample, [2], fill=0.25, padding_mode=mode)
        hits = [(i, j) for i in range(5) for j in range(5)
                if torch.equal(TF.crop(padded, i, j, 8, 10), got)]
        assert hits, "not a crop of the padded image"
        places.add(hits[0])
    assert len(places) > 10   # the samples were shifted each its own way, not all alike


def test_fill_is_a_pixel_value_whatever_the_normalisation():
    x = torch.zeros(16, *SHAPE)   # black pixels, normalised by (0.5, 0.5): -1
    out = augmented({"RandomCrop": {"padding": 4, "fill": 0.0}}, x - 1.0, mean=0.5, std=0.5)
    assert torch.equal(out, x - 1.0)   # the padding is black too


@pytest.mark.parametrize("name,flip", [("RandomHorizontalFlip", TF.horizontal_flip),
                                       ("RandomVerticalFlip", TF.vertical_flip)])
def test_flips_mirror_some_samples_each_as_torchvision(name, flip):
    x = batch()
    out = augmented({name: {"p": 0.5}}, x)
    flipped = [torch.equal(got, flip(s)) for s, got in zip(x, out)]
    kept = [torch.equal(got, s) for s, got in zip(x, out)]
    assert all(a or b for a, b in zip(flipped, kept)) and any(flipped) and any(kept)
    assert torch.equal(augmented({name: {"p": 1.0}}, x), flip(x))
    assert torch.equal(augmented({name: {"p": 0.0}}, x), x)


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_rotation_is_torchvisions_rotate_with_each_samples_angle(interpolation):
    x = batch(6)
    angles = torch.tensor([0.0, 90.0, -90.0, 17.5, -33.0, 180.0])
    out = rotate(x, angles, fill=0.3, interpolation=interpolation)
    mode = TF.InterpolationMode.NEAREST if interpolation == "nearest" else TF.InterpolationMode.BILINEAR
    for sample, angle, got in zip(x, angles, out):
        expected = TF.rotate(sample, float(angle), interpolation=mode, fill=[0.3])
        # the same grid_sample, blended with `fill` by the same formula; the rotation matrix is float32
        # here (one per sample, on the device) and double there, so grid positions may differ by a few
        # float32 ulps (~1e-7 of the half-width): bilinear weights move by ~1e-6 for pixels in [0, 1],
        # while nearest picks the same pixels
        atol = 0 if interpolation == "nearest" else 1e-5
        torch.testing.assert_close(got, expected, rtol=0, atol=atol)


def test_random_rotation_stays_within_its_degrees():
    x = torch.zeros(200, 1, 9, 9)
    x[:, :, 4, 4:] = 1.0   # a ray from the centre to the right edge
    out = augmented({"RandomRotation": {"degrees": 30.0}}, x.expand(200, 3, 9, 9).contiguous())[:, 0]
    ys, xs = torch.meshgrid(torch.arange(9) - 4.0, torch.arange(9) - 4.0, indexing="ij")
    for image in out:
        on = image > 0.5
        angle = torch.rad2deg(torch.atan2(-ys[on], xs[on]))   # y points down; counter-clockwise is positive
        far = (ys[on] ** 2 + xs[on] ** 2) >= 4                # the centre pixels say nothing of the angle
        # a nearest-pixel ray at radius >= 2 deviates from its angle by at most atan(0.5/2) = 14°
        assert angle[far].abs().max() <= 30.0 + 14.1


def test_random_erasing_blanks_one_rectangle_in_some_samples():
    x = batch(200) + 1.0   # no pixel is 0 before erasing
    out = augmented({"RandomErasing": {"p": 0.5, "value": 0.0}}, x)
    erased = 0
    for sample, got in zip(x, out):
        changed = (got != sample).any(0)
        if not changed.any():
            continue
        erased += 1
        rows, cols = changed.any(1).nonzero()[:, 0], changed.any(0).nonzero()[:, 0]
        top, left, h, w = int(rows[0]), int(cols[0]), len(rows), len(cols)
        assert torch.equal(got, TF.erase(sample, top, left, h, w, torch.tensor(0.0)))   # one whole rectangle
        assert int(rows[-1]) - top + 1 == h and int(cols[-1]) - left + 1 == w
        assert h < 8 and w < 10
    assert 60 <= erased <= 110   # p = 0.5 of 200, less the few draws where no rectangle fits


def test_the_seed_repeats_every_augmented_batch_and_another_seed_does_not():
    x, y = batch(50), torch.arange(50)
    settings = {"RandomCrop": {"padding": 2}, "RandomHorizontalFlip": {}, "RandomRotation": {"degrees": 10},
                "RandomErasing": {}}
    apply = build_augment(check_augment(settings, SHAPE))

    def epochs(seed):
        b = Batches(x, y, 16, seed=seed, transform=apply)
        return [xb.clone() for _ in range(2) for xb, _ in b]

    a, again, other = epochs(3), epochs(3), epochs(4)
    assert all(torch.equal(p, q) for p, q in zip(a, again))
    assert not all(torch.equal(p, q) for p, q in zip(a, other))
    assert torch.equal(x, batch(50))   # the stored data is never changed in place


# --- in a project -----------------------------------------------------------------------------


AUGMENT = {"RandomCrop": {"padding": 4}, "RandomHorizontalFlip": {"p": 0.5},
           "RandomRotation": {"degrees": 10}, "RandomErasing": {"p": 0.25}}


def cifar_project(root, epochs: int, augment_settings=None) -> Project:
    raw = json.loads((REPO / "resources" / "examples" / "xor.json").read_text())
    raw["network"] = {"input_shape": [3, 32, 32], "layers": [
        {"type": "Flatten", "params": {}}, {"type": "Dropout", "params": {"p": 0.1}},
        {"type": "Linear", "params": {"out_features": 10}}]}
    raw["data"] = {"dataset": "cifar10", "params": {"root": str(root), "val_fraction": 0.25},
                   "augment": augment_settings if augment_settings is not None else AUGMENT}
    raw["training"].update(batch_size=4, epochs=epochs, seed=7, optimizer={"type": "Adam", "params": {"lr": 0.01}})
    return Project.from_dict(raw)


def test_augment_round_trips_in_the_project_and_old_files_stay_as_they_were(tmp_path):
    project = cifar_project(tmp_path, 1)
    assert list(project.data.augment) == list(AUGMENT)   # the order is the order applied
    again = Project.from_json(project.to_json())
    assert again == project and json.loads(project.to_json())["data"]["augment"] == AUGMENT
    xor = Project.load(REPO / "resources" / "examples" / "xor.json")
    assert "augment" not in json.loads(xor.to_json())["data"] and xor.to_dict()["version"] == 1
    # an older Playground says "written by a newer Playground" instead of "unknown key 'augment'"
    assert project.to_dict()["version"] == 3


@pytest.mark.parametrize("settings,message", [
    ({"RandomFlip": {}}, r"data\.augment: unknown augmentation 'RandomFlip' \(known: RandomCrop, "),
    ({"RandomCrop": {"size": 28}}, r"data\.augment\.RandomCrop\.size must be the images' size \(32\), not 28"),
    ({"RandomRotation": {"degrees": 400}}, r"data\.augment\.RandomRotation\.degrees must be at most 180"),
    ({"RandomErasing": {"scale": [0.5, 0.1]}}, r"data\.augment\.RandomErasing\.scale must be \[low, high\]"),
    ({"RandomHorizontalFlip": {"q": 1}}, r"data\.augment\.RandomHorizontalFlip: unknown parameter 'q'"),
    ([1], r"data\.augment must be an object like"),
])
def test_bad_augmentation_is_said_when_the_project_is_checked(tmp_path, settings, message):
    cifar_files(tmp_path / "cifar-10-batches-py")
    with pytest.raises(ProjectError, match=message):
        spec = cifar_project(tmp_path, 1, settings).data if isinstance(settings, dict) else \
            DataSpec("cifar10", {"root": str(tmp_path)}, settings)
        dataset_info(spec)


def test_tables_have_no_augmentation():
    spec = DataSpec("table", {"path": str(REPO / "resources" / "tables" / "iris.csv")}, {"RandomErasing": {}})
    with pytest.raises(ProjectError, match=r"augmentation is for images .* shape \[4\] — remove it"):
        dataset_info(spec)
    assert augmentation(DataSpec("table", {"path": str(REPO / "resources" / "tables" / "iris.csv")})) is None
    from playground.core.data import check_data

    with pytest.raises(ProjectError, match=r"data\.augment: augmentation is for images, and table gives none"):
        check_data(DataSpec("table", {"path": "moved.csv"}, {"RandomErasing": {}}))   # said without the file
    check_data(DataSpec("image_folder", {"root": "moved", "size": 32}, {"RandomCrop": {"size": 32}}))


def test_training_is_bit_reproducible_and_validation_is_never_augmented(tmp_path, one_torch_thread):
    cifar_files(tmp_path / "cifar-10-batches-py", per_batch=4)
    runs = [Trainer(cifar_project(tmp_path, 2)) for _ in range(2)]
    for run in runs:
        assert run.run().status == FINISHED
    assert epochs_of(runs[0]) == epochs_of(runs[1])
    assert same_weights(runs[0].model.state_dict(), runs[1].model.state_dict())
    plain = load(cifar_project(tmp_path, 2).data)
    assert torch.equal(runs[0].dataset.x_val, plain.x_val) and torch.equal(runs[0].dataset.x_train, plain.x_train)
    unaugmented = Trainer(cifar_project(tmp_path, 2, {}))
    unaugmented.run()
    assert epochs_of(unaugmented) != epochs_of(runs[0])   # the augmentation did change what was trained on


def test_a_stopped_augmented_run_continues_exactly(tmp_path, one_torch_thread):
    cifar_files(tmp_path / "cifar-10-batches-py", per_batch=4)
    straight = Trainer(cifar_project(tmp_path, 3))
    assert straight.run().status == FINISHED

    def stop_inside_epoch_2(event):
        if isinstance(event, StepEvent) and event.epoch == 2 and event.step == 2:
            first.stop()

    first = Trainer(cifar_project(tmp_path, 3), stop_inside_epoch_2, report_interval=0)
    assert first.run().status == STOPPED
    second = continued(run_state(first), cifar_project(tmp_path, 2), tmp_path)
    assert second.run().status == FINISHED
    assert epochs_of(second) == epochs_of(straight)
    assert same_weights(second.model.state_dict(), straight.model.state_dict())


def test_every_augmentation_is_declared_with_a_step():
    assert set(augment.AUGMENTATIONS) == set(augment._STEPS)
    for name, kind in augment.AUGMENTATIONS.items():
        assert name.startswith("Random") and kind.doc
        check_augment({name: {}}, SHAPE)   # every default is valid


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_batches_augment_on_the_device_reproducibly():
    x, y = batch(50).cuda(), torch.arange(50, device="cuda")
    apply = build_augment(check_augment(AUGMENT, SHAPE))

    def epoch(seed):
        return [xb.clone() for xb, _ in Batches(x, y, 16, seed=seed, transform=apply)]

    a, again = epoch(3), epoch(3)
    assert all(p.is_cuda for p in a) and all(torch.equal(p, q) for p, q in zip(a, again))
    flipped = augmented({"RandomHorizontalFlip": {"p": 1.0}}, x.cpu())
    out = build_augment(check_augment({"RandomHorizontalFlip": {"p": 1.0}}, SHAPE))(
        x, torch.Generator(device="cuda").manual_seed(1))
    assert torch.equal(out.cpu(), flipped)


def test_under_torchrun_each_ranks_shard_is_augmented_too():
    from playground.core.distributed import ShardedBatches

    x, y = batch(16), torch.arange(16)
    apply = build_augment(check_augment({"RandomHorizontalFlip": {"p": 1.0}}, SHAPE))
    for rank in (0, 1):
        plain = list(ShardedBatches(x, y, 8, rank, 2, seed=2))
        flipped = list(ShardedBatches(x, y, 8, rank, 2, seed=2, transform=apply))
        assert all(torch.equal(f, TF.horizontal_flip(p)) and torch.equal(fy, py)
                   for (p, py), (f, fy) in zip(plain, flipped))
