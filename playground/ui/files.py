"""The File menu: projects, weights and checkpoints, recent files and examples; every failure explained."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QMenu, QMessageBox

from ..core.checkpoint import (
    apply_state_dict,
    describe_file,
    load_checkpoint,
    load_project_or_checkpoint,
    load_state_dict,
    save_checkpoint,
    save_weights,
)
from ..core.errors import PlaygroundError
from ..core.naming import match_in_order, original_state_dict
from ..core.exporting import FORMATS, export_model, export_script, format_for, weights_path
from ..core.resume import carry_over
from ..core.shapes import build_network
from ..core.spec import Project
from ..core.validation import defaults_used
from ..resources_path import example_path
from .data_folders import DataFolders
from .document import editor_refusal, new_project
from .mapping_dialog import WeightMappingDialog
from .session import TrainedWeights

PROJECT_FILTER = "Playground projects (*.json)"
WEIGHTS_FILTERS = "PyTorch state_dict (*.pt *.pth);;safetensors (*.safetensors)"
LOAD_FILTER = "Weights and checkpoints (*.pt *.pth *.ckpt *.safetensors);;All files (*)"
MODEL_FILTERS = "torch.export program (*.pt2);;ONNX (*.onnx)"
MAX_RECENT = 8
COMPARISON_EXAMPLE = "optimizer_comparison.json"


class FileActions:
    def __init__(self, window):
        self.window = window
        self.settings = window.settings
        self.recent_menu: QMenu | None = None
        # the folder that held each image dataset's files: remembered when seen, used by the examples
        self.data_folders = DataFolders(self.settings)
        window.document.data_defaults = self.data_folders.defaults
        window.document.settings_changed.connect(self._on_document_settings_changed)
        window.session.run_finished.connect(self._on_session_run_finished)

    @property
    def document(self):
        return self.window.document

    # --- menus -----------------------------------------------------------------------------

    def build_menu(self, menu: QMenu) -> None:
        add = self.window._action
        add("&New", self.new, QKeySequence.New, menu)
        add("&Open…", self.open, QKeySequence.Open, menu)
        self.recent_menu = menu.addMenu("Open &Recent")
        self._fill_recent()
        add("&Save", self.save, QKeySequence.Save, menu)
        add("Save &As…", self.save_as, QKeySequence("Ctrl+Shift+S"), menu)
        menu.addSeparator()
        self.export_action = add("&Export weights…", self.export_weights, None, menu)
        self.checkpoint_action = add("Save &checkpoint…", self.save_checkpoint, None, menu)
        add("&Load weights or checkpoint…", self.load_weights, None, menu)
        menu.addSeparator()
        self.script_action = add("Export as &Python script…", self.export_script, None, menu)
        self.model_action = add("Export &model (torch.export .pt2, ONNX)…", self.export_model, None, menu)
        menu.addSeparator()
        add("&Quit", self.window.close, QKeySequence.Quit, menu)
        menu.aboutToShow.connect(self.update_weight_actions)
        self.update_weight_actions()

    def build_examples_menu(self, menu: QMenu) -> None:
        menu.setToolTipsVisible(True)
        for path in sorted(example_path("").glob("*.json")):
            try:
                project = Project.load(path)
            except PlaygroundError:
                continue
            action = QAction(project.name, self.window)
            if project.description:   # what a tutorial walks through, before opening it
                action.setToolTip(project.description)
                action.setStatusTip(project.description)
            action.triggered.connect(lambda _=False, p=path: self.open_example(p))
            menu.addAction(action)

    def update_weight_actions(self) -> None:
        weights = self.window.session.weights
        ok = weights is not None and weights.fits(self.document.network)
        tip = "" if ok else "Train the network or load weights first"
        if self.document.locked:  # the run is changing the weights: save them once it ends
            ok, tip = False, "A run is training — stop it or wait for it to end"
        for action in self.weight_actions:
            action.setEnabled(ok)
            action.setToolTip(tip)
        fits = self.document.network_info.ok
        self.script_action.setEnabled(fits)
        self.script_action.setToolTip("" if fits else "The network does not fit yet")

    @property
    def weight_actions(self) -> tuple[QAction, ...]:
        """Actions that need weights that fit the network (and no run changing them)."""
        return (self.export_action, self.checkpoint_action, self.model_action)

    # --- projects --------------------------------------------------------------------------

    def _refuse_while_training(self) -> bool:
        if self.document.locked:
            self._warn("Training", "a run is training this project — stop it before opening another")
            return True
        return False

    def new(self) -> None:
        if not self._refuse_while_training() and self.maybe_save():
            self.document.open(new_project(), None)
            self.window.session.set_weights(None)

    def open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.window, "Open project or checkpoint", self._folder(),
            f"{PROJECT_FILTER};;Checkpoints (*.pt *.ckpt);;All files (*)",
        )
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path) -> bool:
        """Open a project, or a checkpoint with its project and weights."""
        if self._refuse_while_training():
            return False
        path = Path(path)
        try:
            kind, project, ckpt = load_project_or_checkpoint(path)
        except PlaygroundError as e:
            self._warn("Cannot open", str(e))
            return False
        too_long = editor_refusal(len(project.network.layers))
        if too_long:
            self._warn("Cannot open", f"{path}: {too_long}")
            return False
        if not self.maybe_save():
            return False
        self.document.open(project, path if kind == "project" else None)
        self.window.session.set_weights(TrainedWeights(ckpt) if ckpt else None)
        self._remember(path)
        notes = defaults_used(project)
        if notes:
            self.window.statusBar().showMessage("; ".join(notes), 15000)
        return True

    def open_example(self, path: Path) -> None:
        """Examples open as new, unsaved projects, so Save never writes into the installation."""
        if self._refuse_while_training() or not self.maybe_save():
            return
        project = Project.load(path)
        folder = self.data_folders.apply(project)
        self.document.open(project, None)
        self.window.session.set_weights(None)
        if folder:
            self.window.statusBar().showMessage(f"Data folder: {folder}, where the files were last found", 8000)
        if path.name == COMPARISON_EXAMPLE:
            self.window.session.compare_optimizers()

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self._save_to(self.document.path)

    def save_as(self) -> bool:
        suggested = str(Path(self._folder()) / f"{self.document.name}.json")
        path, _ = QFileDialog.getSaveFileName(self.window, "Save project", suggested, PROJECT_FILTER)
        if not path:
            return False
        if not path.lower().endswith(".json"):
            path += ".json"
        return self._save_to(Path(path))

    def _save_to(self, path: Path) -> bool:
        if self.document.path is not None and Path(path) == self.document.path and self.document.changed_on_disk():
            answer = QMessageBox.question(
                self.window, "File changed on disk",
                f"{path} has changed on disk since this window opened or saved it (another window or "
                "program saved it). Replace it with this version?",
                QMessageBox.Save | QMessageBox.Cancel, QMessageBox.Cancel,
            )
            if answer != QMessageBox.Save:
                self.window.statusBar().showMessage(f"Not saved: {path} changed on disk", 6000)
                return False
        try:
            self.document.save(path)
        except (PlaygroundError, OSError) as e:
            self._warn("Cannot save", str(e))
            return False
        self._remember(path)
        self.window.statusBar().showMessage(f"Saved {path}", 4000)
        return True

    def maybe_save(self) -> bool:
        """Ask about unsaved changes; False means the user cancelled."""
        if self.document.is_clean:
            return True
        answer = QMessageBox.question(
            self.window, "Unsaved changes",
            f"Save the changes to {self.document.name} first?",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save,
        )
        if answer == QMessageBox.Save:
            return self.save()
        return answer == QMessageBox.Discard

    # --- weights ---------------------------------------------------------------------------

    def export_weights(self) -> None:
        weights = self._current_weights()
        if weights is None:
            return
        suggested = str(Path(self._folder()) / f"{self.document.name}.pt")
        path, chosen = QFileDialog.getSaveFileName(self.window, "Export weights", suggested, WEIGHTS_FILTERS)
        if path:
            fmt = "safetensors" if path.endswith(".safetensors") or "safetensors" in chosen else "state_dict"
            self.export_weights_to(path, fmt)

    def export_weights_to(self, path: str | Path, fmt: str = "state_dict") -> bool:
        weights = self._current_weights()
        if weights is None:
            return False
        return self._write(path, "Cannot export weights",
                           lambda: save_weights(original_state_dict(weights.network, weights.model), path, format=fmt),
                           lambda _: f"Exported weights to {path}", saved=weights)

    def save_checkpoint(self) -> None:
        if self._current_weights() is None:
            return
        suggested = str(Path(self._folder()) / f"{self.document.name}.checkpoint.pt")
        path, _ = QFileDialog.getSaveFileName(self.window, "Save checkpoint", suggested, "Checkpoints (*.pt)")
        if path:
            self.save_checkpoint_to(path)

    def save_checkpoint_to(self, path: str | Path) -> bool:
        w = self._current_weights()
        if w is None:
            return False
        checkpoint, _ = carry_over(w.state, self.document.project)   # what the open project can continue
        return self._write(path, "Cannot save checkpoint", lambda: save_checkpoint(checkpoint, path),
                           lambda _: f"Saved checkpoint {path}", saved=w)

    def load_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Load weights or checkpoint", self._folder(), LOAD_FILTER)
        if path:
            self.load_weights_from(path)

    def load_weights_from(self, path: str | Path) -> bool:
        """Weights into the current network; a checkpoint may instead open with its own project."""
        path = Path(path)
        if self.document.locked:
            self._warn("Cannot load weights", "the network is training — stop the run first")
            return False
        try:
            kind = describe_file(path)
            ckpt = load_checkpoint(path) if kind == "checkpoint" else None
            state = ckpt.model if ckpt else load_state_dict(path)
        except PlaygroundError as e:
            self._warn("Cannot load weights", str(e))
            return False
        try:
            if ckpt is not None and ckpt.project.network != self.document.network:
                answer = QMessageBox.question(
                    self.window, "Checkpoint with its own project",
                    f"{path.name} carries its project “{ckpt.project.name}”. Open that project with "
                    "its weights (replacing the current one)?",
                    QMessageBox.Open | QMessageBox.Cancel, QMessageBox.Open,
                )
                return answer == QMessageBox.Open and self.open_path(path)
            model = build_network(self.document.network, initialise=False)   # the weights come next
            try:
                apply_state_dict(model, state, self.document.network, source=path)
            except PlaygroundError as e:
                state = self._offer_order(model, state, path, e) if ckpt is None else None
                if state is None:
                    raise
                apply_state_dict(model, state, self.document.network, source=path)
        except PlaygroundError as e:
            self._warn("These weights do not fit", str(e))
            return False
        weights = TrainedWeights(ckpt) if ckpt else TrainedWeights.bare(self.document.project, model.state_dict())
        self.window.session.set_weights(weights)
        self._remember_folder(path)
        self.window.statusBar().showMessage(f"Loaded weights from {path}", 4000)
        return True

    def _offer_order(self, model, state: dict, path: Path, error: PlaygroundError) -> dict | None:
        """Other names, same layers: show how the file's weights would pair with the cards, in order
        and shape, and load them that way only if the user agrees. None: no pairing, or declined."""
        try:
            pairs = match_in_order(model.state_dict(), state)
        except PlaygroundError:
            return None
        dialog = WeightMappingDialog(pairs, self.document.network, path.name, str(error), self.window)
        if dialog.exec() != QDialog.Accepted:
            return None
        return dialog.mapped_state(state)

    # --- code and standard formats -----------------------------------------------------------

    def export_script(self) -> None:
        suggested = str(Path(self._folder()) / f"{_module_name(self.document.name)}.py")
        path, _ = QFileDialog.getSaveFileName(self.window, "Export as Python script", suggested,
                                              "Python scripts (*.py)")
        if not path:
            return
        if not path.lower().endswith(".py"):
            path += ".py"
        weights = self.window.session.weights
        include = False
        if weights is not None and weights.fits(self.document.network):
            answer = QMessageBox.question(
                self.window, "Include the weights?",
                f"Save the current weights beside the script as {weights_path(path).name}, "
                "and have the script load them? (No: the script starts from the project's seed.)",
                QMessageBox.Yes | QMessageBox.No | QMessageBox.Cancel, QMessageBox.Yes,
            )
            if answer == QMessageBox.Cancel:
                return
            include = answer == QMessageBox.Yes
        self.export_script_to(path, include)

    def export_script_to(self, path: str | Path, include_weights: bool = False) -> bool:
        """The network as a standalone script; with weights, also NAME.weights.pt beside it, which it loads."""
        state = None
        if include_weights:
            weights = self._current_weights()
            if weights is None:
                return False
            state = weights.model
        project = self.document.project
        return self._write(
            path, "Cannot export the script",
            lambda: export_script(project.network, path, self.document.name, state_dict=state,
                                  seed=project.training.seed),
            lambda written: "Exported " + " and ".join(p.name for p in written), 6000,
        )

    def export_model(self) -> None:
        if self._current_weights() is None:
            return
        suggested = str(Path(self._folder()) / f"{_module_name(self.document.name)}.pt2")
        path, chosen = QFileDialog.getSaveFileName(self.window, "Export model", suggested, MODEL_FILTERS)
        if not path:
            return
        fmt = format_for(path) or ("onnx" if "ONNX" in chosen else "pt2")
        if format_for(path) is None:
            path += FORMATS[fmt]
        self.export_model_to(path, fmt)

    def export_model_to(self, path: str | Path, fmt: str) -> bool:
        """The network with the current weights as a torch.export program or ONNX."""
        weights = self._current_weights()
        if weights is None:
            return False

        def traced():
            QApplication.setOverrideCursor(Qt.WaitCursor)  # tracing takes a second or two
            try:
                export_model(self.document.network, weights.model, path, fmt)
            finally:
                QApplication.restoreOverrideCursor()

        return self._write(path, "Cannot export the model", traced, lambda _: f"Exported {Path(path).name}", 6000)

    def _write(self, path, title: str, write, done, ms: int = 4000, saved: TrainedWeights | None = None) -> bool:
        """Run `write()`; on failure warn under `title`, else remember the folder and say `done(result)`;
        `saved`: the weights written, which the run list then counts as saved (no warning on quitting)."""
        try:
            result = write()
        except PlaygroundError as e:
            self._warn(title, str(e))
            return False
        if saved is not None:
            saved.saved_to.append(str(path))
        self._remember_folder(path)
        self.window.statusBar().showMessage(done(result), ms)
        return True

    def _current_weights(self) -> TrainedWeights | None:
        weights = self.window.session.weights
        if weights is None or not weights.fits(self.document.network):
            self._warn("No weights for this network",
                       "Train the network, or load weights or a checkpoint into it, first.")
            return None
        return weights

    # --- remembered places -----------------------------------------------------------------

    def _on_document_settings_changed(self) -> None:
        self.data_folders.remember(self.document.project.data)   # a few stat calls

    def _on_session_run_finished(self, run_id: int, end) -> None:
        if end.status != "failed":   # the run read its data (and may have downloaded it) from there
            self.data_folders.remember(self.document.project.data)

    def _folder(self) -> str:
        value = self.settings.value("files/lastFolder")
        if value is not None and not isinstance(value, str):
            reset_setting(self.window, "files/lastFolder", value, "a folder")
            value = None
        return value if value and Path(value).is_dir() else str(Path.home())

    def _remember_folder(self, path: str | Path) -> None:
        self.settings.setValue("files/lastFolder", str(Path(path).resolve().parent))

    def recent_files(self) -> list[str]:
        value = self.settings.value("files/recent", [])
        value = [value] if isinstance(value, str) else value   # QSettings reads a one-item list as text
        if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
            reset_setting(self.window, "files/recent", value, "a list of files")
            return []
        return value[:MAX_RECENT]

    def _remember(self, path: Path) -> None:
        path = str(Path(path).resolve())
        recent = [path] + [p for p in self.recent_files() if p != path]
        self.settings.setValue("files/recent", recent[:MAX_RECENT])
        self._remember_folder(path)
        self._fill_recent()

    def _fill_recent(self) -> None:
        if self.recent_menu is None:
            return
        self.recent_menu.clear()
        for path in self.recent_files():
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self.open_path(p))
        self.recent_menu.setEnabled(bool(self.recent_files()))

    def _warn(self, title: str, text: str) -> None:
        QMessageBox.warning(self.window, title, text)


def reset_setting(window, key: str, value, expected: str) -> None:
    """A stored value of the wrong kind (a hand-edited or damaged settings file): removed, so the
    default applies, and said once in the status bar — it is gone by the next start."""
    window.settings.remove(key)
    shown = type(value).__name__ if not isinstance(value, (str, int, float)) else repr(value)[:40]
    window.statusBar().showMessage(f"Settings: {key} held {shown}, not {expected}; it was reset", 15000)


def _module_name(name: str) -> str:
    """A file name Python could import: "MNIST LeNet" -> "mnist_lenet"."""
    stem = re.sub(r"\W+", "_", name.strip().lower()).strip("_")
    return stem if stem and not stem[0].isdigit() else f"network_{stem}".rstrip("_")
