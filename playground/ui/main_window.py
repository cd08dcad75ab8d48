"""The main window: composes palette, editor, training panel and plots, and wires their signals.

This module imports neither torch nor anything that does, so that the app can paint the window
while torch loads (about 1.3 s of a cold start): MainWindow(build=False) is a bare frame, and
build() composes the panels, importing them, once `TorchLoader` has imported torch off the GUI thread.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QGraphicsView,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStyle,
)

from ..resources_path import resource_path
from . import layout, shortcuts
from .errors import ExceptionHook
from .field_keys import install_field_key_guard
from .focus_ring import install_focus_rings
from .gc_guard import MainThreadGarbageCollector
from .probe import install_probe
from .toolbar import install_looks
from .wheel import install_wheel_guard

if TYPE_CHECKING:
    from ..core.recovery import RecoveryStore
    from ..core.spec import Project
    from .command_dialog import TrainingCommandDialog
    from .lr_finder_dialog import LRFinderDialog

STARTUP_PROBE = "PLAYGROUND_STARTUP_PROBE"  # set: print the start-up times as JSON and quit (benchmarks/startup.py)
# What the panels need from the core: torch and the modules on top of it, all free of Qt, so
# importing them in another thread cannot touch a widget.
TORCH_MODULES = ("torch", "playground.core.training", "playground.core.shapes", "playground.core.evaluation",
                 "playground.core.checkpoint", "playground.core.lr_finder")


# The freedesktop id: packaging/DESKTOP_ID.desktop, the AppStream metainfo and the icon all use it.
DESKTOP_ID = "io.github.playground.Playground"


class MainWindow(QMainWindow):
    """Palette | network editor | training panel, plots below. Constructible with no arguments;
    with build=False only the frame, until build() is called."""

    def __init__(self, project: Project | None = None, path: str | Path | None = None,
                 settings: QSettings | None = None, recovery: RecoveryStore | None = None, *,
                 build: bool = True):
        super().__init__()
        install_wheel_guard()   # before any field is polished: every one gets StrongFocus
        install_field_key_guard()   # a focused text field keeps its keys from the panels' shortcuts
        install_focus_rings()   # a clear ring where the keyboard is (Fusion's mark on a check box is faint)
        self.setObjectName("mainWindow")
        self.settings = settings or QSettings()
        self._recovery_store = recovery
        self.built = False
        self._terminating = False   # SIGTERM: close without questions nobody is there to answer
        self._layout_pending = False   # the docks' first sizes wait for build() and the first show
        self._state_restored = False
        self.setWindowTitle("Playground")
        self.setGeometry(layout.first_geometry(self.screen().availableGeometry()))
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)   # the frame already sits where the window was left
        elif geometry is not None:
            from .files import reset_setting

            reset_setting(self, "window/geometry", geometry, "a saved geometry")
        if build:
            self.build(project, path)
        else:
            loading = QLabel("Loading PyTorch…")
            loading.setAlignment(Qt.AlignCenter)
            loading.setEnabled(False)
            self.setCentralWidget(loading)

    def build(self, project: Project | None = None, path: str | Path | None = None) -> None:
        """Compose the panels (importing them, and so torch) and wire them."""
        from ..core.recovery import RecoveryStore
        from .archive import RunArchive
        from .code_panel import CodePanel
        from .document import ProjectDocument
        from .editor import NetworkEditor
        from .files import FileActions
        from .palette import LayerPalette
        from .plots import TrainingPlots
        from .recovery import RecoveryAutosave
        from .runs import RunList
        from .session import TrainingSession
        from .timeline import RunTimeline
        from .training_panel import TrainingPanel
        from .views.panel import ViewsPanel

        self.document = ProjectDocument(project)
        if path:
            self.document.path = Path(path)

        self.palette = LayerPalette()
        self.editor = NetworkEditor(self.document)
        self.panel = TrainingPanel(self.document)
        self.panel.remember_sections(self.settings, self.screen().availableGeometry().height())
        self.plots = TrainingPlots()
        self.runs = RunList(self.plots)
        self.views = ViewsPanel()
        self.code = CodePanel(self.document)
        self.session = TrainingSession(self)
        self.archive = RunArchive(self)   # every run kept in the project's run store
        self.runs.archive = self.archive
        self.timeline = RunTimeline(self)
        self.files = FileActions(self)

        self.setCentralWidget(self.editor)
        self._dock("Layers", self.palette, "paletteDock")
        self._dock("Training", self.panel, "trainingDock")
        self.code_dock = self._dock("Code", self.code, "codeDock")
        bottom = QSplitter(Qt.Horizontal)
        bottom.setObjectName("plotsSplitter")
        bottom.addWidget(self.plots)
        bottom.addWidget(layout.stacked(self.runs, self.timeline))
        bottom.setStretchFactor(0, 3)
        bottom.setStretchFactor(1, 1)
        self._dock("Plots", layout.scrolled(bottom), "plotsDock")
        self.views_dock = self._dock("Views", layout.scrolled(self.views), "viewsDock")
        self._arrange_docks()
        layout.keep_editor_usable(self.editor)
        self._build_menus()
        self._wire()
        self.recovery = RecoveryAutosave(self, self._recovery_store or RecoveryStore())
        self._state_restored = self._restore_settings()
        self._layout_pending = True
        self.built = True
        self._on_document_changed()
        self._update_title()
        self.archive.open_for_document()   # the project's stored runs back in the list and the plots
        self.timeline.refresh()
        if self.isVisible():   # built into a shown frame: size the docks once Qt has placed them
            QTimer.singleShot(0, self._first_layout)

    # --- construction ------------------------------------------------------------------------

    def _dock(self, title: str, widget, name: str) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable
                         | QDockWidget.DockWidgetClosable)
        return dock

    def _arrange_docks(self) -> None:
        """Palette left; Training with Code tabbed behind it on the right; plots and views below."""
        docks = {dock.objectName(): dock for dock in self.findChildren(QDockWidget)}
        for name, area in (("paletteDock", Qt.LeftDockWidgetArea), ("trainingDock", Qt.RightDockWidgetArea),
                           ("codeDock", Qt.RightDockWidgetArea), ("plotsDock", Qt.BottomDockWidgetArea),
                           ("viewsDock", Qt.BottomDockWidgetArea)):
            docks[name].setFloating(False)
            self.addDockWidget(area, docks[name])
            docks[name].show()
        self.tabifyDockWidget(docks["trainingDock"], docks["codeDock"])
        self.splitDockWidget(docks["plotsDock"], docks["viewsDock"], Qt.Horizontal)
        docks["trainingDock"].raise_()

    def _action(self, text: str, slot, shortcut=None, menu=None) -> QAction:
        action = QAction(text, self)
        if isinstance(shortcut, QKeySequence.StandardKey):
            action.setShortcuts(shortcuts.standard_keys(shortcut))   # all of the platform's, not the first
        elif shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        if menu is not None:
            menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        self.file_menu = bar.addMenu("&File")
        self.files.build_menu(self.file_menu)

        edit = bar.addMenu("&Edit")
        undo = self.document.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcuts(shortcuts.standard_keys(QKeySequence.Undo))
        redo = self.document.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcuts(shortcuts.redo_keys())
        edit.addActions([undo, redo])
        self.undo_action, self.redo_action = undo, redo
        edit.addSeparator()
        self.find_layer_action = self._action("&Find layer…", self.find_layer, QKeySequence.Find, edit)
        self.find_layer_action.setToolTip("Type part of a layer's name, Enter to pick the first match, "
                                          "Enter again to append it")

        training = bar.addMenu("&Training")
        self.start_action = self._action("&Start", self.session.start, "F5", training)
        self.stop_action = self._action("S&top", self.session.stop, "Shift+F5", training)
        # beside Start and Stop's F5: F6 trains a step, Shift+F6 an epoch, and pauses there
        self.step_action = self._action("Train one ste&p", lambda: self.session.step("step"), "F6", training)
        self.epoch_action = self._action("Train one &epoch", lambda: self.session.step("epoch"), "Shift+F6",
                                         training)
        training.addSeparator()
        self._action("&Compare optimizers (SGD, Momentum, RMSprop, Adam)", self.session.compare_optimizers,
                     None, training)
        self.lr_finder_action = self._action("&Find learning rate…", self.open_lr_finder, None, training)
        self.sweep_action = self._action("S&weep…", self.open_sweep, None, training)
        self.sweep_action.setToolTip("Train one run per combination of settings and compare them")
        self.race_action = self._action("&A/B race…", self.open_race, None, training)
        self.race_action.setToolTip("Train the project and a copy with other settings in lock-step, epoch by "
                                    "epoch, from the same initial weights")
        training.addSeparator()
        self.command_action = self._action("&Export training command…", self.export_training_command, None,
                                           training)
        self.command_action.setToolTip("Save the project and show the torchrun commands that train it on "
                                       "more GPUs or machines")

        view = bar.addMenu("&View")
        for dock in self.findChildren(QDockWidget):
            view.addAction(dock.toggleViewAction())
        view.addSeparator()
        self.reset_layout_action = self._action("&Reset layout", self.reset_layout, None, view)
        self.reset_layout_action.setToolTip("Every panel back in its place, at its first size")

        help_menu = bar.addMenu("&Help")
        self.examples_menu = help_menu.addMenu("&Examples")
        self.files.build_examples_menu(self.examples_menu)
        self._action("&About Playground", self._on_about_triggered, None, help_menu)
        self._set_icons()
        install_looks(self, training, view)   # the toolbar, Pause, Large views, the text size

    def _set_icons(self) -> None:
        """The platform style's icons on the main actions, so they read at a glance in the menus."""
        style, icon = self.style(), QStyle.StandardPixmap
        files = {a.text(): a for a in self.file_menu.actions()}
        for action, pixmap in ((files.get("&New"), icon.SP_FileIcon), (files.get("&Open…"), icon.SP_DialogOpenButton),
                               (files.get("&Save"), icon.SP_DialogSaveButton), (self.undo_action, icon.SP_ArrowBack),
                               (self.redo_action, icon.SP_ArrowForward), (self.start_action, icon.SP_MediaPlay),
                               (self.stop_action, icon.SP_MediaStop), (self.reset_layout_action, icon.SP_BrowserReload),
                               (self.find_layer_action, icon.SP_FileDialogContentsView)):
            if action is not None:
                action.setIcon(style.standardIcon(pixmap))

    def _wire(self) -> None:
        from .runs import use_run

        self.palette.layer_activated.connect(self._on_palette_layer_activated)
        self.document.network_changed.connect(self._on_document_changed)
        self.document.settings_changed.connect(self._on_document_changed)
        self.document.clean_changed.connect(self._update_title)
        self.document.path_changed.connect(self._update_title)
        self.panel.start_requested.connect(self.session.start)
        self.panel.pause_toggled.connect(self.session.set_paused)
        self.panel.stop_requested.connect(self.session.stop)
        self.panel.step_requested.connect(self.session.step)
        self.panel.state_changed.connect(self._on_panel_state_changed)
        self._on_panel_state_changed()
        self.runs.visibility_changed.connect(self.plots.set_run_visible)
        self.session.weights_changed.connect(self._on_session_weights_changed)
        self.editor.layer_selected.connect(self.views.layer_output.set_layer)
        self.document.locked_changed.connect(self._on_document_locked_changed)
        self.document.opened.connect(self._on_document_opened)
        self.runs.load_requested.connect(lambda run_id: use_run(self, run_id))
        self.runs.continue_requested.connect(lambda run_id: use_run(self, run_id, then_continue=True))
        self.runs.table.itemSelectionChanged.connect(self._on_runs_selection_changed)
        self.archive.recorded.connect(self._on_archive_recorded, Qt.QueuedConnection)   # from the writing thread
        self.session.run_finished.connect(lambda *_: self.timeline.refresh())   # scrub it now that it ended
        self.document.path_changed.connect(self._on_document_path_changed)
        self._code_stops: dict = {}
        self.code_dock.visibilityChanged.connect(self._on_code_dock_visibility_changed)
        self._sync_code_tab_stops()   # built tabbed behind Training; a restored state may raise it
        for canvas in self.findChildren(QGraphicsView):   # plots and view canvases draw no focus: no Tab stop
            canvas.setFocusPolicy(Qt.ClickFocus if canvas.focusPolicy() != Qt.NoFocus else Qt.NoFocus)

    # --- reactions ---------------------------------------------------------------------------

    def _on_palette_layer_activated(self, type_name: str) -> None:
        if self.document.locked:
            self.statusBar().showMessage("Training — stop the run to edit the network", 4000)
            return
        self.document.append_layer(type_name)

    def _on_document_changed(self) -> None:
        if not self.document.locked:  # during a run the views follow the run, not the edits
            self.views.set_project(self.document.project)
            self._on_session_weights_changed()
        reason = self.start_blocker()
        if reason is None:   # the warm training process loads the data while the user looks
            from .worker import worker_pool

            project = self.document.project
            worker_pool().prefetch(project.data.to_dict(), project.training.device)
        self.panel.set_start_blocked(reason)
        self.start_action.setEnabled(reason is None)
        self.start_action.setToolTip(reason or "Train the network (F5)")
        if reason:
            self.statusBar().showMessage(f"Cannot train yet: {reason}")
        else:
            self.statusBar().clearMessage()
        self.session.update_continue()
        self._order_tab_stops()

    def _on_runs_selection_changed(self) -> None:
        self.timeline.set_run(self.runs.selected_run())

    def _on_archive_recorded(self, run_id: int) -> None:
        if run_id == self.timeline.run_id:
            self.timeline.refresh()

    def _on_document_path_changed(self) -> None:
        if self.built and not self.document.locked:
            self.archive.open_for_document()   # saved under a new name: its runs go beside the file from now on
            self.timeline.refresh()

    def open_sweep(self):
        """Training > Sweep: parameters and values, run one after another, the results compared."""
        from .sweep_dialog import SweepDialog

        dialog = getattr(self, "sweep_dialog", None)
        if dialog is None:
            dialog = self.sweep_dialog = SweepDialog(self)
        dialog.show()
        dialog.raise_()
        return dialog

    def open_race(self):
        """Training > A/B race: what B changes; both train in lock-step (ui/race.py)."""
        from .race import RaceDialog

        dialog = getattr(self, "race_dialog", None)
        if dialog is None:
            dialog = self.race_dialog = RaceDialog(self)
        dialog.show_a()
        dialog.status.clear()
        dialog.show()
        dialog.raise_()
        return dialog

    def _on_document_opened(self) -> None:
        # what the last project's runs left on screen is not about this one (the runs stay listed)
        if self.built:
            self.archive.open_for_document()   # and the runs stored beside it join them
            self.timeline.refresh()
        self.panel.forget_runs()
        self.views.health.clear()
        self.views.layer_output.set_layer(-1)
        kept = [self.runs.run_name(r) for r in self.runs.unsaved_runs()]
        if kept:   # nothing is lost by opening: say where the weights are
            self.statusBar().showMessage(f"The weights of {', '.join(kept)} stay in the run list: right-click a "
                                         "run to load, continue from or export them", 10000)

    def _on_code_dock_visibility_changed(self, _visible: bool) -> None:
        QTimer.singleShot(0, self._sync_code_tab_stops)   # once the dock area has placed the tabs

    def _sync_code_tab_stops(self) -> None:
        # Behind the Training tab the code editor is out of sight but not out of Tab's reach (Qt
        # counts a dock tabbed away as visible), and it keeps Tab for indenting: Tab fell into it
        # and stayed there, unseen. Its stops are off while it is out of sight.
        from .focus import tab_stops

        in_sight = self.code_dock.isVisible() and not self.code_dock.visibleRegion().isEmpty()
        if not in_sight and not self._code_stops:
            self._code_stops = {widget: widget.focusPolicy() for widget in tab_stops(self.code)}
            for widget in self._code_stops:
                widget.setFocusPolicy(Qt.NoFocus)
        elif in_sight and self._code_stops:
            for widget, policy in self._code_stops.items():
                widget.setFocusPolicy(policy)
            self._code_stops = {}

    def _order_tab_stops(self) -> None:
        """Tab walks the window as it reads: palette, editor, each card's fields, the training
        settings, the run buttons (see ui/focus.py); rebuilt forms and new cards join in place."""
        from .focus import chain, tab_stops

        stops = [self.palette.search, self.palette.tree, self.editor, *tab_stops(self.editor.column),
                 *tab_stops(self.panel)]
        chain([w for w in stops if w.focusPolicy() != Qt.NoFocus])
    def _on_panel_state_changed(self, state: str = "") -> None:
        self.step_action.setEnabled(self.panel.step_button.isEnabled())
        self.epoch_action.setEnabled(self.panel.epoch_button.isEnabled())

    def _on_document_locked_changed(self, locked: bool) -> None:
        # undo/redo bypass the edit methods' lock check: switch them off while a run trains
        stack = self.document.undo_stack
        self.undo_action.setEnabled(not locked and stack.canUndo())
        self.redo_action.setEnabled(not locked and stack.canRedo())
        self.lr_finder_action.setEnabled(not locked)
        self.files.update_weight_actions()
        if not locked:
            self._on_document_changed()

    def _on_session_weights_changed(self) -> None:
        weights = self.session.weights
        fits = weights is not None and weights.fits(self.document.network)
        self.views.set_weights(weights.model if fits else None)

    def find_layer(self) -> None:
        """Edit > Find layer (Ctrl+F): the palette's search, from wherever the keyboard is."""
        dock = self.findChild(QDockWidget, "paletteDock")
        dock.show()
        dock.raise_()
        self.palette.search.setFocus(Qt.ShortcutFocusReason)
        self.palette.search.selectAll()

    def open_lr_finder(self) -> LRFinderDialog | None:
        """The range test on a fresh copy of the model; Apply sets the optimizer's lr, or OneCycleLR's
        max_lr when it schedules the run (undoably)."""
        reason = "a run is training" if self.document.locked else self.start_blocker()
        if reason:
            self.statusBar().showMessage(f"Cannot search yet: {reason}", 6000)
            return None
        from .lr_finder_dialog import LRFinderDialog

        # the range test belongs before training: it starts from the seed's fresh weights
        dialog = LRFinderDialog(self.document.project, None, self)
        dialog.lr_applied.connect(lambda lr: self.document.set_component_param(*dialog.setting, lr))
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def export_training_command(self) -> TrainingCommandDialog | None:
        """Save the project (asking where if it has no file yet) and show the torchrun lines for it."""
        reason = self.start_blocker(device=False)   # the commands choose the device
        if reason:
            self.statusBar().showMessage(f"Cannot export a training command yet: {reason}", 6000)
            return None
        if not self.files.save():
            return None
        from .command_dialog import TrainingCommandDialog

        dialog = TrainingCommandDialog(self.document.project, self.document.path, self)
        dialog.copied.connect(lambda _: self.statusBar().showMessage("Copied the command line", 3000))
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def start_blocker(self, device: bool = True) -> str | None:
        """Why Start is disabled, in the words of the core, or None when the run can start (`device`:
        whether this machine must have the project's device)."""
        from ..core.errors import PlaygroundError
        from ..core.training import check_trainable

        doc = self.document
        if not doc.layers:
            return "the network has no layers — drag some from the palette"
        info = doc.network_info
        if not info.ok:
            return info.error
        if doc.data_error:
            return doc.data_error
        try:
            check_trainable(doc.project, doc.data_info, device=device)   # the run's own checks (weights too)
        except PlaygroundError as e:
            return str(e)
        return None

    def _update_title(self, *_) -> None:
        self.setWindowTitle(f"{self.document.name}[*] — Playground")
        self.setWindowModified(not self.document.is_clean)

    def _on_about_triggered(self) -> None:
        import torch

        from .. import __version__

        QMessageBox.about(
            self, "About Playground",
            f"<b>Playground {__version__}</b><br>A desktop neural-network playground for PyTorch."
            f"<br><br>torch {torch.__version__} · Python {sys.version.split()[0]}",
        )

    # --- settings and closing ----------------------------------------------------------------

    def _restore_settings(self) -> bool:
        """The docks' layout; the geometry was restored with the frame (a window moved while torch
        loaded stays where it was moved)."""
        state = self.settings.value("window/state")
        if state is not None and not isinstance(state, QByteArray):
            from .files import reset_setting

            reset_setting(self, "window/state", state, "a saved dock layout")
        return isinstance(state, QByteArray) and self.restoreState(state)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._first_layout()

    def _first_layout(self) -> None:
        """Once, when the built window is first shown: the default sizes, or the restored ones if they
        leave every panel usable (see ui/layout.py)."""
        if not self._layout_pending:
            return
        self._layout_pending = False
        if not self._state_restored:
            layout.default_sizes(self)
            return
        # again, now that Qt has placed the docks: restored into docks just added to a shown frame (the
        # real start-up), the side docks took the room the editor had not claimed yet, and a relaunch
        # brought back a palette of a third of the window
        self.layout().activate()
        self._restore_settings()
        self.layout().activate()   # the restored sizes, applied to this window now
        layout.split_plots(self)   # the dock state keeps the docks' sizes, not the splitter inside one
        problem = layout.layout_problem(self)
        if problem:
            self.reset_layout()
            self.statusBar().showMessage(f"The saved layout did not fit this window ({problem}); "
                                         "back to the default layout", 10000)

    def reset_layout(self) -> None:
        """View > Reset layout: every dock shown, docked where it started, at the first sizes."""
        self.large_views.forget()
        self._arrange_docks()
        self.layout().activate()
        layout.default_sizes(self)

    def _save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.large_views.state_to_save())
        self.settings.sync()

    def terminate(self) -> None:
        """SIGTERM (kill, logout, a session manager): as Ctrl-C does for `train`, stop the run and
        keep the work — unsaved changes go to the recovery file, which the next start offers."""
        if self._terminating:
            return
        self._terminating = True
        if self.built:
            keep = not self.document.is_clean and self.recovery.save_now()
            self.session.shutdown()
            self._save_settings()
            if keep:
                self.recovery.timer.stop()   # the file stays: this process ends, and with it the lock
            else:
                self.recovery.close()
        QApplication.quit()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.built or self._terminating:   # torch still loading, or terminate() kept the work
            event.accept()
            return
        if not self.files.maybe_save() or not self.runs.confirm_discarding("quitting"):
            event.ignore()
            return
        self.session.shutdown()
        self.archive.shutdown()   # the last run's end on disk before the window goes
        self._save_settings()
        self.recovery.close()
        event.accept()

    def offer_recovery(self) -> bool:
        """After a crash: offer the projects it left autosaved (see ui/recovery.py)."""
        from .recovery import offer_recovery

        return offer_recovery(self, self.recovery.store)


