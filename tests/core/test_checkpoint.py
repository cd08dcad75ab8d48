"""Checkpoints and weights: round trips, plain-PyTorch compatibility, safe loading, clear errors."""

from __future__ import annotations

import os
import random

import pytest
import safetensors.torch
import torch
from torch import nn

from playground.core import checkpoint as ckpt
from playground.core.checkpoint import (
    Checkpoint,
    apply_state_dict,
    describe_file,
    load_checkpoint,
    load_state_dict,
    save_checkpoint,
    save_weights,
)
from playground.core.errors import CheckpointError
from playground.core.files import FileWriteError
from playground.core.shapes import build_network
from playground.core.spec import LayerSpec, NetworkSpec, Project
from tests.payloads import SystemOnLoad, TouchOnLoad


def small_project() -> Project:
    return Project(
        network=NetworkSpec(
            [2],
            [LayerSpec("Linear", {"out_features": 8}), LayerSpec("ReLU"), LayerSpec("Linear", {"out_features": 2})],
        ),
        name="xor",
    )


def lenet(hidden: int = 50) -> NetworkSpec:
    return NetworkSpec(
        [1, 28, 28],
        [
            LayerSpec("Conv2d", {"out_channels": 10, "kernel_size": 5}),
            LayerSpec("MaxPool2d", {"kernel_size": 2}),
            LayerSpec("ReLU"),
            LayerSpec("Conv2d", {"out_channels": 20, "kernel_size": 5}),
            LayerSpec("MaxPool2d", {"kernel_size": 2}),
            LayerSpec("ReLU"),
            LayerSpec("Flatten"),
            LayerSpec("Linear", {"out_features": hidden}),
            LayerSpec("ReLU"),
            LayerSpec("Linear", {"out_features": 10}),
        ],
    )


def trained(project: Project):
    """A model, an Adam optimizer and a StepLR scheduler after a few real steps."""
    torch.manual_seed(0)
    model = build_network(project.network)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    x, y = torch.randn(16, 2), torch.randint(0, 2, (16,))
    for _ in range(3):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        scheduler.step()
    return model, optimizer, scheduler


HISTORY = {
    "status": "finished",
    "reason": "all epochs done",
    "epochs": [{"epoch": 1, "train_loss": 0.7, "val_loss": 0.69, "val_accuracy": 0.5}],
    "test_accuracy": None,
    "steps": [[1, 0.71], [2, 0.70], [3, 0.69]],
}


@pytest.fixture
def saved(tmp_path):
    project = small_project()
    model, optimizer, scheduler = trained(project)
    path = tmp_path / "run.ckpt"
    save_checkpoint(
        Checkpoint(project, model.state_dict(), optimizer.state_dict(), scheduler.state_dict(), 3, HISTORY), path
    )
    return path, model, optimizer, scheduler


