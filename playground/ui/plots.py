"""Live training plots: loss per step and per epoch, training and validation accuracy and learning rate,
one colour per run; the axes fit the runs shown, the legend sits above the plots, PNGs render sharp."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import (
    QBuffer,
    QByteArray,
    QEvent,
    QIODevice,
    QObject,
    QPoint,
    QPointF,
    Qt,
    QTimer,
    Slot,
)
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import (
    QCheckBox,
    QGraphicsItem,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.files import atomic_write_bytes
from ..core.training import EndEvent, EpochEvent, StepEvent
from .colors import with_alpha
from .empty_state import EmptyState
from . import theme

# Okabe-Ito and Tableau hues: tell apart for colour-blind eyes, readable on white and on dark grey
PALETTE = theme.SERIES
SMOOTHING = 0.7          # EMA weight of the past, debiased as in TensorBoard
EMPTY_TITLE = "No runs yet"
EMPTY_HINT = "Press Start (F5) to train — the loss appears here, step by step."
PLOT_SHARES = (3, 2, 2)  # of the height: loss, accuracy, learning rate (the lowest also holds the step axis)
LOSS_PLOT_MIN, SMALL_PLOT_MIN = 80, 48   # px: three plots fit a 250 px dock (1024x700) without scrolling
REFRESH_MS = 125         # at most 8 redraws a second, and only when something changed: a curve fed 8
                         # times a second looks as live as at 30, and each redraw of the plots and their
                         # axes (~10 ms of the GUI thread) is a core taken from a 2-core machine's training
EARLIER_RUN_ALPHA = 0.4  # earlier runs stay for comparison but step back
HOVER_RADIUS_PX = 40     # the hover label shows a point only when the mouse is this close to it
AXIS_WIDTH_PX = 64       # the same left-axis width lines up the plots' x axes
CSV_COLUMNS = ("epoch", "step", "train_loss", "val_loss", "val_accuracy", "lr", "seconds", "samples_per_second",
               "train_accuracy")   # new columns go last: scripts reading the old ones by position keep working
EPOCH_MARKERS = 120      # a dot per epoch up to this many: a toy set's thousands of epochs made the dots (a
                         # scatter item rebuilt at every redraw) most of the plots' cost, and a line reads the same
STEP_HEADROOM = 1.5      # the step axis grows to 1.5x the newest step when a run passes its end: its ticks,
                         # grid and cached axis pictures stay the same for most redraws instead of moving
                         # with every one (the axes were most of a redraw's ~10 ms)
VALUE_HEADROOM = 0.15    # a value axis is set this share of the curves' span beyond them (at least twice its
VALUE_SHRINK = 0.4       # room when they left it) and kept until a curve leaves it or the curves fill less
                         # than this share of it: pyqtgraph's own auto-range moved it at every redraw of a
                         # live run, and each move re-ticked and repainted the axis and its grid (3-8 ms an
                         # axis, three axes, 8 times a second)
EXPORT_SCALE = 2.0       # a PNG is at least twice the on-screen size: sharp on a slide or a HiDPI screen


class _Columns:
    """Growable float columns: amortised O(1) appends, and setData gets views, never copies."""

    def __init__(self, columns: int, capacity: int = 1024):
        self._data = np.empty((columns, capacity))  # one contiguous row per column
        self.size = 0

    def extend(self, *columns: np.ndarray) -> None:
        n = len(columns[0])
        if self.size + n > self._data.shape[1]:
            grown = np.empty((self._data.shape[0], max(2 * self._data.shape[1], self.size + n)))
            grown[:, : self.size] = self._data[:, : self.size]
            self._data = grown  # views handed out earlier keep the old array alive and unchanged
        for i, values in enumerate(columns):
            self._data[i, self.size : self.size + n] = values
        self.size += n

    def __getitem__(self, column: int) -> np.ndarray:
        return self._data[column, : self.size]

    def __len__(self) -> int:
        return self.size


STEP, LOSS, SMOOTH, LR = range(4)  # step columns
EPOCH_COLUMNS = EPOCH_X, VAL_LOSS, VAL_ACCURACY, TRAIN_ACCURACY = range(4)  # epoch columns (accuracies in %)


class _Envelope:
    """What the plot draws of a long run: past `limit` points, blocks of steps reduced to their
    maximum and minimum (the picture peak downsampling gives), updated for new blocks only.
    pyqtgraph's own downsampling reads all N points at every refresh (~10 ms a frame at a million)
    and still hands several points per pixel to the painter; 4096 is a peak pair per pixel of a
    2000-pixel-wide plot, and drawing it takes half the time 8192 did."""

    def __init__(self, columns: int, limit: int = 4096):
        self.limit = limit
        self.block = 1
        self.done = 0                       # steps folded into complete blocks
        self._out = _Columns(columns)

    def view(self, steps: _Columns) -> list[np.ndarray]:
        """One array per column: short runs as they are; long ones as block peaks plus the open tail."""
        n = len(steps)
        columns = range(self._out._data.shape[0])
        if n <= self.limit:
            return [steps[c] for c in columns]
        if self.block == 1 or 2 * n // self.block > self.limit:
            block = 2
            while 2 * n // block > self.limit:
                block *= 2
            self.block, self.done, self._out = block, 0, _Columns(len(columns))   # rare: rebuilt at doublings
        complete = n // self.block * self.block
        if complete > self.done:
            self._out.extend(*(self._fold(steps[c][self.done:complete], c == STEP) for c in columns))
            self.done = complete
        return [np.concatenate((self._out[c], steps[c][self.done:])) for c in columns]

    def _fold(self, values: np.ndarray, is_x: bool) -> np.ndarray:
        blocks = values.reshape(-1, self.block)
        if is_x:
            return np.repeat(blocks[:, 0], 2)
        return np.column_stack((blocks.max(axis=1), blocks.min(axis=1))).ravel()


@dataclass
class RunCurves:
    """The plot items of one run, created once when it begins and fed with setData after."""

    raw: pg.PlotDataItem        # training loss per reported step, thin and translucent
    smooth: pg.PlotDataItem     # its EMA, bold
    val: pg.PlotDataItem        # validation loss per epoch at the epoch's last step
    best: pg.PlotDataItem       # a star on the lowest validation loss
    accuracy: pg.PlotDataItem   # validation accuracy per epoch, in percent
    lr: pg.PlotDataItem         # learning rate per reported step
    train_accuracy: pg.PlotDataItem   # the epoch's running training accuracy, in percent
    penalty: pg.PlotDataItem    # the L1/L2 penalty per reported step (on the loss plot), when the run has one

    def items(self) -> tuple[pg.PlotDataItem, ...]:
        return self.raw, self.smooth, self.val, self.best, self.accuracy, self.lr, self.train_accuracy, self.penalty


@dataclass
class _Run:
    id: int
    name: str
    summary: str
    color: QColor
    curves: RunCurves
    steps: _Columns = field(default_factory=lambda: _Columns(4))
    envelope: _Envelope = field(default_factory=lambda: _Envelope(4))
    epochs: list[tuple[float, EpochEvent]] = field(default_factory=list)  # (x = global step, event)
    steps_per_epoch: int = 0
    ema: float = 0.0
    ema_count: int = 0
    visible: bool = True
    end: EndEvent | None = None
    drawn_epochs: int = -1   # epochs on the per-epoch curves: they change once an epoch, not every refresh
    lr_varies: bool = False  # a scheduler moved the lr: only then is the lr plot worth its room
    epoch_dots: bool = True  # the per-epoch curves show a dot per epoch (EPOCH_MARKERS)
    penalties: _Columns = field(default_factory=lambda: _Columns(2))   # (step, penalty) of reports with one
    penalty_envelope: _Envelope = field(default_factory=lambda: _Envelope(2))
    markers: list = field(default_factory=list)   # (pg.InfiniteLine, its text): the live changes
    resized: bool = False    # the batch size changed while it trained: epochs differ in steps

    # the per-epoch curves' points, kept as the epochs come (a toy set brings dozens a second: lists of
    # thousands of events turned into arrays at every redraw were most of a redraw)
    epoch_points: _Columns = field(default_factory=lambda: _Columns(len(EPOCH_COLUMNS)))
    best: tuple[float, EpochEvent] | None = None   # the lowest finite validation loss so far, the first of equals

    def add_epoch(self, x: float, event: EpochEvent) -> None:
        self.epochs.append((x, event))
        self.epoch_points.extend(*(np.array([v]) for v in (
            x, _nan(event.val_loss), _nan(event.val_accuracy) * 100, _nan(event.train_accuracy) * 100)))
        loss = event.val_loss
        if loss is not None and math.isfinite(loss) and (self.best is None or loss < self.best[1].val_loss):
            self.best = (x, event)

    def best_epoch(self) -> tuple[float, EpochEvent] | None:
        return self.best


class TrainingPlots(QWidget):
    """Loss (per step, smoothed, per-epoch validation), validation accuracy and learning rate of every run."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._runs: dict[int, _Run] = {}
        self._current: int | None = None  # the newest run: full colour, its best epoch marked
        self._colors_used = 0
        self._dirty: set[int] = set()
        self._bg, self._fg = theme.canvas_colors(self)

        self.loss_plot = self._make_plot("lossPlot", "loss")
        self.accuracy_plot = self._make_plot("accuracyPlot", "acc", "%")   # short: it fits the short plot
        self.lr_plot = self._make_plot("lrPlot", "lr")   # "learning rate" was cut off on the short plot
        for plot in (self.accuracy_plot, self.lr_plot):
            plot.setXLink(self.loss_plot)
        self._follow_runs = True   # the step and value axes follow the runs, until the person zooms or pans
        for plot in (self.loss_plot, self.accuracy_plot, self.lr_plot):
            plot.getViewBox().sigRangeChangedManually.connect(self._on_range_changed_manually)
        # the legend: a line of text above the plots, never over a curve, listing the runs shown
        self.legend = QLabel()
        self.legend.setObjectName("runsLegend")
        self.legend.setTextFormat(Qt.RichText)
        self.legend.setWordWrap(True)
        self.legend.setContentsMargins(4, 0, 4, 0)

        best_pen = pg.mkPen(with_alpha(self._fg, 150), width=1, style=Qt.DashLine)
        self.best_line = pg.InfiniteLine(angle=90, pen=best_pen)
        # said in the header, not on the plot: in a short plot any label collides with the legend
        self.best_label = QLabel()
        self.best_label.setObjectName("bestEpochLabel")
        self.best_label.setWordWrap(True)   # in a narrow dock two lines, not a dock wider than the window
        self.best_label.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.best_label.setToolTip("The epoch with the lowest validation loss, and that loss (the star and the dashed line)")
        self.best_label.hide()
        self.best_line.setZValue(-5)
        self.best_line.hide()
        self.loss_plot.addItem(self.best_line, ignoreBounds=True)
        self._make_hover()

        self.log_scale_check = QCheckBox("Log scale")
        self.log_scale_check.setObjectName("logScaleCheck")
        self.log_scale_check.setToolTip("Show the loss on a logarithmic axis")
        self.log_scale_check.toggled.connect(self._on_log_scale_check_toggled)
        self.fit_button = QToolButton()
        self.fit_button.setObjectName("fitPlotsButton")
        self.fit_button.setText("Fit")
        self.fit_button.setToolTip("Fit the axes to the runs shown (after zooming or panning with the mouse)")
        self.fit_button.clicked.connect(self.fit_to_runs)
        # the key lives in the tooltip: in a narrow dock it was cut off mid-word ("thin: reports,")
        title = QLabel("<b>Training loss</b> <small>(hover for the key)</small>")
        title.setToolTip("Thin: the loss at each report; bold: smoothed; dots: the validation loss of each epoch; "
                         "dotted: the L1/L2 penalty added to it, when one is on; dash-dot lines: a setting "
                         "changed while training. Accuracy: the solid line is the epoch's running training "
                         "accuracy, dots validation")
        title.setTextFormat(Qt.RichText)
        # a narrow dock clips the title instead of growing to fit it
        title.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)

        top = QHBoxLayout()
        top.setContentsMargins(4, 0, 4, 0)
        top.addWidget(title, 1)
        top.addSpacing(12)
        top.addWidget(self.log_scale_check)
        top.addWidget(self.fit_button)
        # stacked, so the linked x axes line up: x-linking aligns views by their position on screen
        splitter = self._splitter = QSplitter(Qt.Vertical)
        splitter.setChildrenCollapsible(False)
        for plot, stretch in zip((self.loss_plot, self.accuracy_plot, self.lr_plot), PLOT_SHARES):
            splitter.addWidget(plot)
            splitter.setStretchFactor(splitter.indexOf(plot), stretch)
        self._shown_plots: tuple = ()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(top)
        # the best epoch on the legend's line: in the header it squeezed the title to "Trainin"
        keys = QHBoxLayout()
        keys.setContentsMargins(0, 0, 4, 0)
        keys.addWidget(self.legend, 1)
        keys.addWidget(self.best_label)
        layout.addLayout(keys)
        layout.addWidget(splitter, 1)
        self.accuracy_plot.hide()
        for plot in (self.accuracy_plot, self.lr_plot):   # three plots of 110 px scrolled a short dock
            plot.setMinimumHeight(SMALL_PLOT_MIN)
        # before the first run: what to do, where the loss will be; the lr plot waits for a run
        self.empty_state = EmptyState(self.loss_plot, EMPTY_TITLE, EMPTY_HINT, self._fg, self._bg,
                                      "plotsEmptyState")
        self._arrange_plots()

        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_MS)
        self._refresh_timer.timeout.connect(self._on_refresh_timer_timeout)

    # --- runs --------------------------------------------------------------------------------------

    def begin_run(self, run_id: int, name: str, summary: str) -> QColor:
        """Add a run's curves (empty) and make it the current one; returns its colour."""
        if run_id in self._runs:
            raise ValueError(f"run {run_id} has already begun")
        color = QColor(PALETTE[self._colors_used % len(PALETTE)])
        self._colors_used += 1
        curves = RunCurves(
            raw=self._curve(self.loss_plot),
            smooth=self._curve(self.loss_plot),
            val=self._curve(self.loss_plot, symbol="o", symbolSize=6),
            best=self._curve(self.loss_plot, symbol="star", symbolSize=16),
            accuracy=self._curve(self.accuracy_plot, symbol="o", symbolSize=5),
            lr=self._curve(self.lr_plot, fillLevel=0),  # the filled area keeps 0 in view: a constant lr reads right
            train_accuracy=self._curve(self.accuracy_plot),
            penalty=self._curve(self.loss_plot),
        )
        curves.best.setZValue(10)
        run = _Run(run_id, name, summary, color, curves)
        self._runs[run_id] = run
        self._follow_runs = True   # a new run is what the person wants to watch
        previous, self._current = self._current, run_id
        if previous is not None:
            self._style(self._runs[previous])
        self._style(run)
        self._update_legend()
        self._update_best_line()
        return QColor(color)

    def add_steps(self, run_id: int, events: list[StepEvent]) -> None:
        if not events:
            return
        run = self._runs[run_id]
        n = len(events)
        x = np.fromiter((e.global_step for e in events), float, n)
        loss = np.fromiter((e.loss for e in events), float, n)
        lr = np.fromiter((e.lr for e in events), float, n)
        smooth = np.empty(n)
        ema, count, w = run.ema, run.ema_count, SMOOTHING
        for i, value in enumerate(loss.tolist()):  # a plain loop: the recurrence does not vectorise
            ema = w * ema + (1 - w) * value
            count += 1
            smooth[i] = ema / (1 - w**count)
        run.ema, run.ema_count = ema, count
        if not run.lr_varies:
            first = run.steps[LR][0] if len(run.steps) else lr[0]
            if np.any(np.abs(lr - first) > 1e-12 * abs(first)):
                run.lr_varies = True
                self._arrange_plots()
        run.steps.extend(x, loss, smooth, lr)
        run.steps_per_epoch = events[-1].steps
        penalised = [e for e in events if e.penalty is not None]
        if penalised:
            run.penalties.extend(np.fromiter((e.global_step for e in penalised), float, len(penalised)),
                                 np.fromiter((e.penalty for e in penalised), float, len(penalised)))
        self._mark_dirty(run_id)

    def add_changes(self, run_id: int, changes: list) -> None:
        """Mark live changes (core.training.ChangeEvent) on the plots: a vertical line where the new
        value began, labelled with the change."""
        run = self._runs[run_id]
        for change in changes:
            text = f"{change.setting} {_value(change.old)}→{_value(change.new)}"
            # each change's label a row below the last one's (four rows, then from the top again): in a
            # narrow plot labels at nearby steps, or at one step, would lie on each other
            below = len(run.markers) % 4
            line = pg.InfiniteLine(pos=change.step, angle=90, movable=False,
                                   pen=pg.mkPen(with_alpha(run.color, 200), width=1, style=Qt.DashDotLine),
                                   label=text, labelOpts={"position": max(0.95 - 0.13 * below, 0.05),
                                                          "color": self._fg, "anchors": [(0, 0), (0, 0)],
                                                          "fill": with_alpha(self._bg, 200)})
            line.setZValue(-4)
            line.setVisible(run.visible)
            self.loss_plot.addItem(line, ignoreBounds=True)
            run.markers.append((line, text))
            run.resized = run.resized or change.setting == "batch_size"

    def change_marks(self, run_id: int) -> list[tuple[float, str]]:
        """The live changes marked for a run: (step, label), in order."""
        return [(line.value(), text) for line, text in self._runs[run_id].markers]

    def add_epoch(self, run_id: int, event: EpochEvent) -> None:
        run = self._runs[run_id]
        # the epoch's last step: every epoch has the same number of steps, resumed runs included —
        # unless the batch size changed while it trained: then the last step reported, the epoch's
        if run.resized and len(run.steps):
            x = float(run.steps[STEP][-1])
        elif run.steps_per_epoch:
            x = float(event.epoch * run.steps_per_epoch)
        else:
            x = float(run.steps[STEP][-1]) if len(run.steps) else float(event.epoch)
        run.add_epoch(x, event)
        if event.val_accuracy is not None or event.train_accuracy is not None:
            if self.accuracy_plot.isHidden():   # regression has no accuracy: the loss keeps the room
                self.accuracy_plot.show()
                self._arrange_plots()
        self._mark_dirty(run_id)

    def rename_run(self, run_id: int, name: str) -> None:
        self._runs[run_id].name = name
        self._update_legend()

    def end_run(self, run_id: int, event: EndEvent) -> None:
        self._runs[run_id].end = event
        self._mark_dirty(run_id)

    def set_run_visible(self, run_id: int, visible: bool) -> None:
        run = self._runs[run_id]
        if run.visible == visible:
            return
        run.visible = visible
        for item in run.curves.items():
            item.setVisible(visible)
        for line, _ in run.markers:
            line.setVisible(visible)
        self._update_legend()   # a hidden run leaves the legend, so the legend lists what is drawn
        self._update_best_line()
        self._hide_hover()
        self.fit_to_runs()      # and the axes: a hidden run's range is not kept

    def fit_to_runs(self) -> None:
        """Fit every axis to the runs shown (pyqtgraph skips hidden items, but only when it re-ranges)."""
        self._follow_runs = True
        for plot in (self.loss_plot, self.accuracy_plot, self.lr_plot):
            vb = plot.getViewBox()
            vb.enableAutoRange()
            vb.updateAutoRange()
            vb.disableAutoRange()   # from here the axes follow the runs in jumps (_grow_step_axis, _follow_values)

    def legend_text(self) -> str:
        """The legend as plain words: the runs shown, in order."""
        return " · ".join(run.name for run in self._runs.values() if run.visible)

    def _update_legend(self) -> None:
        parts = []
        for run in self._runs.values():
            if run.visible:
                weight = "bold" if run.id == self._current else "normal"
                name = _html(run.name).replace(" ", "&nbsp;")   # the legend wraps between runs, not in a name
                parts.append(f'<span style="color:{run.color.name()}; font-size:12pt">■</span>'
                             f'&nbsp;<span style="font-weight:{weight}">{name}</span>')
        self.legend.setText("&nbsp;&nbsp; ".join(parts))
        self.legend.setVisible(bool(parts))
        self._arrange_plots()

    def _arrange_plots(self) -> None:
        """Before any run the empty state; the accuracy plot once a run has an accuracy, the lr plot once a
        scheduler moves the lr (a flat line took a third of a short dock); the step axis drawn once, under
        the lowest plot shown (the x axes are linked)."""
        self.empty_state.setVisible(not self._runs)
        self.lr_plot.setVisible(any(run.lr_varies for run in self._runs.values()))
        plots = (self.loss_plot, self.accuracy_plot, self.lr_plot)
        shown = tuple(plot for plot in plots if not plot.isHidden())
        lowest = shown[-1]
        if shown != self._shown_plots:   # a plot shown mid-run got what the others left: 10 px
            self._shown_plots = shown
            whole = max(self._splitter.height(), 1)
            total = sum(share for plot, share in zip(plots, PLOT_SHARES) if plot in shown)
            self._splitter.setSizes([whole * share // total if plot in shown else 0
                                     for plot, share in zip(plots, PLOT_SHARES)])
        for plot in plots:
            axis = plot.getPlotItem().getAxis("bottom")
            axis.setStyle(showValues=plot is lowest)
            axis.setLabel("step" if plot is lowest else "", **self._axis_style)
            axis.setHeight(None if plot is lowest else 6)

    def is_run_visible(self, run_id: int) -> bool:
        return self._runs[run_id].visible

    def remove_run(self, run_id: int) -> None:
        """Take a run's curves off the plots (the run list's Remove / Clear finished runs)."""
        run = self._runs.pop(run_id)
        plots = (self.loss_plot, self.loss_plot, self.loss_plot, self.loss_plot, self.accuracy_plot, self.lr_plot,
                 self.accuracy_plot, self.loss_plot)
        for plot, item in zip(plots, run.curves.items()):
            plot.removeItem(item)
        for line, _ in run.markers:
            self.loss_plot.removeItem(line)
        self._dirty.discard(run_id)
        if self._current == run_id:
            self._current = None
        self._update_legend()
        self._update_best_line()
        self._hide_hover()
        self.fit_to_runs()

    def clear_runs(self) -> None:
        self._refresh_timer.stop()
        for run_id in list(self._runs):
            self.remove_run(run_id)
        self._dirty.clear()
        self._current = None
        self._colors_used = 0
        self._update_best_line()
        self._hide_hover()

    def run_ids(self) -> list[int]:
        return list(self._runs)

    def run_curves(self, run_id: int) -> RunCurves:
        return self._runs[run_id].curves

    def run_color(self, run_id: int) -> QColor:
        return QColor(self._runs[run_id].color)

    def best_epoch(self, run_id: int) -> int | None:
        """The epoch with the lowest validation loss so far, None without validation."""
        best = self._runs[run_id].best_epoch()
        return best[1].epoch if best else None

    # --- files ---------------------------------------------------------------------------------------

    def export_png(self, path, width: int | None = None) -> None:
        """The plots (legend, loss, accuracy, learning rate) as a PNG, written atomically (temp file +
        replace): drawn anew at twice the on-screen size, or scaled to `width` pixels when that is larger."""
        image = self.render_image(width)
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.WriteOnly)
        if not image.save(buffer, "PNG"):
            raise OSError(f"cannot save {path}: the image could not be encoded as PNG")
        buffer.close()
        atomic_write_bytes(path, bytes(data))

    def render_image(self, width: int | None = None) -> QImage:
        """The widget painted at EXPORT_SCALE (or to `width`): curves, text and axes are drawn at that
        size, not a screenshot blown up."""
        self.refresh()
        self._hide_hover()
        scale = max(EXPORT_SCALE, (width or 0) / max(self.width(), 1))
        image = QImage(round(self.width() * scale), round(self.height() * scale), QImage.Format_ARGB32)
        image.fill(self._bg)
        axes = [plot.getPlotItem().getAxis(side) for plot in (self.loss_plot, self.accuracy_plot, self.lr_plot)
                for side in ("left", "bottom")]
        for axis in axes:   # their on-screen pixmap cache would be scaled up, blurred
            axis.setCacheMode(QGraphicsItem.NoCache)
        painter = QPainter(image)
        try:
            painter.setRenderHint(QPainter.Antialiasing)
            painter.setRenderHint(QPainter.TextAntialiasing)
            painter.scale(scale, scale)
            self.render(painter, QPoint(0, 0))
        finally:
            painter.end()
            for axis in axes:
                axis.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        return image

    def run_history_csv(self, run_id: int) -> str:
        """One row per epoch; empty cells where a value does not exist (no validation split, regression)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for x, e in self._runs[run_id].epochs:
            writer.writerow([
                e.epoch, int(x), _cell(e.train_loss), _cell(e.val_loss), _cell(e.val_accuracy),
                _cell(e.lr), _cell(e.seconds), _cell(e.samples_per_second), _cell(e.train_accuracy),
            ])
        return out.getvalue()

    # --- drawing -------------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Push the buffers of every changed run to its curves now (the timer does this ~30 times a second)."""
        self._refresh_timer.stop()
        dirty, self._dirty = self._dirty, set()
        for run_id in dirty:
            run = self._runs.get(run_id)
            if run is not None:
                self._draw(run)
        if dirty:
            self._grow_step_axis()
            self._follow_values()
            self._update_best_line()
            # settle the auto-ranges now, not in the first paint: a range set while painting the
            # loss plot moved the x-linked plots after they had painted, and every plot painted twice
            for plot in (self.loss_plot, self.accuracy_plot, self.lr_plot):
                plot.getViewBox().prepareForPaint()

    def _grow_step_axis(self) -> None:
        """Keep the newest step in view, widening the step axis in jumps (STEP_HEADROOM) rather than
        at every redraw; a range the person chose by zooming or panning stays theirs."""
        if not self._follow_runs:
            return
        ends = [run.steps[STEP][len(run.steps) - 1] for run in self._runs.values()
                if run.visible and len(run.steps)]
        if not ends:
            return
        last = float(max(ends))
        vb = self.loss_plot.getViewBox()
        x0, x1 = vb.viewRange()[0]
        if last > x1:
            vb.setXRange(min(x0, 0.0), _round_up(last * STEP_HEADROOM), padding=0)

    def _follow_values(self) -> None:
        """Keep every value axis around the curves shown, moving it only in jumps (VALUE_HEADROOM,
        VALUE_SHRINK) and never while the person's own zoom or pan holds; the log-scaled loss is left
        to pyqtgraph's auto-range."""
        if not self._follow_runs:
            return
        runs = [run for run in self._runs.values() if run.visible]
        for plot, names in ((self.loss_plot, ("raw", "smooth", "val", "best", "penalty")),
                            (self.accuracy_plot, ("accuracy", "train_accuracy")), (self.lr_plot, ("lr",))):
            if plot.isHidden() or (plot is self.loss_plot and self.log_scale_check.isChecked()):
                continue
            bounds = [_finite_bounds(getattr(run.curves, name).yData) for run in runs for name in names]
            bounds = [b for b in bounds if b is not None]
            if not bounds:
                continue
            lo, hi = min(b[0] for b in bounds), max(b[1] for b in bounds)
            if plot is self.lr_plot:
                lo = min(lo, 0.0)   # its filled area reaches down to 0
            vb = plot.getViewBox()
            r0, r1 = vb.viewRange()[1]   # where pyqtgraph's auto-range put it, the first time
            if vb.state["autoRange"][1] is not False:
                vb.disableAutoRange(axis=pg.ViewBox.YAxis)
            if r0 <= lo and hi <= r1 and hi - lo >= VALUE_SHRINK * (r1 - r0):
                continue
            pad = VALUE_HEADROOM * ((hi - lo) or abs(hi) or 1.0)
            new0, new1 = lo - pad, hi + pad
            if hi > r1:   # a curve climbing out: at least twice the room, so a steady climb moves it rarely
                new1 = max(new1, r0 + 2 * (r1 - r0))
            if lo < r0:
                new0 = min(new0, r1 - 2 * (r1 - r0))
            if lo >= 0:
                new0 = max(new0, 0.0)   # a loss, an accuracy or a rate is never below 0: no room wasted there
            if plot is self.accuracy_plot and hi <= 100:
                new1 = min(new1, 101.0)   # room for the dots at 100 %, no more
            vb.setYRange(new0, new1, padding=0)

    @Slot(object)
    def _on_range_changed_manually(self, _mouse_enabled) -> None:
        self._follow_runs = False

    def _mark_dirty(self, run_id: int) -> None:
        self._dirty.add(run_id)
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    @Slot()
    def _on_refresh_timer_timeout(self) -> None:
        self.refresh()

    def _draw(self, run: _Run) -> None:
        c, s = run.curves, run.envelope.view(run.steps)
        # reported losses are finite (the trainer stops at the first that is not): skip pyqtgraph's check
        c.raw.setData(s[STEP], s[LOSS], skipFiniteCheck=True)
        c.smooth.setData(s[STEP], s[SMOOTH], skipFiniteCheck=True)
        c.lr.setData(s[STEP], s[LR], skipFiniteCheck=True)
        if len(run.penalties):
            p = run.penalty_envelope.view(run.penalties)
            c.penalty.setData(p[0], p[1], skipFiniteCheck=True)
        if len(run.epochs) == run.drawn_epochs:
            return
        run.drawn_epochs = len(run.epochs)
        dots = len(run.epochs) <= EPOCH_MARKERS
        if dots != run.epoch_dots:
            run.epoch_dots = dots
            c.val.setSymbol("o" if dots else None)
            c.accuracy.setSymbol("o" if dots else None)
        if run.epochs:
            points = run.epoch_points
            x = points[EPOCH_X]
            for curve, column in ((c.val, VAL_LOSS), (c.accuracy, VAL_ACCURACY), (c.train_accuracy, TRAIN_ACCURACY)):
                values = points[column]
                shown = np.isfinite(values)
                if shown.any():   # a curve a run never has (regression's accuracy) is not set at every redraw
                    curve.setData(x[shown], values[shown], skipFiniteCheck=True)
        best = run.best_epoch()
        if best is not None:
            c.best.setData([best[0]], [best[1].val_loss])

    def _update_best_line(self) -> None:
        run = self._runs.get(self._current) if self._current is not None else None
        best = run.best_epoch() if run is not None and run.visible else None
        if best is None:
            self.best_line.hide()
            self.best_label.hide()
            return
        x, e = best
        self.best_line.setValue(x)
        self.best_line.show()
        self.best_label.setText(f"★ best epoch {e.epoch}: {e.val_loss:.4g}")   # short: it shares the legend's line
        self.best_label.show()

    def _make_plot(self, name: str, label: str, units: str | None = None) -> pg.PlotWidget:
        plot = pg.PlotWidget(background=self._bg)
        plot.setObjectName(name)
        item = plot.getPlotItem()
        # horizontal lines only: the loss is read against them, while vertical ones move with every
        # frame of a live run and redrawing them was ~15% of a frame
        item.showGrid(x=False, y=True, alpha=0.18)
        item.getViewBox().setDefaultPadding(0.03)
        # the only things that keep a million points fluid: draw what is in view, a few per pixel
        item.setClipToView(True)
        item.setDownsampling(auto=True, mode="peak")
        item.hideButtons()  # the "A" auto-range button overlaps the x labels; the context menu has it
        style = self._axis_style = {"color": self._fg.name(), "font-size": "10pt"}
        for side, text in (("left", f"{label} ({units})" if units else label), ("bottom", "step")):
            axis = item.getAxis(side)
            axis.setPen(pg.mkPen(with_alpha(self._fg, 140)))
            axis.setTextPen(pg.mkPen(self._fg))
            axis.enableAutoSIPrefix(False)  # "learning rate (m)" would puzzle; plain numbers read better
            axis.setLabel(text, **style)
        item.getAxis("left").setWidth(AXIS_WIDTH_PX)
        for side in ("left", "bottom"):
            # an axis (its grid lines included) repaints from a pixmap until its ticks change:
            # replaying its picture cost ~1 ms an axis on every frame of a live run
            item.getAxis(side).setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        plot.setMinimumHeight(LOSS_PLOT_MIN)
        return plot

    def _curve(self, plot: pg.PlotWidget, **opts) -> pg.PlotDataItem:
        curve = pg.PlotDataItem(**opts)
        plot.addItem(curve)  # adding applies the plot's clip and downsampling settings: set them after
        curve.setClipToView(True)
        curve.setDownsampling(auto=True, method="peak")
        return curve

    def _style(self, run: _Run) -> None:
        current = run.id == self._current
        a = 1.0 if current else EARLIER_RUN_ALPHA
        color = run.color
        c = run.curves
        c.raw.setPen(pg.mkPen(with_alpha(color, int(90 * a)), width=1))
        c.smooth.setPen(pg.mkPen(with_alpha(color, int(255 * a)), width=2.5 if current else 1.5))
        val_pen = pg.mkPen(with_alpha(color.darker(125), int(255 * a)), width=1.5, style=Qt.DashLine)
        c.val.setPen(val_pen)
        c.val.setSymbolPen(pg.mkPen(with_alpha(self._bg, int(255 * a)), width=1))
        c.val.setSymbolBrush(with_alpha(color.darker(125), int(255 * a)))
        c.best.setPen(None)
        c.best.setSymbolPen(pg.mkPen(with_alpha(self._fg, int(255 * a)), width=1))
        c.best.setSymbolBrush(with_alpha(QColor(theme.MARK), int(255 * a)))
        # as the loss: validation dashed with dots (darker), training solid
        c.accuracy.setPen(val_pen)
        c.accuracy.setSymbolPen(pg.mkPen(with_alpha(self._bg, int(255 * a)), width=1))
        c.accuracy.setSymbolBrush(with_alpha(color.darker(125), int(255 * a)))
        c.train_accuracy.setPen(pg.mkPen(with_alpha(color, int(255 * a)), width=2 if current else 1.5))
        c.lr.setPen(pg.mkPen(with_alpha(color, int(255 * a)), width=2 if current else 1.5))
        c.lr.setBrush(with_alpha(color, int(40 * a)))
        c.penalty.setPen(pg.mkPen(with_alpha(color.darker(140), int(220 * a)), width=1.5, style=Qt.DotLine))
        z = 1 if current else 0
        for item in (c.raw, c.smooth, c.val, c.accuracy, c.lr, c.train_accuracy, c.penalty):
            item.setZValue(z)

    # --- hover ---------------------------------------------------------------------------------------

    def _make_hover(self) -> None:
        pen = pg.mkPen(with_alpha(self._fg, 110), width=1, style=Qt.DotLine)
        self._hover_v = pg.InfiniteLine(angle=90, pen=pen)
        self._hover_h = pg.InfiniteLine(angle=0, pen=pen)
        self._hover_point = pg.PlotDataItem(symbol="o", symbolSize=9, pen=None)
        self._hover_label = pg.TextItem(
            color=self._fg, fill=pg.mkBrush(with_alpha(self._bg, 225)), border=pg.mkPen(with_alpha(self._fg, 90))
        )
        for item in (self._hover_v, self._hover_h, self._hover_point, self._hover_label):
            item.setZValue(20)
            self.loss_plot.addItem(item, ignoreBounds=True)
        self._hide_hover()
        # the proxy rate-limits: a mouse reports hundreds of moves a second, the eye needs ~60
        self._mouse_proxy = pg.SignalProxy(
            self.loss_plot.scene().sigMouseMoved, rateLimit=60, slot=self._on_loss_scene_mouse_moved
        )
        self.loss_plot.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.loss_plot and event.type() == QEvent.Leave:
            self._hide_hover()
        return super().eventFilter(watched, event)

    def _hide_hover(self) -> None:
        for item in (self._hover_v, self._hover_h, self._hover_point, self._hover_label):
            item.hide()

    def _on_loss_scene_mouse_moved(self, args) -> None:
        pos: QPointF = args[0]
        vb = self.loss_plot.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(pos):
            self._hide_hover()
            return
        found = self.nearest_point(pos)
        if found is None:
            self._hide_hover()
            return
        run, x, y, text = found
        self.show_hover(run, x, y, text)

    def nearest_point(self, scene_pos: QPointF) -> tuple[_Run, float, float, str] | None:
        """The visible step or epoch point nearest the mouse on screen, with the text to show for it."""
        vb = self.loss_plot.getPlotItem().getViewBox()
        log = self.log_scale_check.isChecked()
        mouse = vb.mapSceneToView(scene_pos)
        best: tuple[float, _Run, float, float, str] | None = None

        def consider(run: _Run, x: float, y: float, text: str) -> None:
            nonlocal best
            if log and y <= 0:
                return
            p = vb.mapViewToScene(QPointF(x, math.log10(y) if log else y))
            d = math.hypot(p.x() - scene_pos.x(), p.y() - scene_pos.y())
            if d <= HOVER_RADIUS_PX and (best is None or d < best[0]):
                best = (d, run, x, y, text)

        for run in self._runs.values():
            if not run.visible:
                continue
            xs = run.steps[STEP]
            if len(xs):
                i = int(np.searchsorted(xs, mouse.x()))
                for j in {max(i - 1, 0), min(i, len(xs) - 1)}:
                    loss, smooth = run.steps[LOSS][j], run.steps[SMOOTH][j]
                    text = (f"<b>{run.name}</b> · step {int(xs[j]):,}<br>"
                            f"loss {loss:.4g} · smoothed {smooth:.4g}")
                    consider(run, float(xs[j]), float(loss), text)
                    consider(run, float(xs[j]), float(smooth), text)
            for x, e in run.epochs:
                if e.val_loss is not None and math.isfinite(e.val_loss):
                    acc = f" · accuracy {e.val_accuracy:.1%}" if e.val_accuracy is not None else ""
                    train_acc = f" · accuracy {e.train_accuracy:.1%}" if e.train_accuracy is not None else ""
                    text = (f"<b>{run.name}</b> · epoch {e.epoch} (step {int(x):,})<br>"
                            f"val loss {e.val_loss:.4g}{acc} · train loss {e.train_loss:.4g}{train_acc}")
                    consider(run, x, e.val_loss, text)
        return None if best is None else best[1:]

    def show_hover(self, run: _Run, x: float, y: float, text: str) -> None:
        log = self.log_scale_check.isChecked()
        vy = math.log10(y) if log else y
        self._hover_v.setValue(x)
        self._hover_h.setValue(vy)
        self._hover_point.setData([x], [y])
        self._hover_point.setSymbolBrush(run.color)
        self._hover_point.setSymbolPen(pg.mkPen(self._bg, width=1.5))
        self._hover_label.setHtml(f'<span style="font-size:9pt">{text}</span>')
        # keep the label inside the view: left of the point in the right half, below it near the top
        (x0, x1), (y0, y1) = self.loss_plot.getPlotItem().getViewBox().viewRange()
        self._hover_label.setAnchor((1 if x > (x0 + x1) / 2 else 0, 0 if vy > (y0 + y1) / 2 else 1))
        self._hover_label.setPos(x, vy)
        for item in (self._hover_v, self._hover_h, self._hover_point, self._hover_label):
            item.show()

    def hover_text(self) -> str | None:
        return self._hover_label.toPlainText() if self._hover_label.isVisible() else None

    # --- settings ------------------------------------------------------------------------------------

    @Slot(bool)
    def _on_log_scale_check_toggled(self, checked: bool) -> None:
        self._hide_hover()
        self.loss_plot.setLogMode(y=checked)
        vb = self.loss_plot.getViewBox()
        vb.enableAutoRange(y=True)   # the loss refitted on its new scale now; on the log scale it stays on
        vb.updateAutoRange()
        if not checked:
            vb.disableAutoRange(axis=pg.ViewBox.YAxis)   # back on the linear scale, _follow_values keeps it
        self._update_best_line()



def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _value(value) -> str:
    return "[" + ", ".join(f"{v:g}" for v in value) + "]" if isinstance(value, (list, tuple)) else f"{value:g}"


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def _cell(value: float | None) -> str:
    return "" if value is None or not math.isfinite(value) else repr(float(value))


def _finite_bounds(values) -> tuple[float, float] | None:
    """The smallest and largest finite value of a curve's data, None without any."""
    if values is None or not len(values):
        return None
    values = np.asarray(values)
    finite = values[np.isfinite(values)]
    return (float(finite.min()), float(finite.max())) if len(finite) else None


def _round_up(value: float) -> float:
    """The next round number at or above `value` (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10) if m * power >= value * (1 - 1e-12))
