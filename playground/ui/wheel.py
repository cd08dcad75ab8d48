"""The mouse wheel scrolls; it changes a spin box or a combo box only after the user has clicked into it.

Qt's spin and combo boxes take the wheel (and, by default, focus with it) from anywhere the pointer
passes: scrolling the training panel cycled the scheduler, each notch an undo step and an unsaved
change, and scrolling the editor over a card changed its parameters instead. One filter on the
application covers every such field, the generated parameter editors included.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractScrollArea, QAbstractSpinBox, QApplication, QComboBox, QWidget

GUARDED = (QAbstractSpinBox, QComboBox)  # fields whose value the wheel would change


class WheelGuard(QObject):
    """Installed on the application: fields get StrongFocus (a click or Tab, never the wheel, gives
    them focus), and a wheel over a field without focus scrolls the scroll area around it instead."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Polish and isinstance(watched, GUARDED):
            watched.setFocusPolicy(Qt.StrongFocus)
        elif kind == QEvent.Wheel and isinstance(watched, GUARDED) and not watched.hasFocus():
            area = _scroll_area(watched)
            if area is not None:
                QApplication.sendEvent(area.viewport(), event)   # propagates on to outer areas if ignored
            return True
        return False


def _scroll_area(widget: QWidget) -> QAbstractScrollArea | None:
    parent = widget.parentWidget()
    while parent is not None and not isinstance(parent, QAbstractScrollArea):
        parent = parent.parentWidget()
    return parent


def install_wheel_guard(app: QApplication | None = None) -> WheelGuard:
    """Once per application; later calls return the same guard."""
    app = app or QApplication.instance()
    guard = app.findChild(WheelGuard)
    if guard is None:
        guard = WheelGuard(app)
        app.installEventFilter(guard)
    return guard
