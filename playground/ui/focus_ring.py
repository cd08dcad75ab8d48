"""Keyboard focus you can see: a ring in the highlight colour around the focused button or check box.

Fusion marks a focused check box with a faint dotted frame round its label (often none at all), and a
focused tool button not at all; after a Tab a person could not tell where the keyboard was. Fields,
combos and spin boxes keep Fusion's own highlighted frame, which reads; the editor shows its focus
through the selected card, lists and text through their cursor and selection.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QPainter, QPalette, QPen
from PySide6.QtWidgets import QAbstractButton, QApplication, QFocusFrame, QSlider, QTabBar, QWidget

RINGED = (QAbstractButton, QSlider, QTabBar)   # widgets whose own focus mark is faint or missing
RING_WIDTH = 2   # px; QFocusFrame sits PM_FocusFrameHMargin (2 px in Fusion) outside the widget


class FocusRing(QFocusFrame):
    """Qt's focus frame (it follows its widget as it moves, resizes, hides), painted as a clear ring."""

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.Antialiasing)
        color = self.palette().color(QPalette.Active, QPalette.Highlight)
        painter.setPen(QPen(color, RING_WIDTH))
        painter.setBrush(Qt.NoBrush)
        half = RING_WIDTH / 2
        painter.drawRoundedRect(self.rect().toRectF().adjusted(half, half, -half, -half), 3, 3)


class FocusRings(QObject):
    """One ring per application, moved to each newly focused widget that needs one."""

    def __init__(self, app: QApplication):
        super().__init__(app)
        self.ring: FocusRing | None = None
        app.focusChanged.connect(self._on_app_focus_changed)

    def _on_app_focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        if new is None or not isinstance(new, RINGED) or new.window() is new:
            if self.ring is not None:
                self.ring.setWidget(None)
            return
        if self.ring is None:
            self.ring = FocusRing()
            self.ring.setObjectName("focusRing")
            self.ring.destroyed.connect(self._on_ring_destroyed)
        self.ring.setWidget(new)   # reparents it beside `new`, raised above its siblings

    def _on_ring_destroyed(self) -> None:
        self.ring = None   # its parent went (a closed window): the next focus makes another

    def ringed(self) -> QWidget | None:
        """The widget the ring is around now, or None."""
        return self.ring.widget() if self.ring is not None and self.ring.isVisible() else None


def install_focus_rings(app: QApplication | None = None) -> FocusRings:
    """Once per application; later calls return the same one."""
    app = app or QApplication.instance()
    rings = app.findChild(FocusRings)
    if rings is None:
        rings = FocusRings(app)
    return rings
