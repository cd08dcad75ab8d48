"""Data that is missing, damaged, tiny or split oddly: through the window's Start and `playground train`."""

from __future__ import annotations

import gzip
import struct

import pytest
from PySide6.QtWidgets import QPushButton
import torch

from playground.core import data
from playground.core.spec import Project

from .conftest import project_dict, snapshot, write_json

RUN_TIMEOUT = 60_000


@pytest.fixture(autouse=True)
def _fresh_cache():
    data._CACHE.clear()
    yield
    data._CACHE.clear()


def idx(array: torch.Tensor) -> bytes:
    return bytes([0, 0, 8, array.dim()]) + struct.pack(f">{array.dim()}I", *array.shape) + array.numpy().tobytes()


def write_mnist(folder, n_train=40, n_test=10):
    """Small, valid MNIST-format files (the real ones are 11 MB)."""
    folder.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(0)
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = torch.randint(0, 256, (n, 28, 28), generator=gen, dtype=torch.uint8)
        labels = torch.arange(n, dtype=torch.uint8) % 10
        for kind, t in (("images-idx3", images), ("labels-idx1", labels)):
            (folder / f"{split}-{kind}-ubyte.gz").write_bytes(gzip.compress(idx(t), mtime=0))
    return folder


def mnist_project(examples, root, **params) -> Project:
    raw = project_dict(examples, "mnist_mlp.json")
    raw["data"]["params"].update({"root": str(root), "download": False, **params})
    raw["training"]["epochs"] = 1
    return Project.from_dict(raw)


def start_in_window(qtbot, window, project):
    window.document.open(project, None)
    with qtbot.waitSignal(window.session.run_finished, timeout=RUN_TIMEOUT) as blocker:
        window.session.start()
    return blocker.args[1]


def train_headless(cli, work, project):
    path = work / "p.json"
    project.save(path)
    return cli("train", path, "--out", work / "c.pt", "--metrics", work / "m.json")


def check_failure_everywhere(qtbot, window, cli, work, project, expected):
    """The run fails with `expected` in the window (the app stays usable) and on the command line,
    and neither writes anything but the project file itself."""
    window.document.open(project, None)
    blocker = window.start_blocker()
    if blocker is not None:   # known before any data is read: Start is off and says why
        assert expected in blocker, blocker
        start = window.findChild(QPushButton, "startButton")
        assert not start.isEnabled() and blocker in start.toolTip()
        window.session.start()
        assert window.session.run is None
    else:                     # known only once the data is read: the run fails with it
        end = start_in_window(qtbot, window, project)
        assert end.status == "failed" and expected in end.reason, end.reason
        assert window.session.failure_box.text() == end.reason
        window.session.failure_box.close()
    assert not window.document.locked
    before = snapshot(work)
    code, out, err = train_headless(cli, work, project)
    assert code == 1 and expected in err and "Traceback" not in out + err
    assert set(snapshot(work)) == set(before) | {"p.json"}


def test_missing_mnist_names_the_files_and_the_folder(qtbot, window, cli, work, examples):
    root = work / "no-digits-here"
    root.mkdir()
    expected = (f"MNIST needs 4 files that are not in {root}: train-images-idx3-ubyte.gz, "
                "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz")
    check_failure_everywhere(qtbot, window, cli, work, mnist_project(examples, root), expected)


def test_missing_mnist_is_said_in_the_views_without_downloading_or_retrying(window, work, examples, monkeypatch):
    """Every image view needs the data; they share one (failed) load and never download in the GUI thread."""
    from PySide6.QtWidgets import QLabel

    root = work / "empty"
    root.mkdir()
    loads = []
    real = data.load

    def counting(spec, *args, **kwargs):
        loads.append(spec.params.get("download"))
        return real(spec, *args, **kwargs)

    monkeypatch.setattr(data, "load", counting)
    window.document.open(mnist_project(examples, root, download=True), None)
    assert loads == [False]
    messages = [label.text() for label in window.views.findChildren(QLabel, "viewMessage")]
    shown = [m for m in messages if "The data cannot be shown: MNIST needs 4 files" in m]
    assert len(shown) >= 3, messages
    assert all(m.endswith("or start training: download is ticked, so the run fetches them.") for m in shown)