def same_state(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same_state(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_state(x, y) for x, y in zip(a, b))
    return a == b


# --- round trips --------------------------------------------------------------------------------


def test_checkpoint_round_trip_restores_model_optimizer_scheduler_and_history(saved):
    path, model, optimizer, scheduler = saved
    loaded = load_checkpoint(path)

    assert loaded.project.to_dict() == small_project().to_dict()
    assert loaded.epoch == 3
    assert loaded.history == HISTORY

    torch.manual_seed(123)                       # different initial weights, overwritten by the file
    rebuilt = build_network(loaded.project.network)
    apply_state_dict(rebuilt, loaded.model, loaded.project.network)
    x = torch.randn(5, 2)
    assert torch.equal(rebuilt(x), model(x))

    new_optimizer = torch.optim.Adam(rebuilt.parameters(), lr=0.01)
    new_optimizer.load_state_dict(loaded.optimizer)
    assert same_state(new_optimizer.state_dict(), optimizer.state_dict())
    new_scheduler = torch.optim.lr_scheduler.StepLR(new_optimizer, step_size=2, gamma=0.5)
    new_scheduler.load_state_dict(loaded.scheduler)
    assert new_scheduler.state_dict() == scheduler.state_dict()


def test_checkpoint_opens_with_plain_torch_load_weights_only(saved):
    path, model, _, _ = saved
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "playground-checkpoint" and raw["version"] == 1
    assert same_state(raw["model"], model.state_dict())
    assert describe_file(path) == "checkpoint"


def test_exported_state_dict_loads_into_a_hand_written_sequential(tmp_path):
    model, _, _ = trained(small_project())
    path = tmp_path / "weights.pt"
    save_weights(model.state_dict(), path)

    by_hand = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
    by_hand.load_state_dict(torch.load(path))
    x = torch.randn(4, 2)
    assert torch.equal(by_hand(x), model(x))
    assert describe_file(path) == "state_dict"


def test_safetensors_round_trip(tmp_path):
    model, _, _ = trained(small_project())
    path = tmp_path / "weights.safetensors"
    save_weights(model.state_dict(), path, format="safetensors")

    assert same_state(safetensors.torch.load_file(path), model.state_dict())
    assert same_state(load_state_dict(path), model.state_dict())
    assert describe_file(path) == "safetensors"


def test_safetensors_is_detected_by_content_and_tied_weights_are_saved(tmp_path):
    shared = torch.randn(3, 3)
    path = tmp_path / "tied.bin"                 # no telling extension
    save_weights({"a": shared, "b": shared, "c": shared.t()}, path, format="safetensors")
    state = load_state_dict(path)
    assert torch.equal(state["a"], shared) and torch.equal(state["c"], shared.t())


def test_load_state_dict_reads_all_three_kinds(saved, tmp_path):
    path, model, _, _ = saved
    expected = model.state_dict()
    save_weights(expected, tmp_path / "w.pth")
    save_weights(expected, tmp_path / "w.safetensors", format="safetensors")
    for source in (path, tmp_path / "w.pth", tmp_path / "w.safetensors"):
        assert same_state(load_state_dict(source), expected), source


def test_project_file_is_described_and_refused_as_weights(tmp_path):
    path = tmp_path / "project.json"
    small_project().save(path)
    assert describe_file(path) == "project"
    with pytest.raises(CheckpointError, match="this is a project file, not weights") as e:
        load_state_dict(path)
    assert str(path) in str(e.value)
    with pytest.raises(CheckpointError, match="this is a project file"):
        load_checkpoint(path)


def test_plain_weights_are_not_a_checkpoint(tmp_path):
    path = tmp_path / "w.pt"
    save_weights(nn.Linear(2, 2).state_dict(), path)
    with pytest.raises(CheckpointError, match="not a Playground checkpoint"):
        load_checkpoint(path)


# --- files that must never run code -------------------------------------------------------------


@pytest.mark.parametrize("payload", [TouchOnLoad, SystemOnLoad])
@pytest.mark.parametrize("writer", ["torch", "pickle"])
def test_pickled_code_is_refused_and_never_runs(tmp_path, payload, writer):
    import pickle

    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    if writer == "torch":
        torch.save({"0.weight": payload(marker)}, path)
    else:
        path.write_bytes(pickle.dumps({"0.weight": payload(marker)}))   # protocol 4+, not torch's own
    for load in (load_checkpoint, load_state_dict, describe_file):
        with pytest.raises(CheckpointError, match="refused: it contains pickled Python code") as e:
            load(path)
        assert str(path) in str(e.value) and "state_dict()" in str(e.value)
        assert "Traceback" not in str(e.value)
    if payload is SystemOnLoad:
        assert "system" in str(e.value)
    assert not marker.exists()


def test_whole_model_pickle_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(nn.Sequential(nn.Linear(2, 2)), path)
    with pytest.raises(CheckpointError, match=r"pickled Python code \(it names torch\.nn\..*Sequential\)"):
        load_state_dict(path)
    with pytest.raises(CheckpointError, match="pickled Python code"):
        load_checkpoint(path)


# --- unreadable files ---------------------------------------------------------------------------


def test_empty_file(tmp_path):
    path = tmp_path / "empty.pt"
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"is empty \(0 bytes\)") as e:
        load_state_dict(path)
    assert str(path) in str(e.value)


def test_truncated_checkpoint(saved):
    path = saved[0]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    for load in (load_checkpoint, load_state_dict):
        with pytest.raises(CheckpointError, match="is not a PyTorch weights file, or it is truncated") as e:
            load(path)
        assert str(path) in str(e.value)


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.pt"
    path.write_bytes(random.Random(0).randbytes(4096))
    with pytest.raises(CheckpointError, match="is not a PyTorch weights file, or it is truncated"):
        load_state_dict(path)
    with pytest.raises(CheckpointError, match="is not a PyTorch weights file"):
        describe_file(path)


def test_folder_and_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="is a folder"):
        load_state_dict(tmp_path)
    missing = tmp_path / "nope.pt"
    with pytest.raises(CheckpointError, match="no such file") as e:
        load_checkpoint(missing)
    assert str(missing) in str(e.value)


def test_not_a_dict_of_tensors(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([torch.zeros(2)], path)
    with pytest.raises(CheckpointError, match="a list, not a dict of tensors"):
        load_state_dict(path)
    torch.save({"model_state_dict": {"w": torch.zeros(2)}, "epoch": 3}, path)
    with pytest.raises(CheckpointError, match="not a tensor.*'model_state_dict'"):
        load_state_dict(path)


def test_corrupt_safetensors_header(tmp_path):
    path = tmp_path / "w.safetensors"
    save_weights({"w": torch.zeros(2, 2)}, path, format="safetensors")
    data = bytearray(path.read_bytes())
    data[9:14] = b"!!!!!"                        # keeps the length and the '{', breaks the JSON
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="safetensors file, but it is damaged") as e:
        load_state_dict(path)
    assert str(path) in str(e.value)
    path.write_bytes(b"\xff" * 8 + bytes(data[8:]))   # a header length beyond the file
    with pytest.raises(CheckpointError, match="not a valid safetensors file"):
        load_state_dict(path)


