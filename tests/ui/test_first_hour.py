"""Issue 16, as the person lived it in the window: one project after another, weights kept by the run
list, the data folder remembered, the words that were wrong."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox, QPushButton

from playground.core.spec import Project
from playground.ui.main_window import MainWindow

RUN_TIMEOUT = 60_000  # ms; a few epochs of XOR take a second or two


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)


@pytest.fixture
def answers(monkeypatch):
    """What the person answers each question box, in order (Discard once they run out); the
    questions asked are recorded as (title, text)."""
    asked: list[tuple[str, str]] = []
    queue: list = []

    def question(parent, title, text, *args, **kwargs):
        asked.append((title, text))
        return queue.pop(0) if queue else QMessageBox.Discard

    monkeypatch.setattr(QMessageBox, "question", question)
    return queue, asked


@pytest.fixture
def window(qtbot, settings, examples, answers):
    project = Project.load(examples / "xor.json")
    project.training.epochs = 3
    win = MainWindow(project, settings=settings)
    qtbot.addWidget(win)
    win.document.undo_stack.setClean()
    yield win
    win.session.shutdown()


def start_and_wait(qtbot, win):
    with qtbot.waitSignal(win.session.run_finished, timeout=RUN_TIMEOUT) as blocker:
        qtbot.mouseClick(win.findChild(QPushButton, "startButton"), Qt.LeftButton)
    return blocker.args[1]


# --- item 11: nothing of one project leaks into the next -----------------------------------------


def test_opening_another_project_forgets_the_last_runs_progress_sample_and_continue(
        qtbot, window, examples, tmp_path):
    window.views.setCurrentWidget(window.views.layer_output)
    window.views_dock.show()
    window.show()
    start_and_wait(qtbot, window)
    panel = window.panel
    panel.continue_check.setChecked(True)
    assert panel.progress_bar.format().startswith("epoch 3/3")
    layer = window.views.layer_output
    assert "Input (" in layer.input_text.text()              # an XOR point: two coordinates

    window.files.open_example(examples / "mnist_mlp.json")
    window.document.set_data_param("root", str(tmp_path))    # no digits there: the view says so
    assert layer.shown_kind() == "none"
    assert layer.input_text.text() == "" and not layer.input_preview.isVisible()
    assert panel.progress_bar.format() == "not started" and panel.progress_bar.value() == 0
    assert not panel.continue_check.isChecked()
    assert not window.views.health._rows                     # no gradient curves of the XOR run

    window.files.open_example(examples / "xor.json")
    start_and_wait(qtbot, window)
    panel.continue_check.setChecked(True)
    window.files.new()
    assert not panel.continue_check.isChecked() and panel.progress_bar.format() == "not started"
