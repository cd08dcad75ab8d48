"""Tab order in reading order: palette, editor and its cards, training panel, run controls.

Qt chains focus in the order widgets joined the window, so the cards (created with each edit) came
after everything else and Tab never reached them before it fell into the Code tab's editor, hidden
behind Training, which kept the Tab key for itself.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLayout, QScrollArea, QWidget


def tab_stops(container: QWidget) -> list[QWidget]:
    """The widgets under `container` that Tab should stop at, in the order its layouts place them
    (rows top to bottom, each row left to right); layouts, not geometry, so it holds before the
    first paint too."""
    stops: list[QWidget] = []

    def visit(widget: QWidget) -> None:
        if widget is not container and _is_stop(widget):
            stops.append(widget)
            return   # a combo or spin box: its insides are not stops of their own
        if isinstance(widget, QScrollArea):
            if widget.widget() is not None:
                visit(widget.widget())
            return
        if widget.layout() is not None:
            visit_layout(widget.layout())

    def visit_layout(layout: QLayout) -> None:
        for i in range(layout.count()):
            item = layout.itemAt(i)
            if item.widget() is not None:
                visit(item.widget())
            elif item.layout() is not None:
                visit_layout(item.layout())

    visit(container)
    return stops


def _is_stop(widget: QWidget) -> bool:
    return ((widget.focusPolicy() & Qt.TabFocus) == Qt.TabFocus and widget.focusProxy() is None
            and not isinstance(widget, QScrollArea))   # a container; lists and text edits are stops


def chain(widgets: list[QWidget]) -> None:
    """Tab goes from each widget to the next, in this order."""
    for before, after in zip(widgets, widgets[1:]):
        QWidget.setTabOrder(before, after)
