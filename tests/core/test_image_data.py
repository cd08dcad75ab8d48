"""Image folders (written here from real MNIST digits) and CIFAR-10 (tiny files in the real pickle format):
decoded exactly, class names from the files, each bad input one sentence, training headless and by the CLI."""

from __future__ import annotations

import json
import os
import pickle
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms.v2.functional import resize

from playground.cli import main
from playground.core import cifar, data
from playground.core.data import dataset_info, load, train_size
from playground.core.errors import DataError
from playground.core.spec import DataSpec, Project
from playground.core.training import Trainer
from tests.conftest import MNIST_SMALL, REPO


@pytest.fixture(scope="module")
def digits():
    """The 1,000 real MNIST digits committed with the tests: (N, 28, 28) uint8 and their labels."""
    x = data._read_idx(MNIST_SMALL / "t10k-images-idx3-ubyte.gz", 3, "image")
    y = data._read_idx(MNIST_SMALL / "t10k-labels-idx1-ubyte.gz", 1, "label").long()
    return x, y


def digit_folder(root, digits, per_class: dict[str, int], *, jpeg: str = ""):
    """ROOT/<name>/<i>.png holding the first `n` real digits of each class (name: the digit's word)."""
    x, y = digits
    words = ["zero", "one", "two", "three"]
    written = {}
    for name, n in per_class.items():
        folder = root / name
        folder.mkdir(parents=True)
        images = x[y == words.index(name)][:n]
        for i, image in enumerate(images):
            Image.fromarray(image.numpy()).save(folder / f"{i:03d}.png")
        written[name] = images
    if jpeg:
        Image.fromarray(written[jpeg][0].numpy()).save(root / jpeg / "zzz.jpg", quality=90)
    return written


def folder(root, **params) -> DataSpec:
    return DataSpec("image_folder", {"root": str(root), **params})


# --- image folders -------------------------------------------------------------------------------------


def test_pngs_decode_to_the_digits_exactly_with_class_names_from_the_folders(tmp_path, digits):
    written = digit_folder(tmp_path / "d", digits, {"zero": 5, "two": 4, "one": 3})
    spec = folder(tmp_path / "d", normalize="none", val_fraction=0.0)
    info = dataset_info(spec)
    assert info.class_names == ("one", "two", "zero") and info.n_classes == 3   # sorted, as ImageFolder
    assert info.input_shape == (1, 28, 28) and train_size(spec) == 12
    ds = load(spec)
    assert ds.x_train.shape == (12, 1, 28, 28) and ds.x_train.dtype == torch.float32
    assert ds.y_train.tolist() == [0] * 3 + [1] * 4 + [2] * 5
    pixels = (ds.x_train * 255).round().to(torch.uint8)   # exact: x / 255 is within 0.5 / 255 of the byte
    expected = torch.cat([written["one"], written["two"], written["zero"]])[:, None]
    assert torch.equal(pixels, expected)


def test_size_channels_and_normalisation(tmp_path, digits):
    written = digit_folder(tmp_path / "d", digits, {"zero": 2, "one": 2})
    ds = load(folder(tmp_path / "d", size=14, channels=3, val_fraction=0.0))
    assert ds.x_train.shape == (4, 3, 14, 14) and dataset_info(folder(tmp_path / "d", size=14, channels=3)
                                                               ).input_shape == (3, 14, 14)
    assert torch.equal(ds.x_train[:, 0], ds.x_train[:, 2])   # grey decoded as RGB: three equal channels
    small = resize(torch.cat([written["one"], written["zero"]])[:, None], [14, 14], antialias=True)
    assert torch.equal(((ds.x_train[:, :1] * 0.5 + 0.5) * 255).round().to(torch.uint8), small)
    assert float(ds.x_train.min()) >= -1 and float(ds.x_train.max()) <= 1


