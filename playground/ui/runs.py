"""The list of training runs: colour, settings, status and final metrics, with show/hide and exports;
each run keeps its final weights, to load, continue from or export from its context menu."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import QPoint, Qt, Signal, Slot
from PySide6.QtGui import QAction, QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QMenu,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.checkpoint import save_checkpoint, save_weights
from ..core.errors import PlaygroundError
from ..core.files import atomic_write_bytes
from ..core.optim import OPTIMIZERS
from ..core.resume import carry_over
from ..core.spec import Project
from .plots import TrainingPlots

COLUMNS = ("Run", "Settings", "Status", "Train loss", "Val loss", "Train acc", "Val acc", "Test acc")
METRICS = {"train_loss": 3, "val_loss": 4, "train_accuracy": 5, "val_accuracy": 6, "test_accuracy": 7}  # -> column
RUN_ID = Qt.UserRole
WEIGHT_FILTERS = ("PyTorch state_dict (*.pt *.pth)", "safetensors (*.safetensors)",
                  "Checkpoint: project, weights, optimizer, history (*.checkpoint.pt)")


def settings_summary(project: Project) -> str:
    """What tells runs apart at a glance: "Adam lr=0.001 · batch 64 · 10 epochs"."""
    t = project.training
    lr = t.optimizer.params.get("lr")
    if lr is None and t.optimizer.type in OPTIMIZERS:
        lr = next((p.default for p in OPTIMIZERS[t.optimizer.type].params if p.name == "lr"), None)
    parts = [f"{t.optimizer.type} lr={lr:g}" if isinstance(lr, (int, float)) else t.optimizer.type]
    if t.scheduler is not None:
        parts.append(t.scheduler.type)
    parts.append(f"batch {t.batch_size}")
    parts.append(f"{t.epochs} epoch{'s' if t.epochs != 1 else ''}")
    if t.device != "cpu":
        parts.append(t.device)
    return " · ".join(parts)


class RunList(QWidget):
    """A table of runs; the check box of a row shows or hides that run's curves."""

    visibility_changed = Signal(int, bool)  # run id, shown
    load_requested = Signal(int)            # run id: its settings and final weights into the editor
    continue_requested = Signal(int)        # run id: the same, then train on from those weights

    def __init__(self, plots: TrainingPlots | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.plots = plots  # where the exports come from; without it the export buttons stay off
        self._rows: dict[int, int] = {}  # run id -> row
        self._kept: dict[int, tuple[Project, object]] = {}  # run id -> (its project, its TrainedWeights)
        self._tasks: dict[int, str] = {}  # run id -> the data it trained on: runs of other data are hidden
        self.archive = None   # ui.archive.RunArchive: the run store, where stored runs' weights come from

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("runTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setAlternatingRowColors(True)
        # every column as wide as its text: a narrow dock scrolls rather than hiding the settings
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.setHorizontalScrollMode(QAbstractItemView.ScrollPerPixel)
        self.table.itemChanged.connect(self._on_table_item_changed)
        self.table.itemSelectionChanged.connect(self._on_table_item_selection_changed)
        self.table.setContextMenuPolicy(Qt.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._on_table_custom_context_menu_requested)

        self.export_csv_button = QPushButton("CSV…")
        self.export_csv_button.setObjectName("exportCsvButton")
        self.export_csv_button.setToolTip("Export the selected run's per-epoch history as CSV")
        self.export_csv_button.clicked.connect(self._on_export_csv_button_clicked)
        self.export_png_button = QPushButton("PNG…")
        self.export_png_button.setObjectName("exportPngButton")
        self.export_png_button.setToolTip("Export the loss plot as a PNG image")
        self.export_png_button.clicked.connect(self._on_export_png_button_clicked)
        self.clear_button = QPushButton("Clear finished")
        self.clear_button.setObjectName("clearRunsButton")
        self.clear_button.setToolTip("Remove the runs that have ended, with their curves and weights")
        self.clear_button.clicked.connect(self._on_clear_button_clicked)
        # short words, the whole sentence in each tooltip: the long ones kept the run list 350 px wide
        # and the loss plot beside it 140 px at 1024x700
        buttons = QHBoxLayout()
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)
        buttons.addWidget(self.export_csv_button)
        buttons.addWidget(self.export_png_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self._update_buttons()

    # --- rows ----------------------------------------------------------------------------------------

    def add_run(self, run_id: int, name: str, summary: str, color: QColor, task: str = "") -> None:
        """A new run, shown. `task` names its data ("mnist"): runs of other data are unticked (their
        curves hidden, their axes let go); tick them to compare anyway."""
        if run_id in self._rows:
            raise ValueError(f"run {run_id} is already listed")
        if task:
            summary = f"{task} · {summary}" if summary else task
            for other, other_task in self._tasks.items():
                if other_task != task and self.is_shown(other):
                    self.set_shown(other, False)
        row = self.table.rowCount()
        self.table.blockSignals(True)  # filling the row is not the user toggling visibility
        self.table.insertRow(row)
        first = QTableWidgetItem(_swatch(color), name)
        first.setData(RUN_ID, run_id)
        first.setFlags(first.flags() | Qt.ItemIsUserCheckable)
        first.setCheckState(Qt.Checked)
        first.setToolTip("Show or hide this run's curves")
        self.table.setItem(row, 0, first)
        self.table.setItem(row, 1, _item(summary, tooltip=summary))
        self.table.setItem(row, 2, _item("ready"))
        for column in METRICS.values():
            self.table.setItem(row, column, _item("—", numeric=True))
        self.table.blockSignals(False)
        self._rows[run_id] = row
        self._tasks[run_id] = task
        self.table.selectRow(row)  # the newest run is the one to export
        self._update_buttons()

    def update_run(self, run_id: int, *, status: str | None = None, metrics: dict | None = None,
                   reason: str | None = None) -> None:
        """Set the status text ("running", "finished", ...), the reason as its tooltip, and any of
        train_loss, val_loss, val_accuracy, test_accuracy (None shows a dash); other keys are ignored,
        so an epoch record of the history can be passed as it is."""
        row = self._rows[run_id]
        self.table.blockSignals(True)
        if status is not None:
            self.table.item(row, 2).setText(status)
        if reason is not None:
            self.table.item(row, 2).setToolTip(reason)
        for key, value in (metrics or {}).items():
            if key in METRICS:
                self.table.item(row, METRICS[key]).setText(_format_metric(key, value))
        self.table.blockSignals(False)

    def clear(self) -> None:
        self.table.setRowCount(0)
        self._rows.clear()
        self._kept.clear()
        self._tasks.clear()
        self._update_buttons()

    def remove_runs(self, run_ids: list[int]) -> None:
        """Take runs off the list (and their curves off the plots), weights and all."""
        for run_id in run_ids:
            self.table.removeRow(self._rows.pop(run_id))
            # the rows below moved up by one
            self._rows = {self.table.item(row, 0).data(RUN_ID): row for row in range(self.table.rowCount())}
            self._kept.pop(run_id, None)
            self._tasks.pop(run_id, None)
            if self.archive is not None:
                self.archive.forget(run_id)   # its files stay in the store: reopening the project lists it again
            if self.plots is not None and run_id in self.plots.run_ids():
                self.plots.remove_run(run_id)
        self._update_buttons()

    def finished_runs(self) -> list[int]:
        """Runs that have ended (finished, stopped or failed): a run still training is not among them."""
        return [run_id for run_id, row in self._rows.items() if self.table.item(row, 2).text() != "ready"]

    def clear_finished(self) -> bool:
        """Remove every run that has ended, asking first when weights that were never saved go with them."""
        ended = self.finished_runs()
        if not ended or not self._confirm(ended, "clearing the finished runs"):
            return False
        self.remove_runs(ended)
        return True

    def run_ids(self) -> list[int]:
        return list(self._rows)

    def selected_run(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return self.table.item(rows[0].row(), 0).data(RUN_ID) if rows else None

    def is_shown(self, run_id: int) -> bool:
        return self.table.item(self._rows[run_id], 0).checkState() == Qt.Checked

    def set_shown(self, run_id: int, shown: bool) -> None:
        """Tick or untick a run's box, as the user would; emits visibility_changed when it changes."""
        self.table.item(self._rows[run_id], 0).setCheckState(Qt.Checked if shown else Qt.Unchecked)

    def cell_text(self, run_id: int, column: str) -> str:
        return self.table.item(self._rows[run_id], COLUMNS.index(column)).text()

    def run_name(self, run_id: int) -> str:
        return self.table.item(self._rows[run_id], 0).text().removesuffix(" ✎")

    # --- the weights each run leaves --------------------------------------------------------------------

    def keep_weights(self, run_id: int, project: Project, weights) -> None:
        """Hold the run's final weights (a TrainedWeights) and the project it trained."""
        self._kept[run_id] = (project, weights)
        self.table.item(self._rows[run_id], 0).setToolTip(
            f"Show or hide this run's curves. Its final weights (epoch {weights.epoch}) are kept: "
            "right-click to load, continue from or export them")

    def kept_weights(self, run_id: int) -> tuple[Project, object] | None:
        """(project, TrainedWeights) the run left, or None (it is training, or failed before a step);
        a stored run's come from its final checkpoint in the run store, read when first asked for."""
        if run_id not in self._kept and self._stored_final(run_id):
            weights = self.archive.final_weights(run_id)
            if weights is not None:
                self._kept[run_id] = (weights.state.project, weights)
        return self._kept.get(run_id)

    def _stored_final(self, run_id: int) -> bool:
        return (self.archive is not None and run_id in self._rows and not self.archive.is_training(run_id)
                and self.archive.stored_id(run_id) is not None and self.archive.has_final(run_id))

    def has_weights(self, run_id: int) -> bool:
        return run_id in self._kept or self._stored_final(run_id)

    def unsaved_runs(self) -> list[int]:
        """Runs whose weights were never written to a file (by the run list, File > Export or the run store)."""
        if self.archive is not None:
            self.archive.wait()   # a run's end being written now counts as written
        return [run_id for run_id, (_, weights) in self._kept.items()
                if not weights.saved_to and not self._stored_final(run_id)]

    def set_note(self, run_id: int, note: str) -> None:
        """The run's note, shown as the tooltip of its settings (and marked ✎ after its name)."""
        row = self._rows[run_id]
        settings = self.table.item(row, 1)
        base = settings.data(Qt.UserRole + 1) or settings.text()
        settings.setData(Qt.UserRole + 1, base)
        settings.setToolTip(f"{base}\n\nNote: {note}" if note else base)
        name = self.table.item(row, 0)
        self.table.blockSignals(True)
        name.setText(name.text().removesuffix(" ✎") + (" ✎" if note else ""))
        self.table.blockSignals(False)

    def set_run_name(self, run_id: int, name: str) -> None:
        item = self.table.item(self._rows[run_id], 0)
        self.table.blockSignals(True)
        item.setText(name + (" ✎" if item.text().endswith(" ✎") else ""))
        self.table.blockSignals(False)
        if self.plots is not None and run_id in self.plots.run_ids():
            self.plots.rename_run(run_id, name)

    def confirm_discarding(self, doing: str) -> bool:
        """Before `doing` ("quitting") drops every run, a training one included: ask when weights that
        were never saved would go; False means cancel."""
        return self._confirm(list(self._rows), doing, running=True)

    def _confirm(self, run_ids: list[int], doing: str, running: bool = False) -> bool:
        unsaved = [r for r in self.unsaved_runs() if r in run_ids]
        training = [r for r in run_ids if running and r not in self.finished_runs()]
        if not unsaved and not training:
            return True
        parts = []
        if unsaved:
            have = "has" if len(unsaved) == 1 else "have"
            parts.append(f"{_listed([self.run_name(r) for r in unsaved])} {have} trained weights that were "
                         f"never saved; {doing} discards them.")
        if training:
            parts.append(f"{_listed([self.run_name(r) for r in training])} is still training; {doing} stops it "
                         "and its weights are lost.")
        answer = QMessageBox.question(
            self, "Trained weights not saved",
            " ".join(parts) + " Right-click a run in the run list to export its weights or a checkpoint.",
            QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Cancel,
        )
        return answer != QMessageBox.Cancel   # Escape and the close button answer Cancel too

    def export_weights(self, run_id: int, path: str | Path, fmt: str = "state_dict") -> None:
        """Write the run's final weights ("state_dict", "safetensors") or a checkpoint of it
        ("checkpoint": project, weights, optimizer, history); atomic. Raises PlaygroundError."""
        project, weights = self.kept_weights(run_id)
        if fmt == "checkpoint":
            save_checkpoint(carry_over(weights.state, project)[0], path)
        else:
            save_weights(weights.model, path, format=fmt)
        weights.saved_to.append(str(path))

    def context_menu(self, run_id: int) -> QMenu:
        """What right-clicking the run offers; actions that need its weights say why they are off."""
        menu = QMenu(self)
        menu.setObjectName("runContextMenu")
        kept = self.has_weights(run_id)
        why = "" if kept else "This run left no weights (it is training, or failed before its first step)"

        def add(text: str, name: str, slot, enabled: bool = True) -> QAction:
            action = menu.addAction(text)
            action.setObjectName(name)
            action.setEnabled(enabled)
            action.setToolTip("" if enabled else why)
            action.triggered.connect(slot)
            return action

        add("Load into the editor", "loadRunAction", lambda: self.load_requested.emit(run_id), kept)
        add("Continue training from these weights", "continueRunAction",
            lambda: self.continue_requested.emit(run_id), kept)
        add("Export weights or checkpoint…", "exportRunWeightsAction", lambda: self._ask_export_weights(run_id), kept)
        menu.addSeparator()
        add("Export history CSV…", "exportRunCsvAction", lambda: self._ask_export_csv(run_id), self.plots is not None)
        ended = run_id in self.finished_runs()
        remove = add("Remove this run", "removeRunAction",
                     lambda: self._confirm([run_id], "removing the run") and self.remove_runs([run_id]), ended)
        if not ended:
            remove.setToolTip("The run is still training")
        stored = self.archive is not None and self.archive.stored_id(run_id) is not None
        if stored:
            menu.addSeparator()
            add("Rename…", "renameRunAction", lambda: self._ask_rename(run_id))
            add("Note…", "annotateRunAction", lambda: self._ask_note(run_id))
            delete = add("Delete from the run store", "deleteRunAction", lambda: self._ask_delete(run_id), ended)
            delete.setToolTip("Remove the run and its files (history, snapshots, final weights)" if ended
                              else "The run is still training")
        menu.setToolTipsVisible(True)
        return menu

    def _ask_rename(self, run_id: int) -> None:
        from PySide6.QtWidgets import QInputDialog

        name, ok = QInputDialog.getText(self, "Rename run", "Name:", text=self.run_name(run_id))
        if ok and name.strip():
            self._store_guarded(lambda: self.rename_run(run_id, name.strip()))

    def rename_run(self, run_id: int, name: str) -> None:
        """A new name, in the list, the plots' legend and the run store."""
        self.archive.rename(run_id, name)
        self.set_run_name(run_id, name)

    def _ask_note(self, run_id: int) -> None:
        from PySide6.QtWidgets import QInputDialog

        record = self.archive.record_of(run_id)
        note, ok = QInputDialog.getMultiLineText(self, "Note", f"A note on {self.run_name(run_id)}:",
                                                 record.note if record else "")
        if ok:
            self._store_guarded(lambda: self.annotate_run(run_id, note))

    def annotate_run(self, run_id: int, note: str) -> None:
        self.archive.annotate(run_id, note)
        self.set_note(run_id, note)

    def _ask_delete(self, run_id: int) -> None:
        answer = QMessageBox.question(
            self, "Delete run", f"Delete {self.run_name(run_id)} and its files from the run store? "
            "Its history, snapshots and final weights go; this cannot be undone.",
            QMessageBox.Yes | QMessageBox.Cancel, QMessageBox.Cancel)
        if answer == QMessageBox.Yes:
            self._store_guarded(lambda: self.delete_run(run_id))

    def delete_run(self, run_id: int) -> None:
        """The run off the list and its files off the disk."""
        self.archive.delete(run_id)
        self.remove_runs([run_id])

    def _store_guarded(self, do) -> None:
        try:
            do()
        except (PlaygroundError, OSError) as e:
            QMessageBox.warning(self, "Run store", str(e))

    def _ask_export_weights(self, run_id: int) -> None:
        project, _ = self.kept_weights(run_id)
        stem = _file_stem(f"{project.name} {self.run_name(run_id)}")
        path, chosen = QFileDialog.getSaveFileName(self, f"Export the weights of {self.run_name(run_id)}",
                                                   f"{stem}.pt", ";;".join(WEIGHT_FILTERS))
        if not path:
            return
        if "checkpoint" in chosen.lower() or path.endswith(".checkpoint.pt"):
            fmt = "checkpoint"
        elif "safetensors" in chosen or path.endswith(".safetensors"):
            fmt = "safetensors"
        else:
            fmt = "state_dict"
        self._guarded(lambda: self.export_weights(run_id, path, fmt), path)

    @Slot(QPoint)
    def _on_table_custom_context_menu_requested(self, pos: QPoint) -> None:
        item = self.table.itemAt(pos)
        if item is None:
            return
        run_id = self.table.item(item.row(), 0).data(RUN_ID)
        self.table.selectRow(item.row())
        menu = self.context_menu(run_id)
        menu.exec(self.table.viewport().mapToGlobal(pos))
        menu.deleteLater()

    # --- exports -------------------------------------------------------------------------------------

    def set_plots(self, plots: TrainingPlots) -> None:
        self.plots = plots
        self._update_buttons()

    def export_csv(self, run_id: int, path: str | Path) -> None:
        """Write the run's per-epoch history; atomic, so a failure never leaves half a file."""
        if self.plots is None:
            raise RuntimeError("RunList has no plots to export from; pass them or call set_plots()")
        atomic_write_bytes(path, self.plots.run_history_csv(run_id).encode("utf-8"))

    @Slot()
    def _on_export_csv_button_clicked(self) -> None:
        run_id = self.selected_run()
        if run_id is not None:
            self._ask_export_csv(run_id)

    def _ask_export_csv(self, run_id: int) -> None:
        if self.plots is None:
            return
        name = self.table.item(self._rows[run_id], 0).text().replace(" ", "_").lower()
        path, _ = QFileDialog.getSaveFileName(self, "Export run history", f"{name}.csv", "CSV files (*.csv)")
        if path:
            self._guarded(lambda: self.export_csv(run_id, path), path)

    @Slot()
    def _on_export_png_button_clicked(self) -> None:
        if self.plots is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export loss plot", "loss.png", "PNG images (*.png)")
        if path:
            if not path.lower().endswith(".png"):
                path += ".png"
            self._guarded(lambda: self.plots.export_png(path), path)

    def _guarded(self, write, path: str) -> None:
        try:
            write()
        except (PlaygroundError, OSError) as e:
            QMessageBox.warning(self, "Export failed", str(e) or f"cannot save {path}")

    # --- reactions -----------------------------------------------------------------------------------

    @Slot()
    def _on_clear_button_clicked(self) -> None:
        self.clear_finished()

    @Slot(QTableWidgetItem)
    def _on_table_item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() == 0:
            self.visibility_changed.emit(item.data(RUN_ID), item.checkState() == Qt.Checked)

    @Slot()
    def _on_table_item_selection_changed(self) -> None:
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.export_csv_button.setEnabled(self.plots is not None and self.selected_run() is not None)
        self.export_png_button.setEnabled(self.plots is not None and bool(self._rows))
        self.clear_button.setEnabled(bool(self._rows))


def use_run(window, run_id: int, then_continue: bool = False) -> bool:
    """A run's settings (network, data, training: one undo step, the file stays the same) and its
    final weights into the editor; `then_continue`: tick Continue and start training from them."""
    kept = window.runs.kept_weights(run_id)
    name = window.runs.run_name(run_id)
    if kept is None:
        window.statusBar().showMessage(f"{name} left no weights to load", 6000)
        return False
    if window.document.locked:
        window.statusBar().showMessage(f"A run is training — stop it before loading {name}'s weights", 6000)
        return False
    project, weights = kept
    window.document.use_settings_of(project, f"Use {name}'s settings")
    # the same weights, the files they were saved to shared; a run continued from them trains copies
    # (core.resume.resume_arguments), so the run list's own stay as the run left them
    window.session.set_weights(dataclasses.replace(weights))
    window.statusBar().showMessage(f"Loaded {name}'s settings and its weights after epoch {weights.epoch}", 6000)
    if then_continue:
        window.panel.continue_check.setChecked(True)
        window.session.start()
    return True


def _item(text: str, *, numeric: bool = False, tooltip: str | None = None) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    if numeric:
        item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
    if tooltip:
        item.setToolTip(tooltip)
    return item


def _format_metric(key: str, value: float | None) -> str:
    if value is None or value != value:   # None or NaN (no samples to measure on): a dash, never "nan%"
        return "—"
    return f"{value:.1%}" if key.endswith("accuracy") else f"{value:.4g}"


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _file_stem(text: str) -> str:
    """"MNIST LeNet Run 2" -> "mnist_lenet_run_2": a file name without surprises."""
    return "_".join("".join(c if c.isalnum() else " " for c in text.lower()).split()) or "weights"


def _swatch(color: QColor, size: int = 12) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.Antialiasing)
    painter.setPen(color.darker(140))
    painter.setBrush(color)
    painter.drawRoundedRect(0.5, 0.5, size - 1, size - 1, 3, 3)
    painter.end()
    return QIcon(pixmap)
