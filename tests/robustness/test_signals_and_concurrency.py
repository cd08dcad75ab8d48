"""SIGTERM (kill, docker stop, Slurm preemption), two runs onto one output, two windows on one
project: the stopped run is saved, no run's files are mixed with another's, no save is silently lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from playground.core.checkpoint import load_checkpoint
from playground.core.spec import Project

from .conftest import project_dict, snapshot


def _long_project(examples, work):
    raw = project_dict(examples)
    raw["training"]["epochs"] = 100_000       # far more than a test waits for: only a signal ends it
    path = work / "long.json"
    path.write_text(json.dumps(raw))
    return path


def _leftovers(work):
    return sorted(p.name for p in work.iterdir() if p.name.endswith((".tmp", ".lock")))


def test_sigterm_stops_the_run_and_saves_it_and_a_second_run_onto_its_files_is_refused(cli, work, examples):
    project = _long_project(examples, work)
    out, metrics = work / "c.pt", work / "m.json"
    run = subprocess.Popen(
        [sys.executable, "-m", "playground", "train", str(project), "--out", str(out), "--metrics", str(metrics)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        for line in run.stderr:               # wait for the run to be training: its first epoch line
            if line.startswith("epoch 1/"):
                break
        else:
            pytest.fail("the run ended before its first epoch: " + run.stderr.read())
        # a second run onto the same checkpoint, or the same metrics, is refused before it trains
        for args in (("--out", out, "--metrics", work / "m2.json"), ("--out", work / "c2.pt", "--metrics", metrics)):
            code, _, err = cli("train", project, "--epochs", "1", *args)
            assert code == 1 and "another run is writing it now" in err and "epoch 1" not in err, err
        assert not (work / "c2.pt").exists() and not (work / "m2.json").exists()
        run.send_signal(signal.SIGTERM)
        stdout, stderr = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 130, stderr
    assert "SIGTERM: stopping at the next step" in stderr and "Traceback" not in stderr
    assert f"wrote {out} and {metrics}" in stdout
    saved = load_checkpoint(out)
    assert saved.history["status"] == "stopped" and saved.epoch >= 1
    assert json.loads(metrics.read_text())["status"] == "stopped"
    assert _leftovers(work) == []             # no temporary file, no lock file


def test_a_signal_while_the_files_are_written_waits_for_them(cli, work, examples, monkeypatch):
    """The first SIGTERM during the save lets it finish (exit 143); a second abandons it, and the
    previous files stay byte for byte with no temporary file beside them."""
    from playground.core import checkpoint

    project = work / "p.json"
    project.write_text(json.dumps(project_dict(examples)))
    real_save = checkpoint.torch.save
    signals = [1]

    def save_while_signalled(obj, f, *args, **kwargs):
        for _ in range(signals[0]):
            os.kill(os.getpid(), signal.SIGTERM)    # Python runs the handler before the next bytecode
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(checkpoint.torch, "save", save_while_signalled)
    # --no-runs: the run store writes with torch.save too (the initial weights, before the run, where a
    # SIGTERM interrupts); this test is about the checkpoint and metrics files at the end
    code, out, err = cli("train", project, "--epochs", "1", "--out", work / "c.pt", "--metrics", work / "m.json",
                         "--no-runs")
    assert code == 128 + signal.SIGTERM and "SIGTERM: finishing the files first" in err, err
    assert load_checkpoint(work / "c.pt").epoch == 1 and (work / "m.json").is_file()

    before = snapshot(work)
    signals[0] = 2
    code, out, err = cli("train", project, "--epochs", "2", "--out", work / "c.pt", "--metrics", work / "m.json",
                         "--no-runs")
    assert code == 1 and "interrupted" in err and "Traceback" not in err, err
    assert snapshot(work) == before and _leftovers(work) == []


@pytest.fixture
def second_window(qtbot, settings, examples):
    from playground.ui.main_window import MainWindow

    win = MainWindow(Project.load(examples / "xor.json"), settings=settings)
    qtbot.addWidget(win)
    yield win
    win.session.shutdown()


def test_two_windows_on_one_project_the_second_save_asks(window, second_window, dialogs, work, examples, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    path = work / "p.json"
    path.write_text(json.dumps(project_dict(examples)))
    assert window.files.open_path(path) and second_window.files.open_path(path)
    window.document.set_training("batch_size", 7)
    assert window.files.save()                           # the first window saves ...
    first = path.read_bytes()
    second_window.document.set_training("batch_size", 9)
    assert second_window.files.save() is False           # ... the second is asked, and cancels
    kind, title, text = dialogs[-1]
    assert (kind, title) == ("question", "File changed on disk") and str(path) in text
    assert path.read_bytes() == first and not second_window.document.is_clean
    assert Project.load(path).training.batch_size == 7

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Save)
    assert second_window.files.save()                    # answered "replace it": the user chose
    assert Project.load(path).training.batch_size == 9
    window.document.set_training("batch_size", 11)       # now the first window is the stale one
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Cancel)
    assert window.files.save() is False and Project.load(path).training.batch_size == 9
    # a window's own saves never count as a change on disk
    second_window.document.set_training("batch_size", 13)
    assert second_window.files.save() and Project.load(path).training.batch_size == 13


# A real window in its own process: unsaved edits, a run training, then SIGTERM (logout, kill).
TERMINATED_APP = """
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication
from playground.core.spec import Project
from playground.ui.main_window import MainWindow, quit_on_sigterm

app = QApplication([])
window = MainWindow(Project.load(sys.argv[1]), path=sys.argv[1], settings=QSettings(sys.argv[2], QSettings.IniFormat))
window.show()
quit_on_sigterm(window)
window.document.append_layer("Softmax")                       # unsaved work
window.document.set_training("epochs", 100000)
window.session.run_started.connect(lambda _: print("training", flush=True))
QTimer.singleShot(0, window.session.start)
sys.exit(app.exec())
"""


def test_sigterm_to_the_window_stops_the_run_and_keeps_the_unsaved_work(tmp_path, work, examples, recovery_folder,
                                                                       qtbot, settings, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from playground.ui.main_window import MainWindow

    project = work / "p.json"
    project.write_text(json.dumps(project_dict(examples)))
    before = project.read_bytes()
    app = subprocess.Popen([sys.executable, "-c", TERMINATED_APP, str(project), str(tmp_path / "s.ini")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=dict(os.environ, PYTHONPATH=str(__import__("pathlib").Path(__file__).parents[2])))
    try:
        assert app.stdout.readline().strip() == "training", app.stderr.read()
        app.send_signal(signal.SIGTERM)
        _, stderr = app.communicate(timeout=120)
    finally:
        if app.poll() is None:
            app.kill()
            app.communicate()   # and its pipes closed
    assert app.returncode == 0 and "Traceback" not in stderr, stderr
    assert project.read_bytes() == before                    # nothing saved over the user's file
    assert len(list(recovery_folder.glob("recovery-*.json"))) == 1 and not list(recovery_folder.glob("*.tmp"))

    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda p, title, text, *a, **k: asked.append(title) or QMessageBox.Yes)
    win = MainWindow(settings=settings)
    qtbot.addWidget(win)
    try:
        assert win.offer_recovery() and asked == ["Restore unsaved work?"]
        assert win.document.layers[-1].type == "Softmax" and win.document.path == project
    finally:
        win.session.shutdown()
        win.document.undo_stack.setClean()
