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
    ticks = []
    autosave.timer.timeout.connect(lambda: ticks.append(store.path.exists()))
    qtbot.waitUntil(lambda: len(ticks) >= 3, timeout=5000)
    assert not any(ticks) and not store.path.exists()  # nothing changed: nothing written
    win.document.set_training("batch_size", 16)
    qtbot.waitUntil(store.path.exists, timeout=2000)
    assert json.loads(store.path.read_text())["project"]["training"]["batch_size"] == 16
    written = store.path.stat().st_mtime_ns
    seen = len(ticks)
    qtbot.waitUntil(lambda: len(ticks) >= seen + 3, timeout=5000)
    assert store.path.stat().st_mtime_ns == written  # no change since: not rewritten
    win.document.set_training("batch_size", 8)
    qtbot.waitUntil(lambda: json.loads(store.path.read_text())["project"]["training"]["batch_size"] == 8,
                    timeout=2000)
    win.document.undo_stack.setClean()  # as a save does
    assert not store.path.exists()


LIVE_APP = textwrap.dedent("""
    import sys, time
    from playground.core.recovery import RecoveryStore
    from playground.core.spec import Project

    RecoveryStore(sys.argv[1]).save(Project.load(sys.argv[2]), None)
    print("saved", flush=True)
    time.sleep(120)
""")


def test_a_playground_that_is_still_running_is_not_offered_until_it_dies(new_window, examples, recovery_folder,
                                                                        monkeypatch):
    asked = answer(monkeypatch, QMessageBox.Discard)
    first = new_window(project=Project.load(examples / "xor.json"))
    first.document.set_training("batch_size", 16)
    assert first.recovery.save_now()
    second = new_window()  # another window of the same process
    assert not second.offer_recovery() and not asked
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with subprocess.Popen([sys.executable, "-c", LIVE_APP, str(recovery_folder), str(examples / "spiral.json")],
                          env=env, stdout=subprocess.PIPE, text=True) as other:
        try:
            assert other.stdout.readline().strip() == "saved"
            assert not second.offer_recovery() and not asked  # alive: its lock is held
        finally:
            other.kill()
    assert not second.offer_recovery()  # dead now: offered (and discarded by the answer)
    assert len(asked) == 1 and "Spiral" in asked[0][1]
    assert first.recovery.store.path.is_file()  # the open window's own file was never touched


def _orphan(folder: Path, project: Project, saved, source=None) -> Path:
    """A recovery file as a crashed Playground leaves it: no lock held on it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"recovery-{project.name.lower()}.json"
    path.write_text(json.dumps({"format": "playground-recovery", "version": 1, "pid": 123456, "saved": saved,
                                "source": str(source) if source else None, "project": project.to_dict()}))
    return path


def test_several_orphans_newest_first_and_the_rest_kept(new_window, examples, recovery_folder, monkeypatch):
    older = _orphan(recovery_folder, Project.load(examples / "xor.json"), 1_700_000_000)
    newer = _orphan(recovery_folder, Project.load(examples / "spiral.json"), 1_700_000_600)
    asked = answer(monkeypatch, QMessageBox.Yes)
    win = new_window()
    assert win.offer_recovery()
    assert len(asked) == 1 and "Spiral" in asked[0][1]
    assert win.document.project.name == "Spiral" and win.document.path is None
    assert not newer.exists() and older.exists()  # the other waits for the next start
    third = new_window()
    assert third.offer_recovery() and "XOR" in asked[1][1] and not older.exists()


def test_closing_the_question_unanswered_keeps_the_file(new_window, examples, recovery_folder, monkeypatch):
    path = _orphan(recovery_folder, Project.load(examples / "xor.json"), 1_700_000_000)
    answer(monkeypatch, QMessageBox.NoButton)  # what a torn-down box returns
    assert not new_window().offer_recovery()
    assert path.exists()


def test_a_source_file_that_is_gone_restores_as_unsaved(new_window, examples, recovery_folder, tmp_path,
                                                        monkeypatch):
    gone = tmp_path / "deleted-since.json"
    _orphan(recovery_folder, Project.load(examples / "xor.json"), float("nan"), source=gone)
    asked = answer(monkeypatch, QMessageBox.Yes)
    win = new_window()
    assert win.offer_recovery()
    assert f"from {gone}, which no longer exists" in asked[0][1]
    assert win.document.path is None and not win.document.is_clean  # Save asks where


@pytest.mark.parametrize("saved", [1e300, "yesterday", None])
def test_a_saved_time_that_cannot_be_shown_falls_back_to_the_files(new_window, examples, recovery_folder,
                                                                  monkeypatch, saved):
    _orphan(recovery_folder, Project.load(examples / "xor.json"), saved)
    asked = answer(monkeypatch, QMessageBox.Discard)
    assert not new_window().offer_recovery()
    assert "was autosaved at 20" in asked[0][1]


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
