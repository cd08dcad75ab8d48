"""The robustness suite: each bad input goes in the way a person feeds it (the window's File
actions, the training panel, the headless commands), and each test checks the words the person
reads and what is, and is not, on disk afterwards."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path

import pytest

from playground.cli import main as cli_main
from tests.qt_support import (  # noqa: F401
    collect_garbage_in_the_gui_thread,
    no_run_left_training,
    no_thread_left_running,
    training_processes_end_with_the_session,
)


@pytest.fixture
def dialogs(monkeypatch):
    """Every message box the app shows, as (kind, title, text); questions are answered Discard."""
    from PySide6.QtWidgets import QMessageBox

    shown: list[tuple[str, str, str]] = []

    def record(kind, answer=None):
        def box(parent, title, text, *args, **kwargs):
            shown.append((kind, title, text))
            return answer
        return box

    monkeypatch.setattr(QMessageBox, "warning", record("warning"))
    monkeypatch.setattr(QMessageBox, "critical", record("critical"))
    monkeypatch.setattr(QMessageBox, "question", record("question", QMessageBox.Discard))
    return shown


@pytest.fixture
def settings(tmp_path):
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)


@pytest.fixture
def window(qtbot, settings, examples, dialogs):
    """The app with the XOR example open and saved-clean, as after File > Open."""
    from playground.core.spec import Project
    from playground.ui.main_window import MainWindow

    project = Project.load(examples / "xor.json")
    project.training.epochs = 3
    win = MainWindow(project, settings=settings)
    qtbot.addWidget(win)
    win.document.undo_stack.setClean()
    yield win
    win.session.shutdown()


@pytest.fixture
def work(tmp_path) -> Path:
    """A folder of the user's files; tests compare its contents before and after."""
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (hidden temporary files included) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def cli(capsys):
    """Run `playground ARGS...` in-process; returns (exit status, stdout, stderr)."""
    def run(*args: str) -> tuple[int, str, str]:
        code = cli_main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err
    return run


def project_dict(examples: Path, name: str = "xor.json") -> dict:
    return json.loads((examples / name).read_text())


def write_json(path: Path, data) -> Path:
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


@pytest.fixture
def unwritable(monkeypatch):
    """Make a folder refuse new files: by its permissions, and where those do not bind (root),
    by the same EACCES the operating system gives, at the call that creates the file."""
    def make(folder: Path) -> Path:
        folder.chmod(0o555)
        probe = folder / ".probe"
        try:
            probe.touch()
        except PermissionError:
            return folder
        probe.unlink()
        real = tempfile.mkstemp

        def refuse(*args, dir=None, **kwargs):
            if dir is not None and Path(dir).resolve() == folder.resolve():
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(folder))
            return real(*args, dir=dir, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", refuse)
        return folder

    yield make


@pytest.fixture
def full_disk(monkeypatch):
    """Call `full_disk("write")` or `full_disk("fsync")`: from then on the disk fills up while a
    file is written, and ENOSPC comes from a write once 100 bytes are in, or from the flush to disk."""
    from playground.core import files

    def no_space(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fill(at: str) -> None:
        if at == "fsync":
            monkeypatch.setattr(os, "fsync", no_space)
        else:
            monkeypatch.setattr(files.os, "fdopen", lambda *a, **k: FullFile(real_fdopen(*a, **k)))

    real_fdopen = os.fdopen

    class FullFile:
        """The temporary file, refusing bytes once 100 have gone in."""

        def __init__(self, raw):
            self.raw, self.written = raw, 0

        def write(self, data):
            self.written += len(data)
            if self.written > 100:
                no_space()
            return self.raw.write(data)

        def __getattr__(self, name):
            return getattr(self.raw, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.raw.close()

    return fill
