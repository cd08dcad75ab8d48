"""The project autosaved to a recovery file; after a crash the next start offers it back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from playground.core.recovery import RecoveryStore
from playground.core.spec import Project
from playground.ui.main_window import MainWindow

REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 60_000

# A real Playground window in its own process: the user edits, starts a run, and the process dies.
CRASHING_APP = textwrap.dedent("""
    import os, signal, sys
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication
    from playground.core.spec import Project
    from playground.ui.main_window import MainWindow

    app = QApplication([])
    project_path = sys.argv[1]
    window = MainWindow(Project.load(project_path), path=project_path,
                        settings=QSettings(sys.argv[2], QSettings.IniFormat))
    window.show()
    window.document.append_layer("Softmax")              # unsaved work
    window.document.set_training("epochs", 10_000)
    window.session.run_started.connect(lambda _: QTimer.singleShot(200, lambda: os.kill(os.getpid(), signal.SIGKILL)))
    QTimer.singleShot(0, window.session.start)
    app.exec()
""")


def crash_an_app(tmp_path, examples) -> Path:
    """Run the app until it dies mid-run; returns the project file it had open (unchanged on disk)."""
    project = tmp_path / "spiral.json"
    project.write_bytes((examples / "spiral.json").read_bytes())
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-c", CRASHING_APP, str(project), str(tmp_path / "s.ini")],
                            env=env, capture_output=True, timeout=120)
    assert result.returncode == -signal.SIGKILL, result.stderr.decode()[-2000:]
    return project


@pytest.fixture
def new_window(qtbot, settings, dialogs):
    made = []

    def make(**kwargs):
        win = MainWindow(settings=settings, **kwargs)
        qtbot.addWidget(win)
        made.append(win)
        return win

    yield make
    for win in made:  # a restored project is unsaved on purpose: closing asks (dialogs answers)
        win.session.shutdown()
        win.document.undo_stack.setClean()


def answer(monkeypatch, button):
    asked = []

    def question(parent, title, text, *args, **kwargs):
        asked.append((title, text))
        return button

    monkeypatch.setattr(QMessageBox, "question", question)
    return asked


def test_after_a_crash_the_next_start_restores_the_unsaved_project(tmp_path, examples, recovery_folder,
                                                                    new_window, monkeypatch):
    path = crash_an_app(tmp_path, examples)
    left = list(recovery_folder.glob("recovery-*.json"))
    assert len(left) == 1  # written when the run started
    assert Project.load(path) == Project.load(examples / "spiral.json")  # the file on disk is the old one

    asked = answer(monkeypatch, QMessageBox.Yes)
    win = new_window()
    assert win.offer_recovery()
    title, text = asked[0]
    assert title == "Restore unsaved work?"
    assert "Playground did not close properly" in text and f"from {path}" in text and "Spiral" in text
    assert [layer.type for layer in win.document.layers][-1] == "Softmax"
    assert win.document.project.training.epochs == 10_000
    assert win.document.path == path and not win.document.is_clean and win.isWindowModified()
    assert not left[0].exists()                            # the crashed process's file is gone...
    assert win.recovery.store.path.is_file()               # ...and this window's own holds the project
    assert win.files.save()                                # Save writes it back where it came from
    assert [layer["type"] for layer in json.loads(path.read_text())["network"]["layers"]][-1] == "Softmax"
    assert not win.recovery.store.path.exists()            # saved: nothing left to recover
    assert not win.offer_recovery()


def test_declining_removes_the_recovery_file(tmp_path, examples, recovery_folder, new_window, monkeypatch):
    crash_an_app(tmp_path, examples)
    asked = answer(monkeypatch, QMessageBox.Discard)
    win = new_window()
    assert not win.offer_recovery()
    assert len(asked) == 1
    assert list(recovery_folder.iterdir()) == []
    assert win.document.is_clean and win.document.path is None
    assert not win.offer_recovery() and len(asked) == 1  # not asked again


def test_a_run_start_autosaves_and_a_clean_close_removes_the_file(qtbot, new_window, examples):
    win = new_window(project=Project.load(examples / "xor.json"))
    store = win.recovery.store
    assert not store.path.exists()
    win.document.set_training("epochs", 2)
    with qtbot.waitSignal(win.session.run_finished, timeout=RUN_TIMEOUT):
        win.session.start()
    saved = json.loads(store.path.read_text())
    assert saved["format"] == "playground-recovery" and saved["pid"] == os.getpid()
    assert Project.from_dict(saved["project"]) == win.document.project
    win.document.undo_stack.setClean()
    assert win.close()
    assert not store.path.exists()


def test_every_interval_while_changed_and_not_while_clean(qtbot, new_window, examples):
    win = new_window(project=Project.load(examples / "xor.json"))
    autosave = win.recovery
    autosave.timer.setInterval(50)  # a minute in the app
    store = autosave.store
    qtbot.wait(200)
    assert not store.path.exists()  # nothing changed: nothing written
    win.document.set_training("batch_size", 16)
    qtbot.waitUntil(store.path.exists, timeout=2000)
    assert json.loads(store.path.read_text())["project"]["training"]["batch_size"] == 16
    written = store.path.stat().st_mtime_ns
    qtbot.wait(200)
    assert store.path.stat().st_mtime_ns == written  # no change since: not rewritten
    win.document.set_training("batch_size", 8)
    qtbot.waitUntil(lambda: json.loads(store.path.read_text())["project"]["training"]["batch_size"] == 8,
                    timeout=2000)
    win.document.undo_stack.setClean()  # as a save does
    assert not store.path.exists()


def test_a_window_that_is_still_open_is_not_offered(new_window, examples, monkeypatch):
    asked = answer(monkeypatch, QMessageBox.Yes)
    first = new_window(project=Project.load(examples / "xor.json"))
    first.document.set_training("batch_size", 16)
    assert first.recovery.save_now()
    second = new_window()  # the same process, or another Playground still running
    assert not second.offer_recovery() and not asked
    other = RecoveryStore(pid=1)  # pid 1 is always running
    other.save(Project.load(examples / "xor.json"), None)
    assert not second.offer_recovery() and not asked


def test_an_unreadable_recovery_file_is_explained_and_kept_aside(new_window, recovery_folder, dialogs):
    recovery_folder.mkdir(parents=True, exist_ok=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    broken = recovery_folder / f"recovery-{int(dead.stdout)}-1.json"
    broken.write_text('{"format": "playground-recovery", "version": 1, "project": {"trunc')
    win = new_window()
    assert not win.offer_recovery()
    kind, title, text = dialogs[-1]
    assert (kind, title) == ("warning", "Autosaved project unreadable")
    kept = recovery_folder / f"recovery-{int(dead.stdout)}-1.unreadable.json"
    assert f"It was kept as {kept}" in text
    assert kept.is_file() and not broken.exists()
    count = len(dialogs)
    assert not win.offer_recovery() and len(dialogs) == count  # not offered again


def test_an_autosave_that_cannot_be_written_is_said_once_and_the_app_goes_on(new_window, examples, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    win = new_window(project=Project.load(examples / "xor.json"),
                     recovery=RecoveryStore(blocker / "recovery"))  # a folder inside a file: impossible
    win.document.set_training("batch_size", 16)
    assert not win.recovery.save_now()
    assert win.statusBar().currentMessage().startswith("Autosave failed:")
    win.statusBar().clearMessage()
    assert not win.recovery.save_now()
    assert win.statusBar().currentMessage() == ""  # said once, not every minute
    assert win.document.project.training.batch_size == 16
