"""A focused text field keeps its keys: Ctrl+D typed into a card's field edits the field, it does not
duplicate the layer (the editor's Duplicate reaches the editor's children, the fields included)."""

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QMessageBox

from playground.core.spec import Project
from playground.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot, tmp_path, examples, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    win = MainWindow(Project.load(examples / "mnist_lenet.json"),
                     settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    qtbot.addWidget(win)
    with qtbot.waitActive(win):   # shortcuts reach only the active window
        win.show()
        win.activateWindow()
    return win


def types(win):
    return [layer.type for layer in win.document.layers]


def test_ctrl_d_in_a_cards_field_stays_in_the_field(qtbot, window):
    index = types(window).index("Conv2d")
    field = window.editor.cards[index].form.editors["kernel_size"].widget
    window.editor.ensureWidgetVisible(field)
    qtbot.mouseClick(field, Qt.LeftButton)   # as a person clicks into it
    assert QApplication.focusWidget() is field
    field.selectAll()
    qtbot.keyClicks(field, "3")
    before = types(window)
    qtbot.keySequence(field, QKeySequence("Ctrl+D"))   # through Qt's shortcut map, as typed
    assert types(window) == before, "Ctrl+D in a field duplicated the layer"
    assert QApplication.focusWidget() is field
    qtbot.keyClicks(field, ", 3")
    qtbot.keyClick(field, Qt.Key_Return)
    assert window.document.layers[index].params["kernel_size"] in ([3, 3], 3)

    # with the card selected and the editor focused, Ctrl+D still duplicates it
    window.editor.select(index)
    window.editor.setFocus()
    qtbot.keySequence(window.editor, QKeySequence("Ctrl+D"))
    assert types(window) == before[:index + 1] + ["Conv2d"] + before[index + 1:]


def test_window_wide_commands_still_work_from_a_field(qtbot, window):
    field = window.editor.cards[0].form.editors[next(iter(window.editor.cards[0].form.editors))].widget
    field.setFocus()
    qtbot.keySequence(field, QKeySequence.Find)   # Ctrl+F: the palette search, from anywhere
    assert QApplication.focusWidget() is window.palette.search
