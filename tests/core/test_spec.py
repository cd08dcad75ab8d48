"""Project files: the JSON skeleton, round trips, atomic saves and messages for bad input."""

import json
import os

import pytest

from playground.core.errors import ProjectError
from playground.core.files import FileWriteError, atomic_write
from playground.core.spec import FORMAT, VERSION, ComponentSpec, DataSpec, LayerSpec, NetworkSpec, Project
from playground.core.validation import validate_project

SKELETON = {
    "format": "playground-project",
    "version": 1,
    "network": {
        "input_shape": [1, 28, 28],
        "layers": [
            {"type": "Conv2d", "params": {"out_channels": 10, "kernel_size": 5}},
            {"type": "Flatten", "params": {}},
            {"type": "Linear", "params": {"out_features": 10}},
        ],
    },
    "data": {"dataset": "mnist", "params": {"normalize": "0.5"}},
    "training": {
        "loss": {"type": "CrossEntropyLoss", "params": {}},
        "optimizer": {"type": "SGD", "params": {"lr": 0.01, "momentum": 0.9}},
        "batch_size": 64,
        "epochs": 5,
        "device": "cpu",
        "seed": 0,
    },
}


def test_issue_skeleton_parses_and_keeps_its_keys():
    project = Project.from_dict(SKELETON)
    validate_project(project)
    assert project.network.layers[0] == LayerSpec("Conv2d", {"out_channels": 10, "kernel_size": 5})
    assert project.training.optimizer == ComponentSpec("SGD", {"lr": 0.01, "momentum": 0.9})
    out = project.to_dict()
    for key in ("format", "version", "network", "data", "training"):
        assert key in out
    assert out["network"] == SKELETON["network"]
    assert out["data"] == SKELETON["data"]
    for key, value in SKELETON["training"].items():
        assert out["training"][key] == value


def test_round_trip_through_a_file(tmp_path):
    project = Project.from_dict(SKELETON)
    project.name = "LeNet-ish"
    project.training.grad_clip = 1.0
    project.training.early_stopping = 3
    project.training.scheduler = ComponentSpec("StepLR", {"step_size": 2})
    path = tmp_path / "p.json"
    project.save(path)
    again = Project.load(path)
    assert again == project
    assert json.loads(path.read_text())["format"] == FORMAT


def test_examples_are_valid(examples):
    files = sorted(examples.glob("*.json"))
    assert len(files) >= 5
    for path in files:
        validate_project(Project.load(path))


def test_save_is_atomic_when_the_write_fails(tmp_path, monkeypatch):
    path = tmp_path / "p.json"
    Project(NetworkSpec([2])).save(path)
    before = path.read_bytes()

    def half_then_crash(f):
        f.write(b'{"format": "playground-pro')
        raise OSError(28, "No space left on device")

    with pytest.raises(FileWriteError, match="disk is full"):
        atomic_write(path, half_then_crash)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["p.json"]


def test_save_into_a_missing_folder_says_so(tmp_path):
    with pytest.raises(FileWriteError, match="does not exist"):
        Project(NetworkSpec([2])).save(tmp_path / "nope" / "p.json")