def test_newer_checkpoint_version_asks_for_an_update(saved):
    path = saved[0]
    raw = torch.load(path, weights_only=True)
    raw["version"] = ckpt.VERSION + 1
    torch.save(raw, path)
    with pytest.raises(CheckpointError, match="update Playground"):
        load_checkpoint(path)


def test_other_format_is_refused(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"format": "someone-else", "version": 1}, path)
    with pytest.raises(CheckpointError, match="not a Playground checkpoint"):
        load_checkpoint(path)


# --- fitting weights to a network ---------------------------------------------------------------


def test_shape_mismatch_names_layers_and_changes_nothing(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "lenet.pt"
    save_weights(build_network(lenet()).state_dict(), path)
    wider = lenet(hidden=60)
    model = build_network(wider)
    before = {k: v.clone() for k, v in model.state_dict().items()}

    with pytest.raises(CheckpointError) as e:
        apply_state_dict(model, load_state_dict(path), wider, source=path)
    message = str(e.value)
    assert str(path) in message
    assert "layer 7 Linear: weight is (50, 320) in the file but (60, 320) in this network" in message
    assert "layer 7 Linear: bias is (50,) in the file but (60,) in this network" in message
    assert "layer 9 Linear: weight is (10, 50) in the file but (10, 60) in this network" in message
    assert "layer 0" not in message
    assert same_state(model.state_dict(), before)


def test_missing_and_unexpected_keys():
    model = build_network(small_project().network)
    state = model.state_dict()
    del state["2.weight"], state["2.bias"]
    state["5.weight"] = torch.zeros(1)
    state["foo.bar"] = torch.zeros(1)
    with pytest.raises(CheckpointError) as e:
        apply_state_dict(model, state, small_project().network)
    message = str(e.value)
    assert "layer 2 Linear: weight, bias missing from the file" in message
    assert "the file has weights for layer 5, which this network does not have" in message
    assert "unexpected key 'foo.bar'" in message


def test_class_names_are_used_without_a_spec_and_prefixes_are_explained():
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
    state = {"module." + k: v for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointError) as e:
        apply_state_dict(model, state)
    assert "layer 0 Linear: weight, bias missing from the file" in str(e.value)
    assert "every key starts with 'module.'" in str(e.value)


def test_integer_safetensors_are_refused_by_dtype(tmp_path):
    model = build_network(small_project().network)
    ints = {k: torch.ones_like(v, dtype=torch.int32) for k, v in model.state_dict().items()}
    path = tmp_path / "ints.safetensors"
    save_weights(ints, path, format="safetensors")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointError, match="layer 0 Linear: weight is int32 in the file but float32"):
        apply_state_dict(model, load_state_dict(path), small_project().network)
    assert same_state(model.state_dict(), before)


def test_checkpoint_keeps_only_plain_types_and_refuses_objects_it_could_not_reload(tmp_path):
    import collections

    history = collections.defaultdict(list, {"status": "stopped", "done": True, "steps": [(1, 0.5)]})
    path = tmp_path / "run.ckpt"
    weights = build_network(small_project().network).state_dict()   # a checkpoint's weights fit its project
    save_checkpoint(Checkpoint(small_project(), weights, history=history), path)
    assert load_checkpoint(path).history == {"status": "stopped", "done": True, "steps": [(1, 0.5)]}
    assert load_checkpoint(path).history["done"] is True

    with pytest.raises(CheckpointError, match=r"the history\['when'\] is an object"):
        save_checkpoint(Checkpoint(small_project(), weights, history={"when": object()}), path)
    assert load_checkpoint(path).history["status"] == "stopped"    # the earlier file is untouched


# --- writing ------------------------------------------------------------------------------------


def test_failed_save_keeps_the_previous_file_and_leaves_no_temp_files(saved, monkeypatch):
    path = saved[0]
    original = path.read_bytes()

    def half_then_fail(obj, f, *args, **kwargs):
        f.write(original[: len(original) // 2])
        raise RuntimeError("disk went away")

    monkeypatch.setattr(torch, "save", half_then_fail)
    with pytest.raises(RuntimeError, match="disk went away"):
        save_weights({"w": torch.zeros(2)}, path)
    assert path.read_bytes() == original
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_saving_into_a_missing_folder_raises_file_write_error(tmp_path):
    with pytest.raises(FileWriteError, match="does not exist"):
        save_weights({"w": torch.zeros(2)}, tmp_path / "nope" / "w.pt")


def test_saving_into_a_read_only_folder_raises_file_write_error(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running with permissions that ignore chmod (root)")
        with pytest.raises(FileWriteError, match="no permission"):
            save_weights({"w": torch.zeros(2)}, folder / "w.pt", format="safetensors")
    finally:
        folder.chmod(0o700)


def test_unknown_weights_format_is_a_programming_error(tmp_path):
    with pytest.raises(ValueError, match="safetensors"):
        save_weights({"w": torch.zeros(2)}, tmp_path / "w.onnx", format="onnx")