def test_a_second_load_decodes_nothing_until_a_file_changes(tmp_path, digits, monkeypatch):
    from playground.core import image_folders

    digit_folder(tmp_path / "d", digits, {"zero": 3, "one": 3})
    first = load(folder(tmp_path / "d"))
    decoded = []
    real = image_folders._decode
    monkeypatch.setattr(image_folders, "_decode", lambda path, mode: decoded.append(path) or real(path, mode))
    again = load(folder(tmp_path / "d"))
    assert decoded == [] and torch.equal(first.x_train, again.x_train)
    Image.fromarray(digits[0][5].numpy()).save(tmp_path / "d" / "one" / "000.png")
    os.utime(tmp_path / "d" / "one" / "000.png", ns=(1, 1))   # a changed file, whatever the clock's resolution
    changed = load(folder(tmp_path / "d"))
    assert len(decoded) == 6 and not torch.equal(torch.cat([first.x_train, first.x_val]),
                                                 torch.cat([changed.x_train, changed.x_val]))


def test_playground_train_takes_data_root_for_an_image_folder(tmp_path, digits, monkeypatch):
    digit_folder(tmp_path / "elsewhere", digits, {"zero": 8, "one": 8})
    project = _image_project({"dataset": "image_folder", "params": {"root": "missing"}}, (1, 28, 28), 2)
    project.save(tmp_path / "p.json")
    monkeypatch.chdir(tmp_path)
    assert main(["train", "p.json", "--epochs", "1", "--data-root", "elsewhere", "--quiet"]) == 0


def test_jpeg_is_read_and_the_split_is_seeded(tmp_path, digits):
    digit_folder(tmp_path / "d", digits, {"zero": 6, "one": 6}, jpeg="zero")
    a, b = load(folder(tmp_path / "d", seed=3)), load(folder(tmp_path / "d", seed=3))
    assert len(a.x_train) + len(a.x_val) == 13 and len(a.x_val) == 2
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_val, b.y_val)


@pytest.mark.parametrize("layout,message", [
    ("missing", r"d does not exist: name the folder that holds one sub-folder per class"),
    ("loose", r"d holds no class folders \(its images lie in it directly\): put each class's images in a "
              r"sub-folder named after the class"),
    ("empty_root", r"d holds no class folders \(it has no sub-folders\)"),
    ("empty_class", r"the class folder .*d/two holds no PNG or JPEG images: add some or remove the folder"),
    ("one_class", r"d has one class folder \(zero\); a classifier needs at least two"),
    ("broken", r"d/one/bad\.png cannot be read as an image \(.*\): replace it or delete it"),
    ("empty_file", r"d/one/empty\.png cannot be read as an image"),
])
def test_bad_folders_are_one_sentence(tmp_path, digits, layout, message):
    root = tmp_path / "d"
    if layout == "loose":
        root.mkdir()
        Image.fromarray(digits[0][0].numpy()).save(root / "a.png")
    elif layout == "empty_root":
        root.mkdir()
    elif layout == "empty_class":
        digit_folder(root, digits, {"zero": 2, "one": 2})
        (root / "two").mkdir()
    elif layout == "one_class":
        digit_folder(root, digits, {"zero": 2})
    elif layout in ("broken", "empty_file"):
        digit_folder(root, digits, {"zero": 2, "one": 2})
        (root / "one" / ("bad.png" if layout == "broken" else "empty.png")).write_bytes(
            b"not a png at all" if layout == "broken" else b"")
    with pytest.raises(DataError, match=message) as e:
        load(folder(root))
    assert "\n" not in str(e.value)


def test_a_relative_root_is_from_the_project_folder_and_playground_train_runs(tmp_path, digits, monkeypatch):
    digit_folder(tmp_path / "proj" / "digits", digits, {"zero": 40, "one": 40})
    project = _image_project({"dataset": "image_folder", "params": {"root": "digits", "val_fraction": 0.2}},
                             (1, 28, 28), 2)
    (tmp_path / "proj" / "p.json").write_text(project.to_json())
    monkeypatch.chdir(tmp_path)
    assert main(["train", "proj/p.json", "--epochs", "3", "--out", "p.pt", "--quiet"]) == 0
    metrics = json.loads((tmp_path / "p.metrics.json").read_text())
    # zeros and ones are told apart by a linear model from a few examples; 16 held out, at most 2 wrong
    assert metrics["status"] == "finished" and metrics["epochs"][-1]["val_accuracy"] >= 14 / 16