def app_icon() -> QIcon:
    """The SVG, plus rendered sizes for where no SVG plugin is loaded (a trimmed bundle, some WMs)."""
    icon = QIcon(str(resource_path("icons", "playground.svg")))
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        icon.addFile(str(resource_path("icons", f"playground-{size}.png")))
    return icon


class TorchLoader(QObject):
    """Imports torch and the core in a thread while the GUI thread paints the frame and stays live.
    The GUI thread must not import those modules meanwhile (it would wait on the import lock)."""

    loaded = Signal(object)   # None, or the exception the import raised

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.done = False
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._load, name="TorchLoader")
        self.thread.start()

    def wait(self) -> None:
        """Closing while torch loads: the import ends before the interpreter starts shutting down
        (Python joins other threads only after it has begun, and a half-done import then fails)."""
        if self.thread is not None:
            self.thread.join()

    def _load(self) -> None:
        import importlib

        try:
            for name in TORCH_MODULES:
                importlib.import_module(name)
            from ..core.shapes import infer_shapes
            from ..core.spec import LayerSpec, NetworkSpec

            # the first shape check on meta tensors loads torch's decompositions and torch._dynamo
            # (a second or more): here, not in the GUI thread's first look at the network
            infer_shapes(NetworkSpec([2], [LayerSpec("Linear", {"out_features": 2}), LayerSpec("ReLU")]))
        except BaseException as e:  # noqa: BLE001 — build() in the GUI thread shows it (by import again)
            self._finish(e)
        else:
            self._finish(None)

    def _finish(self, error) -> None:
        self.done = True
        try:
            self.loaded.emit(error)
        except RuntimeError:
            pass  # the window was closed while torch loaded: nobody waits for it any more


