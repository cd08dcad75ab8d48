"""Outputs that would replace an input, a read-only file or a folder, and names near the file
system's limit: refused before any training, in the commands and the window, nothing changed."""

from __future__ import annotations

import pytest
import torch

from playground.core.checkpoint import load_checkpoint
from playground.core.shapes import build_network
from playground.ui.session import TrainedWeights

from .conftest import snapshot


@pytest.fixture
def files(cli, work, examples):
    """The user's project and a real checkpoint of it (one epoch of XOR)."""
    project = work / "p.json"
    project.write_bytes((examples / "xor.json").read_bytes())
    code, _, err = cli("train", project, "--epochs", "1", "--out", work / "c.pt", "--metrics", work / "m.json",
                       "--quiet")
    assert code == 0, err
    return project, work / "c.pt"


def _refused(cli, work, args, expected):
    before = snapshot(work)
    code, out, err = cli(*args)
    assert code == 1 and expected in err and "Traceback" not in out + err, err
    assert "epoch 1" not in err          # refused before training, not after the whole run
    assert snapshot(work) == before      # every file byte for byte, no temporary file
    return err


TRAIN_OVER_INPUTS = {
    "--out the project": (lambda p, c, w: ["--out", p], "cannot save {p}: it is the project, which this command reads"),
    "--metrics the project": (lambda p, c, w: ["--metrics", p, "--out", w / "n.pt"],
                              "cannot save {p}: it is the project, which this command reads — writing --metrics"),
    "--out and --metrics the same": (lambda p, c, w: ["--out", w / "x.pt", "--metrics", w / "x.pt"],
                                     "--out and --metrics both name"),
    "--out the checkpoint resumed": (lambda p, c, w: ["--resume", c, "--out", c],
                                     "it is the checkpoint to resume from, which this command reads"),
    "--out a link to the project": (lambda p, c, w: ["--out", _link(w / "link.json", p)],
                                    "it is the project, which this command reads"),
}


def _link(link, target):
    link.symlink_to(target.name)
    return link


@pytest.mark.parametrize("case", TRAIN_OVER_INPUTS)
def test_train_never_writes_over_what_it_reads(cli, work, files, case):
    project, ckpt = files
    extra, expected = TRAIN_OVER_INPUTS[case]
    args = extra(project, ckpt, work)
    if "--metrics" not in args:
        args += ["--metrics", work / "n.json"]
    if "--out" not in args:
        args += ["--out", work / "n.pt"]
    _refused(cli, work, ["train", project, "--epochs", "1", *args], expected.format(p=project))


@pytest.mark.parametrize("fmt", ["state_dict", "safetensors", "python", "pt2"])
def test_export_never_writes_over_the_checkpoint_it_reads(cli, work, files, fmt):
    _, ckpt = files
    _refused(cli, work, ["export", ckpt, "--format", fmt, "--out", ckpt],
             f"cannot save {ckpt}: it is the file being exported, which this command reads")
    assert load_checkpoint(ckpt).epoch == 1


def test_a_read_only_file_is_never_replaced(qtbot, window, dialogs, cli, work, files):
    """chmod 444 is the user saying 'do not write this'; the shell refuses it even where the folder
    is writable (and root's writes ignore the bits: the check reads them, not only access())."""
    project, ckpt = files
    for path in (ckpt, work / "m.json", project):
        path.chmod(0o444)
    expected = "the file is read-only — make it writable (chmod u+w) or choose another name"
    _refused(cli, work, ["train", project, "--out", ckpt, "--metrics", work / "m2.json"], expected)
    _refused(cli, work, ["train", project, "--out", work / "c2.pt", "--metrics", work / "m.json"], expected)
    _refused(cli, work, ["export", ckpt, "--out", project], expected)

    before = snapshot(work)
    assert window.files.open_path(project)
    window.document.set_training("batch_size", 7)
    assert window.files.save() is False                      # File > Save onto the read-only project
    assert dialogs[-1][:2] == ("warning", "Cannot save") and expected in dialogs[-1][2]
    assert not window.document.is_clean                     # the edit is still there, unsaved
    torch.manual_seed(0)
    window.session.set_weights(TrainedWeights.bare(window.document.project,
                                                   build_network(window.document.network).state_dict()))
    assert window.files.export_weights_to(ckpt) is False
    assert expected in dialogs[-1][2]
    assert snapshot(work) == before


def test_an_output_that_is_a_folder_or_a_name_too_long_is_refused_before_training(cli, work, files):
    project, _ = files
    (work / "out").mkdir()
    _refused(cli, work, ["train", project, "--out", work / "out", "--metrics", work / "n.json"],
             f"cannot save {work / 'out'}: it is a folder — name a file inside it")
    _refused(cli, work, ["train", project, "--out", work / "n.pt", "--metrics", work / "out"], "it is a folder")
    long = work / ("a" * 253 + ".pt")
    _refused(cli, work, ["train", project, "--out", long, "--metrics", work / "n.json"],
             "its name is 256 bytes long, and this file system allows at most 255")
    _refused(cli, work, ["export", files[1], "--out", long], "its name is 256 bytes long")


def test_valid_names_up_to_the_limit_save(qtbot, window, dialogs, cli, work, files, monkeypatch):
    """A 255-byte name is valid; the hidden temporary name beside it must not grow past the limit."""
    from PySide6.QtWidgets import QFileDialog

    project, _ = files
    out, metrics = work / ("c" * 252 + ".pt"), work / ("é" * 124 + ".json")    # 255 and 253 bytes
    code, _, err = cli("train", project, "--epochs", "1", "--out", out, "--metrics", metrics, "--quiet")
    assert code == 0, err
    assert load_checkpoint(out).epoch == 1
    name = work / ("p" * 250 + ".json")                                        # Save As in the window
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(name), ""))
    assert window.files.save_as() and name.is_file() and window.document.is_clean
    assert not [p for p in work.iterdir() if p.name.endswith(".tmp")]
