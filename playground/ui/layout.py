"""The window's layout: a first size that fits the screen, the docks' default sizes, and which saved
layouts are sane enough to restore.

A saved dock state restores sizes in pixels, whatever the window and screen are now: a palette
dragged wide on a large screen came back at ~650 px with a 40 px editor. Restoring checks the result
and falls back to the default layout (View > Reset layout does the same on request).
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDockWidget, QFrame, QMainWindow, QScrollArea, QSplitter, QWidget

FIRST_SIZE = QSize(1400, 900)     # what the window opens at where the screen has room
FRAME_ROOM = QSize(16, 56)        # the window manager's frame and a panel: kept free around the first window
EDITOR_MIN = QSize(320, 150)      # a card (132 px labels and a field) fits without a sideways scroll bar
SIDE_DOCK_MAX = 0.4               # of the window's width: a palette or training panel wider is a broken state
BOTTOM_DOCK_MAX = 0.6             # of the window's height, for the plots and views
DOCK_MIN = 60                     # px: a dock thinner than this shows nothing
PLOTS_SHARE = 0.38                # of the height, for the plots and views on first launch
SIDE_WIDTHS = {"paletteDock": 200, "trainingDock": 340}   # first launch, px (scaled down on small screens)
CURVES_SHARE = 0.62               # of the Plots dock's width, for the curves beside the run list


def first_geometry(available: QRect) -> QRect:
    """The first window: FIRST_SIZE where it fits, else the available screen less the frame's room,
    centred (a 1400x900 window on a 1024x700 screen hid Start off-screen)."""
    width = min(FIRST_SIZE.width(), available.width() - FRAME_ROOM.width())
    height = min(FIRST_SIZE.height(), available.height() - FRAME_ROOM.height())
    rect = QRect(0, 0, max(width, 200), max(height, 200))
    rect.moveCenter(available.center())
    return rect


def default_sizes(window: QMainWindow) -> None:
    """Most of the height to the editor; the side docks at their first widths, narrower on a small window."""
    window.layout().activate()   # a window built while shown has not placed its new docks yet
    plots, views = window.findChild(QDockWidget, "plotsDock"), window.findChild(QDockWidget, "viewsDock")
    window.resizeDocks([plots], [int(window.height() * PLOTS_SHARE)], Qt.Vertical)
    half = window.width() // 2   # the views (what the model does) as large as the curves
    window.resizeDocks([plots, views], [half, window.width() - half], Qt.Horizontal)
    scale = min(1.0, window.width() / FIRST_SIZE.width() * 1.25)   # 1024 px: palette 183, training 311
    docks = [window.findChild(QDockWidget, name) for name in SIDE_WIDTHS]
    window.resizeDocks(docks, [int(w * scale) for w in SIDE_WIDTHS.values()], Qt.Horizontal)
    window.layout().activate()   # now, not at the next pass of the event loop
    split_plots(window)


def split_plots(window: QMainWindow) -> None:
    """Most of the Plots dock to the curves: left to its size hint, the run list's many columns took
    half of it and left a loss plot 140 px wide at 1024x700 (the list scrolls sideways instead)."""
    splitter = window.findChild(QSplitter, "plotsSplitter")
    if splitter is not None and splitter.count() == 2:
        whole = max(splitter.width(), 2)
        curves = int(whole * CURVES_SHARE)
        splitter.setSizes([curves, whole - curves])


def layout_problem(window: QMainWindow) -> str | None:
    """Why the window's current layout is not usable, or None: the editor at least EDITOR_MIN, every
    docked dock between DOCK_MIN and its share of the window, every floating dock on a screen."""
    editor = window.centralWidget()
    if editor.width() < EDITOR_MIN.width() or editor.height() < EDITOR_MIN.height():
        return f"the editor would be {editor.width()}x{editor.height()} px"
    for dock in window.findChildren(QDockWidget):
        if dock.isHidden() or (not dock.isFloating() and dock.visibleRegion().isEmpty()):
            continue   # closed, or tabbed behind another dock (Qt parks those off the window)
        name = dock.windowTitle()
        if dock.isFloating():
            if not any(screen.availableGeometry().intersects(dock.frameGeometry())
                       for screen in QGuiApplication.screens()):
                return f"the {name} dock would float off every screen"
            continue
        area = window.dockWidgetArea(dock)
        side = area in (Qt.LeftDockWidgetArea, Qt.RightDockWidgetArea)
        size, whole, share = ((dock.width(), window.width(), SIDE_DOCK_MAX) if side
                              else (dock.height(), window.height(), BOTTOM_DOCK_MAX))
        if size > whole * share or min(dock.width(), dock.height()) < DOCK_MIN:
            return f"the {name} dock would be {dock.width()}x{dock.height()} px in a {window.width()}x{window.height()} window"
    return None


def keep_editor_usable(editor: QWidget) -> None:
    """The main window's layout never gives the central widget less than its minimum size."""
    editor.setMinimumSize(EDITOR_MIN)


def scrolled(content: QWidget) -> QScrollArea:
    """`content` in a frameless scroll area, so that a dock holding it keeps the size the user gave
    it: without one, a view whose content grows (a longer caption while drawing, another project's
    tabs) raised the dock's minimum size and the dock, and the canvas in it, moved mid-stroke. Too
    small a dock scrolls instead of pushing the editor aside."""
    area = QScrollArea()
    area.setObjectName(f"{content.objectName()}Scroll")
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.NoFrame)
    area.setFocusPolicy(Qt.NoFocus)   # a Tab stop that shows nothing; the wheel still scrolls it
    area.setWidget(content)
    return area


def stacked(*widgets: QWidget) -> QWidget:
    """The widgets one above the other, without margins (the run list over its timeline)."""
    from PySide6.QtWidgets import QVBoxLayout

    box = QWidget()
    column = QVBoxLayout(box)
    column.setContentsMargins(0, 0, 0, 0)
    for i, widget in enumerate(widgets):
        column.addWidget(widget, 1 if i == 0 else 0)
    return box