class _Launcher(QObject):
    """Builds the window in the GUI thread once the loader has imported torch, then opens the file."""

    def __init__(self, window: MainWindow, path: str | None, collector: MainThreadGarbageCollector):
        super().__init__(window)
        self.window, self.path, self.collector = window, path, collector
        self.loader = TorchLoader(self)
        self.probe = _StartupProbe(window, self.loader) if os.environ.get(STARTUP_PROBE) else None
        self.loader.loaded.connect(self._on_loader_loaded)   # emitted in the loader's thread: queued here

    def start(self) -> None:
        self.loader.start()

    @Slot(object)
    def _on_loader_loaded(self, error) -> None:
        self.window.build()   # an import error raises here again, and the exception hook shows it
        if self.path:
            self.window.files.open_path(self.path)
        self.collector.settle()
        self.collector.follow(self.window.session)
        # the training process starts once the window has painted; Start then finds it ready
        from .worker import worker_pool

        QTimer.singleShot(0, worker_pool().warm_up)
        if self.probe is None:  # after a crash: offer what it left autosaved, once the window is up
            QTimer.singleShot(0, self.window.offer_recovery)
        if self.probe is not None:
            self.probe.report_when_built()


class _StartupProbe(QObject):
    """Records the window's first paint and when it is built, prints both (epoch seconds) and quits."""

    def __init__(self, window: MainWindow, loader: TorchLoader):
        super().__init__(window)
        self.window, self.loader = window, loader
        self.painted: float | None = None
        self.torch_at_paint = False
        window.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Paint and self.painted is None:
            self.painted = time.time()
            self.torch_at_paint = self.loader.done
        return False

    def report_when_built(self) -> None:
        self.window.repaint()   # the built window's own first paint belongs to "ready"
        import json

        print(json.dumps({"painted": self.painted, "ready": time.time(), "torch_at_paint": self.torch_at_paint}),
              flush=True)
        QTimer.singleShot(0, QApplication.quit)


