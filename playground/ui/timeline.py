"""Under the run list: a slider over the selected run's stored epochs that shows every view the
weights of that epoch, Fork from it, the curve hints of the run, and the run store's size and budget."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from ..core.checkpoint import Checkpoint
from ..core.curve_hints import curve_hints
from ..core.errors import PlaygroundError

SCRUB_DELAY_MS = 60   # a dragged slider loads the epoch it rests on, not each one it passes


class RunTimeline(QWidget):
    def __init__(self, window, parent: QWidget | None = None):
        super().__init__(parent)
        self.window = window
        self.run_id: int | None = None
        self._epochs: list[int] = []
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setObjectName("timelineSlider")
        self.slider.setToolTip("The selected run's stored epochs: every view shows the weights of the epoch chosen")
        self.slider.setPageStep(1)
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self.epoch_label = QLabel("Timeline")
        self.epoch_label.setObjectName("timelineLabel")
        self.epoch_label.setMinimumWidth(90)
        self.fork_button = QPushButton("Fork")
        self.fork_button.setObjectName("forkButton")
        self.fork_button.setToolTip("Train a new run from this epoch's weights with the settings in the editor")
        self.fork_button.clicked.connect(self._on_fork_button_clicked)
        self.hints = QLabel()
        self.hints.setObjectName("curveHints")
        self.hints.setWordWrap(True)
        self.hints.setTextFormat(Qt.PlainText)
        self.hints.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.store_label = QLabel()
        self.store_label.setObjectName("storeSizeLabel")
        self.store_label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.budget_button = QPushButton("Budget…")
        self.budget_button.setObjectName("storeBudgetButton")
        self.budget_button.setToolTip("The most disk space the run store may take: epoch snapshots are thinned "
                                      "to fit (the first, the best and the newest of each run stay)")
        self.budget_button.clicked.connect(self._on_budget_button_clicked)

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.epoch_label)
        row.addWidget(self.slider, 1)
        row.addWidget(self.fork_button)
        store = QHBoxLayout()
        store.setContentsMargins(0, 0, 0, 0)
        store.addWidget(self.store_label, 1)
        store.addWidget(self.budget_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.hints)
        layout.addLayout(store)
        self._scrub = QTimer(self)
        self._scrub.setSingleShot(True)
        self._scrub.setInterval(SCRUB_DELAY_MS)
        self._scrub.timeout.connect(self._on_scrub_timeout)
        self.set_run(None)

    # --- which run -----------------------------------------------------------------------------

    def set_run(self, run_id: int | None) -> None:
        self.run_id = run_id
        self.refresh()

    def refresh(self) -> None:
        archive = getattr(self.window, "archive", None)
        record = archive.record_of(self.run_id) if archive is not None and self.run_id is not None else None
        self._epochs = list(record.snapshots) if record is not None else []
        training = record is not None and archive.is_training(self.run_id)
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, len(self._epochs) - 1))
        self.slider.setValue(len(self._epochs) - 1 if self._epochs else 0)
        self.slider.blockSignals(False)
        usable = bool(self._epochs) and not training and not self.window.document.locked
        self.slider.setEnabled(usable)
        self.fork_button.setEnabled(usable)
        if record is None:
            self.epoch_label.setText("Timeline")
            why = "Select a stored run to scrub its epochs" if archive is not None else ""
            self.slider.setToolTip(why)
        else:
            self.epoch_label.setText(f"epoch {self.epoch}" if self._epochs else "no epochs kept")
            self.slider.setToolTip("The weights of the epoch chosen, in every view" if not training
                                   else "The run is training: scrub its epochs when it ends")
        hints = curve_hints(record.history) if record is not None else []
        self.hints.setText("\n".join(f"⚠ epoch {h.epoch}: {h}" for h in hints))
        self.hints.setVisible(bool(hints))
        self.store_label.setText(archive.size_text() if archive is not None else "")

    @property
    def epoch(self) -> int | None:
        return self._epochs[self.slider.value()] if self._epochs else None

    def set_epoch(self, epoch: int) -> None:
        """Move the slider to a stored epoch and show its weights now (as the user would, without waiting)."""
        self.slider.setValue(self._epochs.index(epoch))
        self._scrub.stop()
        self.show_epoch(epoch)

    # --- showing an epoch ----------------------------------------------------------------------

    @Slot(int)
    def _on_slider_value_changed(self, _value: int) -> None:
        self.epoch_label.setText(f"epoch {self.epoch}")
        self._scrub.start()

    @Slot()
    def _on_scrub_timeout(self) -> None:
        if self.epoch is not None:
            self.show_epoch(self.epoch)

    def show_epoch(self, epoch: int) -> bool:
        """The run's settings in the editor (when they are not there yet) and that epoch's weights in every view."""
        from .session import TrainedWeights

        w = self.window
        if w.document.locked or self.run_id is None:
            return False
        record = w.archive.record_of(self.run_id)
        try:
            state = w.archive.snapshot(self.run_id, epoch)
        except PlaygroundError as e:
            w.statusBar().showMessage(str(e), 10000)
            return False
        name = w.runs.run_name(self.run_id)
        if w.document.network != record.project.network or w.document.project.data != record.project.data:
            w.document.use_settings_of(record.project, f"Use {name}'s settings")
        history = record.history
        history["epochs"] = [e for e in record.epochs if e["epoch"] <= epoch]
        w.session.set_weights(TrainedWeights(Checkpoint(project=record.project, model=state, epoch=epoch,
                                                        history=history), saved_to=[str(record.folder)]))
        w.statusBar().showMessage(f"{name}: the weights after epoch {epoch}" if epoch else
                                  f"{name}: its initial weights", 6000)
        return True

    @Slot()
    def _on_fork_button_clicked(self) -> None:
        if self.run_id is not None and self.epoch is not None:
            self.window.session.fork(self.run_id, self.epoch)

    @Slot()
    def _on_budget_button_clicked(self) -> None:
        store = self.window.archive.store
        if store is None:
            return
        mib, ok = QInputDialog.getInt(self, "Run store budget", f"Most disk space for {store.root} (MiB):",
                                      max(1, store.budget // 2**20), 1, 10**6)
        if ok:
            try:
                store.set_budget(mib * 2**20)
            except (PlaygroundError, OSError) as e:
                self.window.statusBar().showMessage(str(e), 10000)
            self.refresh()
