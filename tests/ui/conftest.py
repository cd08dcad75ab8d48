"""pytest-qt set-up: garbage collected in the GUI thread; a test fails if it leaves a QThread running."""

import pytest

from tests.qt_support import (  # noqa: F401
    collect_garbage_in_the_gui_thread,
    no_run_left_training,
    no_thread_left_running,
    training_processes_end_with_the_session,
)


@pytest.fixture
def warnings_shown(monkeypatch):
    """Warnings the app shows, as (title, text), instead of modal boxes."""
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: shown.append((title, text)))
    return shown