def run_gui(argv: list[str]) -> int:
    app = QApplication.instance() or QApplication([sys.argv[0], *argv])
    app.setApplicationName("Playground")
    app.setOrganizationName("Playground")
    app.setDesktopFileName(DESKTOP_ID)  # lets Wayland match the window to the .desktop entry's icon
    app.setWindowIcon(app_icon())
    hook = ExceptionHook(lambda: QApplication.activeWindow())
    hook.install()
    collector = MainThreadGarbageCollector(app)
    collector.start()
    window = MainWindow(build=False)   # the frame paints now; the panels follow once torch is in
    install_probe(window)   # only with PLAYGROUND_DESKTOP_PROBE set: the desktop tests' read-back
    args = [a for a in app.arguments()[1:] if not a.startswith("-")]
    launcher = _Launcher(window, args[0] if args else None, collector)
    window.show()
    launcher.start()
    quit_on_sigterm(window)
    try:
        return app.exec()
    finally:
        launcher.loader.wait()
        worker = sys.modules.get(f"{__package__}.worker")
        if worker is not None:   # a run stopped mid-setup ends here, not under a dead QApplication
            worker.wait_for_training_threads()
        collector.stop()
        hook.uninstall()


def quit_on_sigterm(window: MainWindow) -> None:
    """SIGTERM calls window.terminate() instead of killing the process mid-run with nothing saved.

    Python runs a signal handler only between its own bytecodes, and the event loop is C++: the
    signal module writes the signal's number to a socket, and a notifier on it wakes Python up."""
    import signal
    import socket

    from PySide6.QtCore import QSocketNotifier

    if not hasattr(signal, "SIGTERM") or threading.current_thread() is not threading.main_thread():
        return
    receiver, sender = socket.socketpair()
    receiver.setblocking(False)
    sender.setblocking(False)
    signal.set_wakeup_fd(sender.fileno())
    signal.signal(signal.SIGTERM, lambda *_: QTimer.singleShot(0, window.terminate))
    notifier = QSocketNotifier(receiver.fileno(), QSocketNotifier.Read, window)

    def drain() -> None:
        try:
            receiver.recv(64)   # running this is what lets the handler above run
        except OSError:
            pass

    notifier.activated.connect(drain)
    window._sigterm = (receiver, sender, notifier)   # kept alive with the window
