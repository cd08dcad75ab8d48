"""The main toolbar and the View menu's looks: the first hour's actions in one row with their icons
(the menus' own QActions, so every key is still bound once), Pause beside Start and Stop, the views
made large on request, and the text size."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QObject, QSize, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QStyle, QToolBar

from . import layout
from .text_size import TextSize

LARGE_VIEWS_SHARE = 0.72   # of the window's height and width, for the Views dock made large


class LargeViews(QObject):
    """View > Large views: the Views dock (decision boundary, gallery, drawing) takes most of the
    window; unchecked, every dock goes back to the size it had."""

    def __init__(self, window: QMainWindow, action: QAction):
        super().__init__(window)
        self.window, self.action = window, action
        self._saved: QByteArray | None = None
        action.setCheckable(True)
        action.toggled.connect(self._on_action_toggled)

    def state_to_save(self) -> QByteArray:
        """The layout to keep for the next launch: the one before the views were made large."""
        return QByteArray(self._saved) if self._saved is not None else self.window.saveState()

    def forget(self) -> None:
        """Reset layout put every dock back: nothing to restore when unchecked."""
        self._saved = None
        self.action.blockSignals(True)
        self.action.setChecked(False)
        self.action.blockSignals(False)

    def _on_action_toggled(self, large: bool) -> None:
        w = self.window
        if not large:
            if self._saved is not None:
                w.restoreState(self._saved)
                w.layout().activate()
                layout.split_plots(w)   # squeezed while the views were large, the run list kept the room
            self._saved = None
            return
        self._saved = w.saveState()
        views, plots = w.findChild(QDockWidget, "viewsDock"), w.findChild(QDockWidget, "plotsDock")
        views.show()
        views.raise_()
        w.layout().activate()
        room = w.height() - layout.EDITOR_MIN.height()
        w.resizeDocks([views], [min(room, int(w.height() * LARGE_VIEWS_SHARE))], Qt.Vertical)
        if plots.isVisible() and not plots.isFloating() and w.dockWidgetArea(plots) == w.dockWidgetArea(views):
            wide = int(w.width() * LARGE_VIEWS_SHARE)
            w.resizeDocks([plots, views], [w.width() - wide, wide], Qt.Horizontal)
        w.layout().activate()


class RunActions(QObject):
    """Start, Pause/Resume and Stop as actions that follow the training panel's buttons."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.pause = QAction("&Pause", window, objectName="pauseAction")
        self.pause.triggered.connect(lambda: window.panel.pause_button.click())   # the panel's own path
        window.panel.state_changed.connect(self._on_panel_state_changed)
        self._on_panel_state_changed(window.panel._state)

    def _on_panel_state_changed(self, state: str) -> None:
        w, style = self.window, self.window.style()
        idle, paused = state == "idle", state == "paused"
        self.pause.setEnabled(not idle)
        self.pause.setText("&Resume" if paused else "&Pause")
        self.pause.setToolTip(w.panel.pause_button.toolTip())
        self.pause.setIcon(style.standardIcon(QStyle.SP_MediaPlay if paused else QStyle.SP_MediaPause))
        w.stop_action.setEnabled(not idle)
        w.start_action.setEnabled(w.panel.start_button.isEnabled())


def install_looks(window, training_menu: QMenu, view_menu: QMenu) -> None:
    """The toolbar, Pause in the Training menu, and View's Large views and text size entries."""
    run = RunActions(window)
    training_menu.insertAction(window.stop_action, run.pause)
    window.run_actions = run

    view_menu.addSeparator()
    large = window._action("&Large views", lambda: None, "Ctrl+Shift+M", view_menu)
    large.setToolTip("Give the views (decision boundary, gallery, drawing) most of the window; again to "
                     "bring the other panels back")
    window.large_views = LargeViews(window, large)
    text = TextSize(window.settings, window)
    window.text_size = text
    window.larger_text_action = window._action("Lar&ger text", text.larger, None, view_menu)
    window.larger_text_action.setShortcuts([QKeySequence("Ctrl+="), QKeySequence("Ctrl++")])
    window.smaller_text_action = window._action("S&maller text", text.smaller, "Ctrl+-", view_menu)
    window.reset_text_action = window._action("Reset te&xt size", text.reset, "Ctrl+0", view_menu)

    style, icon = window.style(), QStyle.StandardPixmap
    large.setIcon(style.standardIcon(icon.SP_TitleBarMaxButton))
    bar = QToolBar("Toolbar", window, objectName="mainToolBar")
    bar.setMovable(False)
    bar.setIconSize(QSize(18, 18))
    bar.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
    bar.toggleViewAction().setText("&Toolbar")
    files = {a.text(): a for a in window.file_menu.actions()}
    groups = ((files["&New"], files["&Open…"], files["&Save"]), (window.undo_action, window.redo_action),
              (window.start_action, run.pause, window.stop_action), (window.find_layer_action, large))
    for i, group in enumerate(groups):
        if i:
            bar.addSeparator()
        bar.addActions(list(group))
    for action in (*groups[0], *groups[1], window.find_layer_action):   # known by their icons: no text
        bar.widgetForAction(action).setToolButtonStyle(Qt.ToolButtonIconOnly)
    for action in (*groups[0], run.pause, window.find_layer_action, large):   # the tooltip says the key too
        keys = action.shortcut().toString(QKeySequence.NativeText)
        tip = action.toolTip() or action.text().replace("&", "")
        if keys and keys not in tip:
            action.setToolTip(f"{tip} ({keys})")
    window.addToolBar(Qt.TopToolBarArea, bar)
    window.toolbar = bar
    view_menu.insertAction(view_menu.actions()[0], bar.toggleViewAction())
