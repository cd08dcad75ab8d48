"""Saving where it cannot be done, or cannot be finished: a plain message, the previous file
byte for byte, no half-written file and no temporary file left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from playground.core.shapes import build_network
from playground.ui.session import TrainedWeights

from .conftest import snapshot

REPO = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.fixture
def with_weights(window):
    torch.manual_seed(0)
    state = build_network(window.document.network).state_dict()
    window.session.set_weights(TrainedWeights.bare(window.document.project, state))
    return window


def _edit(window):
    window.document.set_training("batch_size", 7)  # an unsaved change the failed save must not lose


# each File action, called as its dialog would call it, and the title of the message it shows
ACTIONS = {
    "Save": (lambda w, path: w.files._save_to(path), "Cannot save", "p.json"),
    "Export weights": (lambda w, path: w.files.export_weights_to(path), "Cannot export weights", "w.pt"),
    "Export safetensors": (lambda w, path: w.files.export_weights_to(path, "safetensors"),
                           "Cannot export weights", "w.safetensors"),
    "Save checkpoint": (lambda w, path: w.files.save_checkpoint_to(path), "Cannot save checkpoint", "c.pt"),
}


def _existing(work, name):
    """The user's previous file under that name, which a failed save must leave byte for byte."""
    path = work / name
    path.write_bytes(b"the previous version of " + name.encode() + b"\n" + os.urandom(64))
    return path


FULL = "the disk is full (the previous file, if any, is unchanged)"
FAULTS = {
    "an unwritable folder": "no permission to write in that folder",
    "a disk full at a write": FULL,
    "a disk full at the flush": FULL,
}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("action", ACTIONS)
def test_a_save_that_cannot_be_done(with_weights, dialogs, work, request, action, fault):
    run, title, name = ACTIONS[action]
    path = _existing(work, name)
    before = snapshot(work)
    _edit(with_weights)
    if fault == "an unwritable folder":
        request.getfixturevalue("unwritable")(work)
    else:
        request.getfixturevalue("full_disk")("write" if "write" in fault else "fsync")
    assert run(with_weights, path) is False
    kind, shown_title, text = dialogs[-1]
    assert (kind, shown_title) == ("warning", title)
    assert f"cannot save {path}: {FAULTS[fault]}" in text
    work.chmod(0o755)
    assert snapshot(work) == before  # the previous file byte for byte, no temporary file left
    assert not with_weights.document.is_clean and with_weights.document.project.training.batch_size == 7


def test_headless_training_into_an_unwritable_folder_fails_before_training(cli, work, examples, unwritable,
                                                                           tmp_path):
    project = tmp_path / "xor.json"
    project.write_bytes((examples / "xor.json").read_bytes())
    out = work / "out"
    out.mkdir()
    unwritable(out)
    if not os.access(out, os.W_OK):  # permissions bind: the command's own check answers
        code, _, err = cli("train", project, "--out", out / "c.pt", "--metrics", out / "m.json")
        assert code == 1 and f"no permission to write in {out}" in err
    else:  # root: the write itself is refused, after training, and said as plainly
        code, _, err = cli("train", project, "--epochs", "1", "--out", out / "c.pt", "--metrics", out / "m.json")
        assert code == 1 and f"cannot save {out / 'c.pt'}: no permission to write in that folder" in err
    out.chmod(0o755)
    assert snapshot(out) == {}


@pytest.mark.parametrize("at", ["write", "fsync"])
def test_headless_training_on_a_full_disk_keeps_the_previous_checkpoint(cli, work, examples, full_disk, tmp_path,
                                                                         at):
    project = tmp_path / "xor.json"
    project.write_bytes((examples / "xor.json").read_bytes())
    previous = _existing(work, "c.pt")
    before = snapshot(work)
    full_disk(at)
    code, _, err = cli("train", project, "--epochs", "1", "--out", previous, "--metrics", work / "m.json")
    assert code == 1 and "the disk is full (the previous file, if any, is unchanged)" in err
    assert snapshot(work) == before


CRASHER = textwrap.dedent("""
    import os, signal, sys
    from playground.core.files import atomic_write
    from playground.core.spec import Project

    project = Project.load(sys.argv[1])
    project.name = "the new version"
    data = project.to_json().encode()

    def write_half_then_die(f):
        f.write(data[: len(data) // 2])
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)   # the power goes, mid-write

    atomic_write(sys.argv[2], write_half_then_die)
""")


def test_a_crash_in_the_middle_of_a_write_leaves_the_previous_file_byte_for_byte(work, examples):
    """A real process, killed while it writes the project over the old one."""
    target = work / "project.json"
    target.write_bytes((examples / "spiral.json").read_bytes())
    before = target.read_bytes()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-c", CRASHER, str(examples / "xor.json"), str(target)],
                            env=env, capture_output=True, timeout=120)
    assert result.returncode == -signal.SIGKILL, result.stderr.decode()
    assert target.read_bytes() == before
    leftovers = [p.name for p in work.iterdir() if p != target]
    # the half-written data only ever lived in a hidden temporary file beside it, never in the target
    assert all(name.startswith(".project.json.") and name.endswith(".tmp") for name in leftovers), leftovers


def test_the_next_save_sweeps_what_a_crashed_write_left(window, work, examples):
    target = work / "project.json"
    target.write_bytes((examples / "spiral.json").read_bytes())
    env = dict(os.environ, PYTHONPATH=str(REPO))
    subprocess.run([sys.executable, "-c", CRASHER, str(examples / "xor.json"), str(target)],
                   env=env, capture_output=True, timeout=120)
    stale = [p for p in work.iterdir() if p.name.endswith(".tmp")]
    assert stale
    old = os.path.getmtime(stale[0]) - 3600
    for p in stale:
        os.utime(p, (old, old))  # an hour ago: no writer is still busy with it
    assert window.files._save_to(target)
    assert sorted(p.name for p in work.iterdir()) == ["project.json"]
