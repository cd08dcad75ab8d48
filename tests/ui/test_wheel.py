"""The wheel scrolls the editor and the training panel; a field changes only after a click into it."""

import pytest
from PySide6.QtCore import QPoint, QPointF, QSettings, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QComboBox, QMessageBox, QScrollArea, QSpinBox

from playground.core.spec import Project
from playground.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot, tmp_path, examples, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    project = Project.load(examples / "xor.json")
    win = MainWindow(project, settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    qtbot.addWidget(win)
    win.resize(780, 560)
    win.show()
    qtbot.waitExposed(win)
    return win


def wheel(widget, notches: int = -1) -> None:
    """One notch per step down (negative) or up, over the middle of `widget`, as a mouse sends it."""
    centre = QPointF(widget.rect().center())
    for _ in range(abs(notches)):
        event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(),
                            QPoint(0, 120 if notches > 0 else -120), Qt.NoButton, Qt.NoModifier,
                            Qt.NoScrollPhase, False)
        QApplication.sendEvent(widget, event)


def test_the_wheel_over_a_card_scrolls_the_editor(qtbot, window):
    for _ in range(8):
        window.document.append_layer("Linear")
    window.editor.select(-1)
    bar = window.editor.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0)
    bar.setValue(0)
    spin = window.editor.cards[0].form.editors["out_features"].widget
    value, steps = spin.value(), window.document.undo_stack.count()
    assert spin.focusPolicy() == Qt.StrongFocus   # a wheel never hands it focus
    wheel(spin, -3)
    assert bar.value() > 0, "the editor did not scroll"
    assert spin.value() == value and window.document.undo_stack.count() == steps


def test_the_wheel_over_the_training_panel_changes_nothing(qtbot, window):
    window.document.undo_stack.setClean()
    combo = window.panel.findChild(QComboBox, "schedulerCombo")
    epochs = window.panel.findChild(QSpinBox, "epochsSpin")
    scroll = window.panel.findChild(QScrollArea)
    index, value = combo.currentIndex(), epochs.value()
    wheel(combo, -4)        # four notches cycled the scheduler
    wheel(epochs, -2)
    assert (combo.currentIndex(), epochs.value()) == (index, value)
    assert window.document.undo_stack.count() == 0 and not window.isWindowModified()
    if scroll.verticalScrollBar().maximum() > 0:
        assert scroll.verticalScrollBar().value() > 0, "the panel did not scroll"


def test_a_field_clicked_into_takes_the_wheel(qtbot, window):
    epochs = window.panel.findChild(QSpinBox, "epochsSpin")
    window.panel.findChild(QScrollArea).ensureWidgetVisible(epochs)
    value = epochs.value()
    qtbot.mouseClick(epochs.lineEdit(), Qt.LeftButton)
    assert epochs.hasFocus()
    wheel(epochs, 1)
    assert epochs.value() == value + 1
    assert window.document.project.training.epochs == value + 1
    assert window.document.undo_stack.count() == 1
