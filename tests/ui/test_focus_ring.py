"""Keyboard focus is clearly visible: Tab onto a check box or button and a ring in the highlight
colour is painted round it (Fusion's own mark on a check box is a faint dotted frame, or none)."""

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QCheckBox, QMessageBox

from playground.core.spec import Project
from playground.ui.focus import tab_stops
from playground.ui.focus_ring import FocusRings
from playground.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot, tmp_path, examples, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    win = MainWindow(Project.load(examples / "xor.json"),
                     settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    qtbot.addWidget(win)
    with qtbot.waitActive(win):
        win.show()
        win.activateWindow()
    return win


def ring_pixels(window, widget) -> float:
    """The share of the 2 px strip just outside `widget` painted in the highlight colour."""
    image = window.grab().toImage()
    ratio = image.devicePixelRatio()
    highlight = widget.palette().color(QPalette.Active, QPalette.Highlight)
    top_left = widget.mapTo(window, widget.rect().topLeft())
    x0, y0, w, h = top_left.x() - 2, top_left.y() - 2, widget.width() + 4, widget.height() + 4
    strip = [(x, y) for x in range(x0 + 4, x0 + w - 4) for y in (y0, y0 + 1, y0 + h - 2, y0 + h - 1)]
    strip += [(x, y) for y in range(y0 + 4, y0 + h - 4) for x in (x0, x0 + 1, x0 + w - 2, x0 + w - 1)]

    def close(c: QColor) -> bool:
        return abs(c.red() - highlight.red()) + abs(c.green() - highlight.green()) + abs(c.blue() - highlight.blue()) < 90

    hits = sum(close(QColor(image.pixel(int(x * ratio), int(y * ratio)))) for x, y in strip)
    return hits / len(strip)


def test_tab_onto_a_check_box_rings_it(qtbot, window):
    shuffle = window.panel.findChild(QCheckBox, "shuffleCheck")
    stops = [w for w in tab_stops(window.panel) if w.isEnabled()]
    before_shuffle = stops[stops.index(shuffle) - 1]
    before_shuffle.setFocus(Qt.TabFocusReason)
    assert QApplication.focusWidget() is before_shuffle
    assert ring_pixels(window, shuffle) < 0.2   # no highlight-coloured frame there anyway
    qtbot.keyClick(before_shuffle, Qt.Key_Tab)   # as a person reaches it
    assert QApplication.focusWidget() is shuffle
    qtbot.waitUntil(lambda: ring_pixels(window, shuffle) > 0.8)
    qtbot.keyClick(shuffle, Qt.Key_Tab)
    assert QApplication.focusWidget() is not shuffle
    qtbot.waitUntil(lambda: ring_pixels(window, shuffle) < 0.2)   # the ring moved on with the focus


def test_a_section_header_and_a_button_get_the_ring_a_field_keeps_its_own_frame(qtbot, window):
    rings = QApplication.instance().findChild(FocusRings)
    window.panel.optimizer.header.setFocus(Qt.TabFocusReason)
    assert rings.ringed() is window.panel.optimizer.header
    window.panel.start_button.setFocus(Qt.TabFocusReason)
    assert rings.ringed() is window.panel.start_button
    window.panel.epochs.setFocus(Qt.TabFocusReason)
    assert rings.ringed() is None   # Fusion's highlighted frame marks a field already