def _image_project(data_raw: dict, shape: tuple, classes: int) -> Project:
    raw = json.loads((REPO / "resources" / "examples" / "xor.json").read_text())
    raw["network"] = {"input_shape": list(shape), "layers": [
        {"type": "Flatten", "params": {}}, {"type": "Linear", "params": {"out_features": classes}}]}
    raw["data"] = data_raw
    raw["training"].update(batch_size=8, epochs=3, optimizer={"type": "Adam", "params": {"lr": 0.01}})
    return Project.from_dict(raw)


# --- CIFAR-10 ------------------------------------------------------------------------------------------


def cifar_files(folder, per_batch: int = 3, *, bytes_keys: bool = False):
    """The six batches and batches.meta in CIFAR-10's python format, `per_batch` images each;
    returns the training and test pixels (N, 3, 32, 32) and labels as written."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    out = {}
    for name in (*cifar.TRAIN, "test_batch"):
        pixels = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, per_batch)]
        entry = {"batch_label": name, "labels": labels, "data": pixels,
                 "filenames": [f"{name}_{i}.png" for i in range(per_batch)]}
        if bytes_keys:   # as a Python 2 pickle reads without encoding="latin1"
            entry = {k.encode(): v for k, v in entry.items()}
        (folder / name).write_bytes(pickle.dumps(entry, protocol=2))
        out[name] = (torch.from_numpy(pixels).view(-1, 3, 32, 32), torch.tensor(labels))
    meta = {"label_names": list(cifar.CLASSES), "num_cases_per_batch": per_batch, "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    train = [out[n] for n in cifar.TRAIN]
    return torch.cat([t[0] for t in train]), torch.cat([t[1] for t in train]), out["test_batch"]


def _cifar(root, **params) -> DataSpec:
    return DataSpec("cifar10", {"root": str(root), "normalize": "none", "val_fraction": 0.0, **params})


@pytest.mark.parametrize("layout", ["torchvision", "flat", "targz", "bytes_keys"])
def test_cifar_batches_read_exactly_in_every_layout(tmp_path, layout):
    root = tmp_path / "data"
    where = root if layout == "flat" else root / cifar.FOLDER
    x, y, (x_test, y_test) = cifar_files(where, bytes_keys=layout == "bytes_keys")
    if layout == "targz":
        with tarfile.open(root / cifar.ARCHIVE, "w:gz") as tar:
            tar.add(where, arcname=cifar.FOLDER)
        for f in where.iterdir():
            f.unlink()
        where.rmdir()
    info = dataset_info(_cifar(root))
    assert info.class_names == cifar.CLASSES and info.input_shape == (3, 32, 32)
    ds = load(_cifar(root))
    assert torch.equal((ds.x_train * 255).round().to(torch.uint8), x) and torch.equal(ds.y_train, y)
    assert torch.equal((ds.x_test * 255).round().to(torch.uint8), x_test) and torch.equal(ds.y_test, y_test)
    assert sorted(p.name for p in root.iterdir()) == sorted(
        [cifar.ARCHIVE] if layout == "targz" else [cifar.FOLDER] if layout != "flat" else cifar.FILES)


def test_cifar_missing_files_are_named_like_mnists(tmp_path):
    with pytest.raises(DataError, match=rf"CIFAR-10 needs 7 files that are not in {tmp_path / cifar.FOLDER}: "
                                        r"data_batch_1, .*batches\.meta\. Put the folder cifar-10-batches-py "
                                        r"\(or cifar-10-python\.tar\.gz, as distributed at https://\S+\) in"):
        load(_cifar(tmp_path))
    cifar_files(tmp_path / cifar.FOLDER)
    (tmp_path / cifar.FOLDER / "data_batch_3").unlink()
    with pytest.raises(DataError, match=r"CIFAR-10 needs 1 file that is not in .*: data_batch_3\. "):
        load(_cifar(tmp_path))


def test_cifar_never_runs_what_a_pickle_names(tmp_path):
    cifar_files(tmp_path / cifar.FOLDER)
    mark = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {mark}",))

    (tmp_path / cifar.FOLDER / "data_batch_2").write_bytes(pickle.dumps({"data": Evil()}, protocol=2))
    with pytest.raises(DataError, match=r"data_batch_2 is not a CIFAR-10 python batch \(UnpicklingError: "
                                        r"it names .*system, which no CIFAR batch holds\)"):
        load(_cifar(tmp_path))
    assert not mark.exists()


@pytest.mark.parametrize("entry,message", [
    ({"data": np.zeros((2, 100), np.uint8), "labels": [0, 1]}, r"holds no 'data' of 3,072 bytes per image"),
    ({"data": np.zeros((2, 3072), np.uint8), "labels": [0]}, r"holds 2 images but not as many labels from 0 to 9"),
    ({"data": np.zeros((1, 3072), np.uint8), "labels": [10]}, r"holds 1 images but not as many labels"),
    ([1, 2], r"is not a CIFAR-10 python batch \(it holds no dictionary\)"),
])
def test_cifar_damaged_batches_are_named(tmp_path, entry, message):
    cifar_files(tmp_path / cifar.FOLDER)
    (tmp_path / cifar.FOLDER / "test_batch").write_bytes(pickle.dumps(entry, protocol=2))
    with pytest.raises(DataError, match=r"test_batch " + message):
        load(_cifar(tmp_path))


def test_cifar_trains_headless_with_a_test_accuracy(tmp_path, one_torch_thread):
    cifar_files(tmp_path / cifar.FOLDER, per_batch=4)
    project = _image_project({"dataset": "cifar10", "params": {"root": str(tmp_path), "val_fraction": 0.2}},
                             (3, 32, 32), 10)
    trainer = Trainer(project)
    end = trainer.run()
    assert end.status == "finished", end.reason
    assert end.test_accuracy is not None and len(trainer.dataset.x_train) == 16


def test_an_image_claiming_gigapixels_is_refused_without_decoding_it(tmp_path, digits):
    import struct
    import zlib

    digit_folder(tmp_path / "d", digits, {"zero": 2, "one": 2})

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 30_000, 30_000, 8, 0, 0, 0, 0)   # 900 megapixels of grey
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    (tmp_path / "d" / "one" / "bomb.png").write_bytes(bomb)
    with pytest.raises(DataError, match=r"bomb\.png cannot be read as an image \(.*decompression bomb"):
        load(folder(tmp_path / "d"))


def test_images_of_every_mode_and_size_become_one_mode_and_size(tmp_path, digits):
    root = tmp_path / "d"
    digit_folder(root, digits, {"zero": 1, "one": 1})
    digit = Image.fromarray(digits[0][0].numpy())
    digit.convert("RGBA").save(root / "zero" / "rgba.png")
    digit.convert("P").save(root / "zero" / "palette.png")
    digit.resize((40, 20)).convert("RGB").save(root / "one" / "wide.jpg")
    Image.fromarray((digits[0][1].numpy().astype("uint16") * 257)).save(root / "one" / "deep.png")   # 16-bit
    for channels in (1, 3):
        ds = load(folder(root, channels=channels, size=16, val_fraction=0.0))
        assert ds.x_train.shape == (6, channels, 16, 16) and torch.isfinite(ds.x_train).all()
    grey = load(folder(root, channels=1, size=28, normalize="none", val_fraction=0.0))
    pixels = (grey.x_train * 255).round().to(torch.uint8)[:, 0]
    assert torch.equal(pixels[4], digits[0][0]) and torch.equal(pixels[5], digits[0][0])   # palette, RGBA
    assert torch.equal(pixels[1], digits[0][1])   # 16 bits scaled to 8, not clipped to white
