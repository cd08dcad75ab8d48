"""The learning-rate finder dialog: runs core.lr_finder in the training process, plots loss against lr, applies the choice."""

from __future__ import annotations

import copy
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QColor, QDoubleValidator, QPalette
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..core.lr_finder import LRFinderResult, LRFinderStep
from ..core.spec import Project
from . import theme
from .colors import with_alpha
from .empty_state import EmptyState
from .plots import PALETTE
from .worker import FinderRun

DEFAULT_START, DEFAULT_END, DEFAULT_STEPS = 1e-7, 10.0, 200
INTRO = (
    "Trains a throwaway copy of the model for a few hundred mini-batches while the learning rate grows "
    "from the first value to the second, and plots the loss. A good learning rate sits where the loss "
    "falls fastest, well before the curve turns up. The model you are editing is not touched."
)


def lr_setting(project: Project) -> tuple[str, str]:
    """(component, parameter) whose value the run trains at: OneCycleLR's max_lr when it schedules
    the run (it replaces the optimizer's lr from the first step), else the optimizer's lr."""
    scheduler = project.training.scheduler
    if scheduler is not None and scheduler.type == "OneCycleLR":
        return "scheduler", "max_lr"
    return "optimizer", "lr"


class LRFinderDialog(QDialog):
    """Run a learning-rate range test on a copy of the project and pick a learning rate from its plot."""

    finished_search = Signal(object)  # LRFinderResult, after the finder's thread has stopped
    lr_applied = Signal(float)        # the learning rate chosen, when Apply is pressed; it goes to `setting`
    failed = Signal(str)              # why the search could not run, in plain words
    stepped = Signal(int)             # steps done so far, once per delivery while searching

    def __init__(self, project: Project, model_state: dict | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("lrFinderDialog")
        self.setWindowTitle("Find a learning rate")
        # copies: the user keeps editing the project, and a run's weights keep changing, meanwhile
        self.project = copy.deepcopy(project)
        self._model_state = (
            {k: v.detach().clone() for k, v in model_state.items()} if model_state is not None else None
        )
        self.result: LRFinderResult | None = None
        self.chosen_lr: float | None = None
        self.setting = lr_setting(self.project)   # what Apply sets: ("optimizer", "lr") or ("scheduler", "max_lr")
        self._search: FinderRun | None = None
        self._lrs: list[float] = []
        self._losses: list[float] = []
        self._raw: list[float] = []
        self._stop_asked = False
        self._closing = False
        self._bg, self._fg = theme.canvas_colors(self)
        self._red = theme.error_color(self)
        self._build()
        self.resize(720, 560)

    def _build(self) -> None:
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        current = self.project.training.optimizer
        lr = current.params.get("lr")
        if self.setting == ("scheduler", "max_lr"):
            max_lr = self.project.training.scheduler.params.get("max_lr", 0.1)   # the catalogue's default
            now = QLabel(f"OneCycleLR sets the learning rate: max_lr now {max_lr:g} (Apply sets max_lr)")
        else:
            now = QLabel(f"{current.type}, learning rate now {lr:g}" if isinstance(lr, (int, float))
                         else current.type)
        now.setObjectName("lrFinderCurrent")
        now.setForegroundRole(QPalette.PlaceholderText)

        self.start_edit = self._lr_edit("startLrEdit", DEFAULT_START, "The learning rate of the first step")
        self.end_edit = self._lr_edit("endLrEdit", DEFAULT_END, "The learning rate of the last step")
        self.steps_spin = QSpinBox()
        self.steps_spin.setObjectName("lrStepsSpin")
        self.steps_spin.setRange(10, 5000)
        self.steps_spin.setValue(DEFAULT_STEPS)
        self.steps_spin.setToolTip("Mini-batches to train; the learning rate grows by the same factor each step")
        settings = QHBoxLayout()
        for text, widget in (("From", self.start_edit), ("to", self.end_edit), ("in", self.steps_spin)):
            settings.addWidget(QLabel(text))
            settings.addWidget(widget)
        settings.addWidget(QLabel("steps"))
        settings.addStretch(1)
        settings.addWidget(now)

        self.plot = pg.PlotWidget(background=self._bg, axisItems={"bottom": _LrAxis("bottom")})
        self.plot.setObjectName("lrFinderPlot")
        # until the first losses arrive: what Run will draw here (empty axes from 0 to 1 said nothing)
        self.empty_state = EmptyState(self.plot, "No range test yet",
                                      "Press Run: the loss appears here as the learning rate grows.",
                                      self._fg, self._bg, "lrFinderEmptyState")
        item = self.plot.getPlotItem()
        item.setLogMode(x=True)
        item.showGrid(x=True, y=True, alpha=0.18)
        item.hideButtons()
        for side, text in (("left", "loss"), ("bottom", "learning rate")):
            axis = item.getAxis(side)
            axis.setPen(pg.mkPen(with_alpha(self._fg, 140)))
            axis.setTextPen(pg.mkPen(self._fg))
            axis.enableAutoSIPrefix(False)
            axis.setLabel(text, color=self._fg.name(), **{"font-size": "10pt"})
        color = QColor(PALETTE[0])
        self.raw_curve = pg.PlotDataItem(pen=pg.mkPen(with_alpha(color, 70), width=1))
        self.curve = pg.PlotDataItem(pen=pg.mkPen(color, width=2.5))
        self.suggested_marker = pg.PlotDataItem(
            symbol="o", symbolSize=10, pen=None, symbolBrush=QColor(PALETTE[4]),
            symbolPen=pg.mkPen(self._bg, width=1.5),
        )
        for curve in (self.raw_curve, self.curve, self.suggested_marker):
            item.addItem(curve)
        self.suggested_marker.setZValue(10)
        self.suggested_line = pg.InfiniteLine(
            angle=90, movable=True,
            pen=pg.mkPen(QColor(PALETTE[4]), width=1.5, style=Qt.DashLine),
            hoverPen=pg.mkPen(QColor(PALETTE[4]), width=3),
            label="", labelOpts={
                "position": 0.92, "color": self._fg, "anchors": [(0, 0), (0, 0)],
                "fill": pg.mkBrush(with_alpha(self._bg, 220)), "border": pg.mkPen(with_alpha(self._fg, 80)),
            },
        )
        self.suggested_line.setToolTip("Drag to choose another learning rate")
        self.suggested_line.sigDragged.connect(self._on_suggested_line_dragged)
        self.suggested_line.hide()
        item.addItem(self.suggested_line, ignoreBounds=True)
        item.setXRange(math.log10(DEFAULT_START), math.log10(DEFAULT_END), padding=0.02)
        item.setYRange(0, 1, padding=0.02)

        self.status = QLabel("Press Run to start.")
        self.status.setObjectName("lrFinderStatus")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.RichText)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(6)

        self.run_button = QPushButton("Run")
        self.run_button.setObjectName("runLrButton")
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self._on_run_button_clicked)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopLrButton")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self._on_stop_button_clicked)
        self.apply_button = QPushButton("Apply")
        self.apply_button.setObjectName("applyLrButton")
        self.apply_button.setEnabled(False)
        self.apply_button.setToolTip(
            "Set OneCycleLR's max_lr (the peak it trains at) to the chosen value (undoable)"
            if self.setting == ("scheduler", "max_lr")
            else "Set the optimizer's learning rate to the chosen value (undoable)")
        self.apply_button.clicked.connect(self._on_apply_button_clicked)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(self.run_button)
        row.addWidget(self.stop_button)
        row.addStretch(1)
        row.addWidget(self.apply_button)
        row.addWidget(buttons)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(settings)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(row)
        self.run_button.setFocus()

    def _lr_edit(self, name: str, value: float, tip: str) -> QLineEdit:
        edit = QLineEdit(_lr_text(value))
        edit.setObjectName(name)
        edit.setValidator(QDoubleValidator(1e-12, 1e6, 12, edit))
        edit.setMaximumWidth(80)
        edit.setToolTip(tip)
        return edit

    # --- control --------------------------------------------------------------------------------

    def start(self, start_lr: float | None = None, end_lr: float | None = None, steps: int | None = None) -> None:
        """Begin a search (the Run button); the arguments override the fields and are written back to them."""
        if self.is_running():
            return
        if start_lr is not None:
            self.start_edit.setText(_lr_text(start_lr))
        if end_lr is not None:
            self.end_edit.setText(_lr_text(end_lr))
        if steps is not None:
            self.steps_spin.setValue(steps)
        try:
            low = float(start_lr if start_lr is not None else self.start_edit.text())
            high = float(end_lr if end_lr is not None else self.end_edit.text())
        except ValueError:
            return self._fail("The learning rates must be numbers, like 1e-7 and 10.")
        if not 0 < low < high:
            return self._fail("The first learning rate must be above 0 and below the second.")
        self._clear()
        self._stop_asked = False
        self._closing = False   # a dialog shown again after closing searches again
        search = FinderRun(self)
        search.stepped.connect(self._on_search_stepped)
        search.finished.connect(self._on_search_finished)
        self._search = search
        self.plot.getPlotItem().setXRange(math.log10(low), math.log10(high), padding=0.02)
        self.progress.setRange(0, self.steps_spin.value())
        self.progress.setValue(0)
        self.status.setText("Training a copy of the model…")
        self._set_running(True)
        search.start(self.project, self._model_state, low, high, self.steps_spin.value())

    def stop(self) -> None:
        """Ask the search to stop; it stops within one step and `finished_search` follows with what it found."""
        if self._search is not None and self.is_running():
            self._stop_asked = True
            self._search.stop()

    def shutdown(self) -> None:
        """Stop and wait for the thread: for closing."""
        if self._search is not None:
            self._search.shutdown()

    def is_running(self) -> bool:
        return self._search is not None and self._search.is_running()

    def done(self, result: int) -> None:
        # every way out (Close, Escape, the window's close button, Apply) passes here
        self._closing = True
        self.shutdown()
        super().done(result)

    # --- slots ----------------------------------------------------------------------------------

    @Slot()
    def _on_run_button_clicked(self) -> None:
        self.start()

    @Slot()
    def _on_stop_button_clicked(self) -> None:
        self.stop()

    @Slot()
    def _on_apply_button_clicked(self) -> None:
        if self.chosen_lr is None:
            return
        self.lr_applied.emit(self.chosen_lr)
        self.accept()

    @Slot(object)
    def _on_search_stepped(self, steps: list[LRFinderStep]) -> None:
        if self.sender() is self._search and not self._closing:
            self._deliver(steps)

    @Slot(object, str)
    def _on_search_finished(self, result: LRFinderResult | None, error: str) -> None:
        if self.sender() is not self._search:
            return   # a late signal of an earlier search, already replaced
        self._set_running(False)
        if self._closing:
            return
        if error:
            return self._fail(error)
        self.result = result
        self._show_result(self.result)
        self.finished_search.emit(self.result)

    @Slot(object)
    def _on_suggested_line_dragged(self, line) -> None:
        self.chosen_lr = 10 ** line.value()
        self._label_line("chosen")

    # --- drawing --------------------------------------------------------------------------------

    def _deliver(self, steps: list[LRFinderStep]) -> None:
        if not steps:
            return
        for s in steps:
            self._lrs.append(s.lr)
            self._losses.append(s.loss)
            self._raw.append(s.raw_loss)
        self._draw(self._lrs, self._losses, self._raw)
        last = steps[-1]
        self.progress.setValue(last.step + 1)
        if not self._stop_asked:
            self.status.setText(
                f"Step {last.step + 1} of {last.steps} · lr {_lr_text(last.lr)} · loss {last.loss:.4g}"
            )
        self.stepped.emit(last.step + 1)

    def _draw(self, lrs: list[float], losses: list[float], raw: list[float]) -> None:
        x = np.asarray(lrs, float)
        self.curve.setData(x, np.asarray(losses, float))
        self.raw_curve.setData(x, np.asarray(raw, float))
        if losses:
            self.empty_state.hide()
            # the blow-up at the end would squash the interesting part into a line: cap the view
            best = min(losses)
            top = max(losses[0], best) * 1.25
            low = min(best, min(raw)) if raw else best
            top = top if top > low else low + 1.0
            self.plot.getPlotItem().setYRange(low - 0.05 * (top - low), top, padding=0)

    def _show_result(self, result: LRFinderResult) -> None:
        self._lrs, self._losses, self._raw = list(result.lrs), list(result.losses), list(result.raw_losses)
        self._draw(self._lrs, self._losses, self._raw)
        self.progress.setValue(self.progress.maximum() if not result.stopped_early else len(result.lrs))
        parts = []
        if self._stop_asked:
            parts.append(f"Stopped after {len(result.lrs)} steps.")
        elif result.stopped_early and result.lrs:
            parts.append(f"The loss blew up at lr {_lr_text(result.lrs[-1])}, so the test ended there.")
        if result.suggested_lr is None:
            parts.append("Too few steps to suggest a learning rate — run again with more steps or a wider range.")
            self.suggested_line.hide()
            self.suggested_marker.setData([], [])
            self.chosen_lr = None
        else:
            self.chosen_lr = result.suggested_lr
            position = math.log10(result.suggested_lr)
            # the flat-curve fallback (a tenth of the best lr) may fall below the range tried
            low, high = min(math.log10(result.lrs[0]), position), max(math.log10(result.lrs[-1]), position)
            self.suggested_line.setBounds((low, high))
            (x0, x1), _ = self.plot.getPlotItem().getViewBox().viewRange()
            if not x0 <= position <= x1:
                self.plot.getPlotItem().setXRange(min(x0, low), max(x1, high), padding=0.02)
            self.suggested_line.setValue(position)
            self.suggested_line.show()
            i = min(range(len(result.lrs)), key=lambda j: abs(math.log10(result.lrs[j]) - position))
            self.suggested_marker.setData([result.lrs[i]], [result.losses[i]])
            self._label_line("suggested")
            parts.append(f"Suggested learning rate: <b>{_lr_text(result.suggested_lr)}</b>, where the loss falls "
                         "fastest. Drag the line to choose another, then Apply.")
        self.status.setText(" ".join(parts))
        self.apply_button.setEnabled(self.chosen_lr is not None)

    def _label_line(self, word: str) -> None:
        text = f"{word} lr = {_lr_text(self.chosen_lr)}"
        label = self.suggested_line.label
        label.setFormat(text)
        # beside the line, on the side with more room, so the text is never cut at the edge
        (x0, x1), _ = self.plot.getPlotItem().getViewBox().viewRange()
        side = (1.04, 0) if self.suggested_line.value() > (x0 + x1) / 2 else (-0.04, 0)
        label.anchors = [side, side]
        label.updatePosition()
        self.apply_button.setText(f"Apply {self.setting[1]} = {_lr_text(self.chosen_lr)}")

    def _clear(self) -> None:
        self.result = None
        self.chosen_lr = None
        self._lrs, self._losses, self._raw = [], [], []
        self.curve.setData([], [])
        self.raw_curve.setData([], [])
        self.suggested_marker.setData([], [])
        self.suggested_line.hide()
        self.apply_button.setEnabled(False)
        self.apply_button.setText("Apply")

    def _fail(self, message: str) -> None:
        self.status.setText(f"<span style='color:{self._red.name()}'>{_escape(message)}</span>")
        self.failed.emit(message)

    def _set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        for widget in (self.start_edit, self.end_edit, self.steps_spin):
            widget.setEnabled(not running)
        if running:
            self.apply_button.setEnabled(False)


class _LrAxis(pg.AxisItem):
    """A log axis that writes its ticks the way learning rates are written (1e-4, 0.01, 1)."""

    def tickStrings(self, values, scale, spacing):
        if not self.logMode:
            return super().tickStrings(values, scale, spacing)
        return [_lr_text(10 ** v) if abs(v - round(v)) < 1e-6 else "" for v in values]


def _lr_text(lr: float) -> str:
    """A learning rate as people write it: 3e-3, 2.5e-4, 0.1, 10."""
    if 1e-2 <= lr < 1e3:
        return f"{lr:.2g}"
    mantissa, exponent = f"{lr:.1e}".split("e")
    return f"{mantissa.removesuffix('.0')}e{int(exponent)}"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br>")
