"""The keyboard alone: Tab walks the window in reading order with the focus always in sight,
Ctrl+F reaches the palette search, and a network is built and trained without the mouse."""

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QMessageBox

from playground.core.spec import Project
from playground.ui.main_window import MainWindow

RUN_TIMEOUT = 60_000


@pytest.fixture
def window(qtbot, tmp_path, examples, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    project = Project.load(examples / "xor.json")
    project.training.epochs = 2
    win = MainWindow(project, settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    qtbot.addWidget(win)
    with qtbot.waitActive(win):   # shortcuts and Tab reach only the active window
        win.show()
        win.activateWindow()
    yield win
    win.session.shutdown()


def focus():
    return QApplication.focusWidget()


def tab(qtbot, times: int = 1):
    for _ in range(times):
        qtbot.keyClick(focus(), Qt.Key_Tab)


def in_sight(widget) -> bool:
    """Shown and not scrolled or tabbed out of view: some of it is on the screen (for a list or
    text edit, its viewport, which covers it)."""
    region = (widget.viewport() if isinstance(widget, QAbstractScrollArea) else widget).visibleRegion()
    return widget.isVisible() and not region.isEmpty()


def test_tab_walks_palette_editor_cards_panel_start_in_view(qtbot, window):
    window.palette.search.setFocus(Qt.TabFocusReason)
    seen = [focus()]
    for _ in range(60):
        tab(qtbot)
        seen.append(focus())
        assert in_sight(focus()) or focus() is window.editor, f"focus out of sight on {focus()!r}"
        if focus() is seen[0]:
            break
    names = [w.objectName() for w in seen]
    assert names[:3] == ["paletteSearch", "paletteTree", "networkEditor"]
    assert window.editor.selected_index == 0 or "param_out_features" in names   # the cards come next
    first_field = names.index("param_out_features")
    assert names.index("networkEditor") < first_field < names.index("datasetCombo") < names.index("startButton")
    assert "codeEdit" not in names   # behind the Training tab: out of sight, out of the way
    assert names.count("paletteSearch") == 2, "Tab went round the window and back to the start"


def test_tab_into_the_editor_selects_a_card_and_enter_edits_it(qtbot, window):
    window.palette.tree.setFocus(Qt.TabFocusReason)
    tab(qtbot)
    assert focus() is window.editor and window.editor.selected_index == 0
    qtbot.keyClick(window.editor, Qt.Key_Down)
    qtbot.keyClick(window.editor, Qt.Key_Down)
    assert window.editor.selected_index == 2
    qtbot.keyClick(window.editor, Qt.Key_Return)
    assert focus() is window.editor.cards[2].form.editors["out_features"].widget


def test_build_and_train_with_the_keyboard_alone(qtbot, window):
    before = [layer.type for layer in window.document.layers]
    qtbot.keySequence(window, QKeySequence.Find)           # Ctrl+F: the palette's search
    assert focus() is window.palette.search
    qtbot.keyClicks(window.palette.search, "relu")
    qtbot.keyClick(window.palette.search, Qt.Key_Return)  # the first match, selected
    assert focus() is window.palette.tree
    qtbot.keyClick(window.palette.tree, Qt.Key_Return)    # appended
    assert [layer.type for layer in window.document.layers] == before + ["ReLU"]
    qtbot.keySequence(window, QKeySequence("Ctrl+Z"))
    assert [layer.type for layer in window.document.layers] == before
    with qtbot.waitSignal(window.session.run_finished, timeout=RUN_TIMEOUT):
        qtbot.keyClick(focus(), Qt.Key_F5)
    assert len(window.runs.run_ids()) == 1
