"""What the desktop tests read back from the real window: set PLAYGROUND_DESKTOP_PROBE=FILE and the
app keeps FILE up to date (JSON, written atomically when it changes) with where its widgets are on
the screen and what the document holds, so a test driving it with real X input (xdotool) waits on
this file instead of sleeping. Reads the window only; nothing in it changes the app."""

from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtCore import QObject, QRect, QTimer
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QAbstractItemView, QApplication, QDockWidget, QWidget

DESKTOP_PROBE = "PLAYGROUND_DESKTOP_PROBE"
WIDGETS = ("startButton", "trainingPanel", "datasetCombo", "schedulerCombo", "epochsSpin",
           "paletteSearch", "paletteTree", "progressBar", "mainToolBar", "plotsEmptyState")
SECTIONS = ("dataset", "loss", "optimizer", "scheduler", "training")   # the training panel's, by key


class DesktopProbe(QObject):
    def __init__(self, window, path: str | Path):
        super().__init__(window)
        self.window, self.path = window, Path(path)
        self._last = ""
        self._timer = QTimer(self, interval=100)
        self._timer.timeout.connect(self.write)
        self._timer.start()

    def write(self) -> None:
        text = json.dumps(snapshot(self.window), sort_keys=True)
        if text != self._last:
            self._last = text
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(text)
            os.replace(temporary, self.path)


def _visible(widget: QWidget | None) -> list[int] | None:
    """The part of `widget` a person can see, in screen coordinates, or None."""
    if widget is None or not widget.isVisible():
        return None
    seen: QRect = widget.visibleRegion().boundingRect()
    if seen.isEmpty():
        return None
    top_left = widget.mapToGlobal(seen.topLeft())
    return [top_left.x(), top_left.y(), seen.width(), seen.height()]


def _on_screen(widget: QWidget) -> list[int] | None:
    """Where `widget` lies on the screen, children included (visibleRegion leaves out covered parts)."""
    if not widget.isVisible():
        return None
    top_left = widget.mapToGlobal(widget.rect().topLeft())
    return [top_left.x(), top_left.y(), widget.width(), widget.height()]


def _tabs(tabs) -> dict[str, list[int]]:
    """Where each tab of a tab widget can be clicked, by its text, in screen coordinates."""
    bar = tabs.tabBar()
    if not bar.isVisible():
        return {}
    centres = {tabs.tabText(i): bar.mapToGlobal(bar.tabRect(i).center()) for i in range(tabs.count())}
    return {text: [point.x(), point.y()] for text, point in centres.items()}


def snapshot(window) -> dict:
    app = QApplication.instance()
    screen = window.screen().availableGeometry()
    frame = window.frameGeometry()
    state: dict = {"built": window.built, "screen": [screen.x(), screen.y(), screen.width(), screen.height()],
                   "window": [frame.x(), frame.y(), frame.width(), frame.height()],
                   "active": app.activeWindow() is window}
    modal = app.activeModalWidget()
    state["modal"] = modal.windowTitle() if modal else None
    popup = app.activePopupWidget()
    state["popup"] = type(popup).__name__ if popup else None
    under = app.widgetAt(QCursor.pos())
    state["pointer"] = [QCursor.pos().x(), QCursor.pos().y(), type(under).__name__ if under else None,
                        under.objectName() if under else None]
    state["buttons"] = int(app.mouseButtons().value)
    if not window.built:
        return state
    focus = app.focusWidget()
    tree = window.palette.tree
    palette = {}
    for name, item in window.palette.entries.items():
        rect = tree.visualItemRect(item)
        if not item.isHidden() and rect.isValid() and tree.viewport().rect().contains(rect.center()):
            centre = tree.viewport().mapToGlobal(rect.center())
            palette[name] = [centre.x(), centre.y()]
    doc = window.document
    state.update({
        "widgets": {name: _visible(window.findChild(QWidget, name)) for name in WIDGETS}
        | {"networkEditor": _on_screen(window.editor.viewport())}
        | {f"{key}SectionHeader": _visible(window.findChild(QWidget, f"{key}SectionHeader")) for key in SECTIONS},
        "cards": [{"type": card.type_name, "rect": _visible(card), "selected": card.selected,
                   "fields": {name: _visible(editor.widget) for name, editor in card.form.editors.items()}}
                  for card in window.editor.cards],
        "palette": palette,
        "search": window.palette.search.text(),
        "layers": [{"type": layer.type, "params": layer.params} for layer in doc.layers],
        "undo": doc.undo_stack.index(),
        "modified": window.isWindowModified(),
        "dataset": doc.project.data.dataset,
        "scheduler": doc.project.training.scheduler.type if doc.project.training.scheduler else None,
        "editor_scroll": window.editor.verticalScrollBar().value(),
        "drop_line": window.editor.insertion_line.isVisible(),   # a drag is over the editor
        "dragging": tree.state() == QAbstractItemView.DraggingState,   # a palette drag has begun
        "panel_scroll": window.panel.findChild(QWidget, "trainingSettings").parentWidget().parentWidget()
        .verticalScrollBar().value(),
        "focus": None if focus is None else {"name": focus.objectName(), "class": type(focus).__name__,
                                             "rect": _visible(focus)},
        "selected": window.editor.selected_index,
        "run_state": window.panel._state,
        "runs": len(window.runs.run_ids()),
        "docks": {d.objectName(): [d.width(), d.height()] for d in window.findChildren(QDockWidget)},
        "status": window.statusBar().currentMessage(),
        "sections": {section.key: section.expanded for section in window.panel.sections},
        "dock_rects": {d.objectName(): _on_screen(d) for d in window.findChildren(QDockWidget)},
        "view_tabs": _tabs(window.views),
        "plots_scroll": window.findChild(QWidget, "plotsSplitterScroll").verticalScrollBar().maximum(),
    })
    return state


def install_probe(window) -> DesktopProbe | None:
    path = os.environ.get(DESKTOP_PROBE)
    return DesktopProbe(window, path) if path else None