def with_(path, value):
    """SKELETON with one key (dotted path) replaced, or removed when value is ..."""
    raw = json.loads(json.dumps(SKELETON))
    *parents, last = path.split(".")
    node = raw
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    if value is ...:
        del node[last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return raw


@pytest.mark.parametrize("raw, message", [
    ([1, 2], "the project must be a JSON object"),
    ({"hello": 1}, 'not a Playground project: the "format" key is missing'),
    (with_("format", "keras"), "not a Playground project: format is 'keras'"),
    (with_("version", 7), "written by a newer Playground (format version 7)"),
    (with_("network", ...), "the project: the key 'network' is missing"),
    (with_("network.input_shape", []), "network.input_shape must list at least one size"),
    (with_("network.input_shape", [1, 0, 28]), "network.input_shape[1] must be at least 1, not 0"),
    (with_("network.layers", {"a": 1}), "network.layers must be a list"),
    (with_("network.layers.0", {"params": {}}), "network.layers[0]: the key 'type' is missing"),
    (with_("network.layers.0.params", [5]), "network.layers[0].params must be an object"),
    (with_("training.batch_size", 0), "training.batch_size must be at least 1, not 0"),
    (with_("training.epochs", "five"), 'training.epochs must be a whole number, not "five"'),
    (with_("training.grad_clip", -1), "training.grad_clip must be a positive number or null"),
    (with_("training.loss", "mse"), "training.loss must be an object"),
])
def test_bad_structure_is_named(raw, message):
    with pytest.raises(ProjectError) as e:
        Project.from_dict(raw)
    assert message in str(e.value)


@pytest.mark.parametrize("raw, message", [
    (with_("network.layers.1.type", "Flaten"), "layer 1 Flaten: unknown layer type — did you mean Flatten?"),
    (with_("network.layers.0.params.kernel_size", 0), "layer 0 Conv2d: kernel_size must be at least 1, not 0"),
    (with_("network.layers.0.params.kernel_size", [5]), "kernel_size must be one integer or a list of 2"),
    (with_("data.dataset", "cifar"), "data.dataset: unknown dataset 'cifar'"),
    (with_("data.params.normalize", "z"), "data.params.normalize must be one of"),
    (with_("training.loss.type", "CrossEntropy"), "training.loss.type: unknown loss 'CrossEntropy' — did you mean CrossEntropyLoss?"),
    (with_("training.optimizer.type", "Adamm"), "training.optimizer.type: unknown optimizer 'Adamm' — did you mean Adam?"),
    (with_("training.optimizer.params.lr", -1), "training.optimizer.params.lr must be at least 1e-08, not -1"),
    (with_("training.optimizer.params.momentum", "lots"), "training.optimizer.params.momentum must be a number, not 'lots'"),
    (with_("training.optimizer.params.beta", 0.9), "training.optimizer.params: unknown parameter 'beta' (known: lr, momentum"),
    (with_("training.loss.params.label_smoothing", 2), "label_smoothing must be at most 1, not 2"),
])
def test_bad_names_and_values_are_named(raw, message):
    project = Project.from_dict(raw)
    with pytest.raises(ProjectError) as e:
        validate_project(project)
    assert message in str(e.value)


def test_scheduler_is_validated():
    project = Project.from_dict(SKELETON)
    project.training.scheduler = ComponentSpec("StepLR", {"gamma": 3})
    with pytest.raises(ProjectError, match="training.scheduler.params.gamma must be at most 1"):
        validate_project(project)


@pytest.mark.parametrize("content, message", [
    (b"", "not valid JSON"),
    (b"{not json", "not valid JSON (Expecting property name enclosed in double quotes at line 1, column 2)"),
    (b"\xff\xfe\x00garbage", "not a project file: it is not text"),
])
def test_unreadable_files(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ProjectError) as e:
        Project.load(path)
    assert str(e.value).startswith(str(path))
    assert message in str(e.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ProjectError, match="no such file"):
        Project.load(tmp_path / "missing.json")
    with pytest.raises(ProjectError, match="is a folder"):
        Project.load(tmp_path)


def test_defaults_make_a_trainable_project():
    project = Project(NetworkSpec([2], [LayerSpec("Linear", {"out_features": 2})]), DataSpec("xor"))
    validate_project(project)
    assert project.to_dict()["version"] == 1  # no layer names: older Playgrounds still open it


def test_layer_names_are_saved_with_version_2_and_old_projects_still_load():
    project = Project(NetworkSpec([4], [LayerSpec("Linear", {"out_features": 2}, "fc1"), LayerSpec("ReLU")]))
    raw = project.to_dict()
    assert raw["version"] == 2 and VERSION == 3
    assert raw["network"]["layers"] == [{"type": "Linear", "params": {"out_features": 2}, "name": "fc1"},
                                        {"type": "ReLU", "params": {}}]
    assert Project.from_json(project.to_json()) == project
    raw["network"]["layers"][0]["name"] = "fc1..weight"
    with pytest.raises(ProjectError, match=r"network.layers\[0\].name must be a module path"):
        Project.from_dict(raw)