@pytest.mark.parametrize("damage, expected", [
    (lambda p: p.write_bytes(p.read_bytes()[:200]), "is corrupt or truncated"),
    (lambda p: p.write_bytes(b"this is not gzip at all"), "is corrupt or truncated"),
    (lambda p: p.write_bytes(gzip.compress(b"\x00\x00\x08\x01" + b"\x00" * 40)), "is not an IDX image file"),
    (lambda p: p.write_bytes(gzip.compress(gzip.decompress(p.read_bytes())[:-100])),
     "is corrupt or truncated: expected 7840 bytes of image data, found 7740"),
])
def test_damaged_idx_files_are_named(qtbot, window, cli, work, examples, damage, expected):
    root = write_mnist(work / "digits")
    damaged = root / "t10k-images-idx3-ubyte.gz"
    damage(damaged)
    check_failure_everywhere(qtbot, window, cli, work, mnist_project(examples, root), expected)
    reason = window.session.failure_box.text()
    assert str(damaged) in reason and "delete it and download again" in reason


def test_an_empty_training_set_is_refused(qtbot, window, cli, work, examples):
    root = write_mnist(work / "digits", n_train=0)
    check_failure_everywhere(qtbot, window, cli, work, mnist_project(examples, root),
                             "leaves no training samples")


def test_a_one_sample_dataset_trains(qtbot, window, cli, work, examples):
    """One image is a silly dataset, not an error: it trains (and BatchNorm-free nets allow it)."""
    root = write_mnist(work / "digits")
    project = mnist_project(examples, root, train_samples=1, val_fraction=0.0)
    end = start_in_window(qtbot, window, project)
    assert end.status == "finished", end.reason
    code, out, err = train_headless(cli, work, project)
    assert code == 0, err
    assert (work / "c.pt").is_file() and (work / "m.json").is_file()


def test_batchnorm_with_one_sample_is_refused_with_the_reason(qtbot, window, cli, work, examples):
    raw = project_dict(examples)
    raw["network"]["layers"].insert(1, {"type": "BatchNorm1d", "params": {}})
    raw["data"]["params"].update(samples=4, val_fraction=0.5)  # 2 training samples
    raw["training"].update(batch_size=1, epochs=1)
    check_failure_everywhere(qtbot, window, cli, work, Project.from_dict(raw),
                             "BatchNorm cannot normalise a batch of 1 sample")


def test_a_batch_larger_than_the_dataset_is_one_batch(qtbot, window, cli, work, examples):
    raw = project_dict(examples)
    raw["training"].update(batch_size=100_000, epochs=2)
    project = Project.from_dict(raw)
    end = start_in_window(qtbot, window, project)
    assert end.status == "finished"
    history = window.session.weights.history
    assert len(history["epochs"]) == 2
    assert history["steps"][-1][0] == 2  # one batch an epoch: all 400 training samples in it
    code, _, err = train_headless(cli, work, project)
    assert code == 0, err


def test_a_batch_larger_than_the_dataset_with_drop_last_is_refused(qtbot, window, cli, work, examples):
    raw = project_dict(examples)
    raw["training"].update(batch_size=100_000, drop_last=True)
    check_failure_everywhere(qtbot, window, cli, work, Project.from_dict(raw),
                             "batch size 100000 is larger than the 400 training samples and drop_last is on")


def test_validation_fraction_zero_trains_without_validation(qtbot, window, cli, work, examples):
    raw = project_dict(examples)
    raw["data"]["params"]["val_fraction"] = 0.0
    raw["training"]["epochs"] = 2
    project = Project.from_dict(raw)
    end = start_in_window(qtbot, window, project)
    assert end.status == "finished"
    epochs = window.session.weights.history["epochs"]
    assert all(e["val_loss"] is None for e in epochs)
    code, out, err = train_headless(cli, work, project)
    assert code == 0, err


@pytest.mark.parametrize("fraction", [1, 1.0])
def test_validation_fraction_one_is_refused_when_opened(window, dialogs, cli, work, examples, fraction):
    raw = project_dict(examples)
    raw["data"]["params"]["val_fraction"] = fraction
    path = write_json(work / "p.json", raw)
    assert window.files.open_path(path) is False
    assert "data.params.val_fraction must be at most 0.9, not 1" in dialogs[-1][2]
    code, _, err = cli("train", path)
    assert code == 1 and "val_fraction must be at most 0.9" in err
    assert snapshot(work) == {"p.json": path.read_bytes()}
