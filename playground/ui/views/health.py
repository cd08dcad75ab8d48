"""Training health: per-layer gradient norms, update sizes and dead or saturated units over the run."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from .. import theme
from ...core.spec import Project
from ..colors import rgba, with_alpha
from ..plots import AXIS_WIDTH_PX, PALETTE, REFRESH_MS
from . import View

STRIP_GAP_MS = 20   # between the strips' redraws: the event loop paints and answers in between

GRADIENTS, ACTIVITY = "gradients", "activity"   # a layer's row kinds: log-scaled sizes / fractions


@dataclass(frozen=True)
class Metric:
    name: str       # the LayerHealth field
    label: str      # in the legend and the row's readout
    short: str
    group: str
    color: str


METRICS = (
    Metric("grad_norm", "gradient norm", "grad", GRADIENTS, PALETTE[0]),
    Metric("update_ratio", "update / weight", "update", GRADIENTS, PALETTE[1]),
    Metric("dead_fraction", "dead ReLU units", "dead", ACTIVITY, PALETTE[4]),
    Metric("saturation", "saturated Sigmoid / Tanh units", "saturated", ACTIVITY, PALETTE[3]),
)
HEALTHY_UPDATE = 1e-3    # updates about a thousandth of the weights: the usual healthy pace (CS231n)
ROW_HEIGHT = 76          # a strip: enough for a trend, small enough to see a dozen layers
STEP_AXIS_PX = 40        # the last strip carries the shared step axis
LABEL_WIDTH = 118
EMPTY_TEXT = ("Train with this tab open: how each layer's gradients, update sizes and activations "
              "behave during the run appears here, with warnings in plain words.")


@dataclass
class _Row:
    """One strip: a layer's gradient sizes (log axis) or its activity (percent)."""

    layer: int
    group: str
    widget: QWidget
    label: QLabel
    plot: pg.PlotWidget
    type: str = ""
    curves: dict[str, pg.PlotDataItem] = field(default_factory=dict)
    steps: dict[str, list[float]] = field(default_factory=dict)
    values: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class _Warning:
    item: QListWidgetItem
    first: int       # the step it was first seen at
    count: int = 0


# the numbers of a warning, not its layer: "layer 3 ReLU: 61% ..." and "... 64% ..." are one problem
_NUMBER = re.compile(
    r"(?<!layer )(?<![\w.])[-+]?(?:\d[\d,]*\.?\d*|\.\d+)(?:e[-+]?\d+)?|\binf\b|\bnan\b", re.IGNORECASE
)


class TrainingHealthView(View):
    """A strip per layer over training steps, and the health warnings of the run."""

    title = "Training health"

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("trainingHealthView")
        self._rows: dict[tuple[int, str], _Row] = {}
        self._dirty: set[tuple[int, str]] = set()
        self._network_key: str | None = None
        self._warnings: dict[str, _Warning] = {}   # by the text without its numbers
        self._events = 0
        self._bg, self._fg = theme.canvas_colors(self)
        self._red = theme.error_color(self)

        self.legend = QLabel()
        self.legend.setObjectName("healthLegend")
        self.legend.setTextFormat(Qt.RichText)
        self.legend.setWordWrap(True)
        self.step_label = QLabel()
        self.step_label.setObjectName("healthStep")
        self.step_label.setAlignment(Qt.AlignRight | Qt.AlignVCenter)

        self.strips = QWidget()
        self.strips.setObjectName("healthStrips")
        self._strip_layout = QVBoxLayout(self.strips)
        self._strip_layout.setContentsMargins(0, 0, 0, 0)
        self._strip_layout.setSpacing(8)
        self._strip_layout.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.NoFrame)
        self.scroll.setWidget(self.strips)
        self.empty = QLabel(EMPTY_TEXT)
        self.empty.setObjectName("healthEmpty")
        self.empty.setAlignment(Qt.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setMargin(24)
        self.empty.setForegroundRole(QPalette.PlaceholderText)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.scroll)

        self.warnings_title = QLabel()
        self.warnings_title.setTextFormat(Qt.RichText)
        self.warnings = QListWidget()
        self.warnings.setObjectName("healthWarnings")
        self.warnings.setWordWrap(True)
        self.warnings.setMaximumHeight(110)
        self.warnings.setStyleSheet(f"QListWidget {{ color: {self._red.name()}; }}")

        top = QHBoxLayout()
        top.setContentsMargins(8, 6, 8, 2)
        top.addWidget(self.legend, 1)
        top.addWidget(self.step_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 4)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addWidget(self.stack, 1)
        warn = QVBoxLayout()
        warn.setContentsMargins(8, 0, 8, 0)
        warn.setSpacing(2)
        warn.addWidget(self.warnings_title)
        warn.addWidget(self.warnings)
        layout.addLayout(warn)

        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_MS)
        self._refresh_timer.timeout.connect(self._on_refresh_timer_timeout)
        self._catch_up_timer = QTimer(self)
        self._catch_up_timer.setSingleShot(True)
        self._catch_up_timer.timeout.connect(self._on_catch_up_timer_timeout)
        self.clear()

    # --- the View protocol -------------------------------------------------------------------

    def set_project(self, project: Project) -> None:
        """A different network makes the old strips meaningless: they go."""
        key = json.dumps(project.network.to_dict(), sort_keys=True)
        if self._network_key is not None and key != self._network_key:
            self.clear()
        self._network_key = key

    def set_weights(self, state: dict | None) -> None:
        pass  # health comes from the run's events, not from the weights

    # --- data ----------------------------------------------------------------------------------

    @Slot(object)
    def add_health(self, event) -> None:
        """Append one core.health.HealthEvent: a point per measured metric, new warnings to the list.

        Hidden, the view only keeps the event: building its strips (a plot per layer, ~0.3 s for
        LeNet's ten) at a run's first event held the window while the run began, for a tab not shown."""
        self._pending.append(event)
        if self.isVisible():
            self._catch_up(spread=True)

    def _catch_up(self, spread: bool = False) -> None:
        """Draw the events kept while hidden. `spread`: build at most one new strip (a plot of its
        own, ~30 ms) per pass of the event loop, so showing the tab mid-run never holds the window."""
        built = False
        while self._pending:
            event = self._pending[0]
            missing = [key for key in _rows_needed(event) if key[:2] not in self._rows]
            if missing:
                if spread and built:
                    self._catch_up_timer.start(STRIP_GAP_MS)
                    return
                layer, group, type_ = missing[0]
                self._row(layer, type_, group)
                built = True
                continue
            self._pending.pop(0)
            self._add(event)

    @Slot()
    def _on_catch_up_timer_timeout(self) -> None:
        if self.isVisible():
            self._catch_up(spread=True)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._catch_up(spread=True)

    def _add(self, event) -> None:
        step = float(event.global_step)
        self._events += 1
        for layer in event.layers:
            for metric in METRICS:
                value = getattr(layer, metric.name, None)
                if value is None:
                    continue   # not measured for this layer type (no weights, no ReLU...)
                row = self._row(layer.index, layer.type, metric.group)
                if metric.name not in row.curves:
                    row.curves[metric.name] = self._curve(row, metric)
                    row.steps[metric.name], row.values[metric.name] = [], []
                row.steps[metric.name].append(step)
                row.values[metric.name].append(float(value))
                self._dirty.add((row.layer, row.group))
        for text in event.warnings:
            self._warn(int(step), text)
        self._update_warnings_title()
        self._update_legend()
        self.step_label.setText(f"step {int(step):,}")
        if self._rows:
            self.stack.setCurrentWidget(self.scroll)
        if self._dirty and not self._refresh_timer.isActive():
            self._refresh_timer.start(REFRESH_MS)

    def clear(self) -> None:
        self._pending = []
        if hasattr(self, "_catch_up_timer"):
            self._catch_up_timer.stop()
        self._refresh_timer.stop()
        for row in self._rows.values():
            self._strip_layout.removeWidget(row.widget)
            row.widget.deleteLater()
        self._rows.clear()
        self._dirty.clear()
        self._warnings.clear()
        self._events = 0
        self.warnings.clear()
        self._update_warnings_title()
        self._update_legend()
        self.step_label.setText("")
        self.stack.setCurrentWidget(self.empty)

    # --- for tests and tools -------------------------------------------------------------------

    def layer_rows(self) -> list[tuple[int, str]]:
        """(layer index, "gradients" | "activity") of every strip, top to bottom."""
        self._catch_up()
        return sorted(self._rows)

    def curve_data(self, layer: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """The (steps, values) drawn for a layer's metric, as given (fractions stay 0..1)."""
        self._catch_up()
        self.refresh()
        group = next(m.group for m in METRICS if m.name == metric)
        row = self._rows[(layer, group)]
        x, y = row.curves[metric].getOriginalDataset()   # getData() would give log10 on a log axis
        if group == ACTIVITY:
            y = y / 100.0
        return x, y

    def strip_plot(self, layer: int, group: str) -> pg.PlotWidget:
        self._catch_up()
        return self._rows[(layer, group)].plot

    def warning_texts(self) -> list[str]:
        self._catch_up()
        return [self.warnings.item(i).text() for i in range(self.warnings.count())]

    # --- drawing -------------------------------------------------------------------------------

    def refresh(self, rows: int | None = None) -> None:
        """Push the new points to their curves now (a timer does this, a strip at a time). `rows`:
        how many strips at most (None: all); the rest stay for the next time."""
        self._refresh_timer.stop()
        dirty = sorted(self._dirty)
        if rows is not None:
            dirty = dirty[:rows]
        self._dirty.difference_update(dirty)
        for key in dirty:
            row = self._rows.get(key)
            if row is None:
                continue
            for name, curve in row.curves.items():
                x = np.asarray(row.steps[name], float)
                y = np.asarray(row.values[name], float)
                if row.group == GRADIENTS:
                    y = np.where(np.isfinite(y) & (y > 0), y, np.nan)   # a log axis has no 0 or inf: a gap says it
                else:
                    y = y * 100.0
                curve.setData(x, y, connect="finite")
            row.label.setText(self._readout(row))

    @Slot()
    def _on_refresh_timer_timeout(self) -> None:
        # one strip per pass of the event loop: each strip is a plot of its own, and all of them in
        # one pass held the GUI thread for ~70 ms (LeNet's ten strips) while training
        self.refresh(rows=1)
        if self._dirty:
            self._refresh_timer.start(STRIP_GAP_MS)

    def _row(self, layer: int, type_: str, group: str) -> _Row:
        key = (layer, group)
        row = self._rows.get(key)
        if row is not None:
            return row
        plot = pg.PlotWidget(background=self._bg)
        plot.setFixedHeight(ROW_HEIGHT)
        item = plot.getPlotItem()
        item.showGrid(x=True, y=True, alpha=0.15)
        item.hideButtons()
        item.setMenuEnabled(False)
        item.setMouseEnabled(x=True, y=False)
        item.getViewBox().setDefaultPadding(0.04)
        for side in ("left", "bottom"):
            axis = item.getAxis(side)
            axis.setPen(pg.mkPen(with_alpha(self._fg, 140)))
            axis.setTextPen(pg.mkPen(self._fg))
            axis.enableAutoSIPrefix(False)
        item.getAxis("left").setWidth(AXIS_WIDTH_PX)
        if group == GRADIENTS:
            item.setLogMode(y=True)
            healthy = pg.InfiniteLine(
                math.log10(HEALTHY_UPDATE), angle=0,
                pen=pg.mkPen(with_alpha(self._fg, 120), width=1, style=Qt.DashLine),
            )
            item.addItem(healthy, ignoreBounds=True)
        else:
            item.setYRange(0, 100, padding=0.12)
            item.getAxis("left").setTicks([[(0, "0%"), (50, "50%"), (100, "100%")]])
            item.getAxis("left").setStyle(hideOverlappingLabels=False)
        first = next(iter(self._rows.values()), None)
        if first is not None:
            plot.setXLink(first.plot)   # every strip shows the same steps
        label = QLabel()
        label.setTextFormat(Qt.RichText)
        label.setFixedWidth(LABEL_WIDTH)
        label.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        widget = QWidget()
        line = QHBoxLayout(widget)
        line.setContentsMargins(8, 0, 4, 0)
        line.setSpacing(4)
        line.addWidget(label)
        line.addWidget(plot, 1)
        row = _Row(layer, group, widget, label, plot, type=type_)
        self._rows[key] = row
        position = sorted(self._rows).index(key)   # rows stay in layer order whatever arrives first
        self._strip_layout.insertWidget(position, widget)
        self._place_step_axis()
        label.setText(self._readout(row))
        return row

    def _place_step_axis(self) -> None:
        """One step axis, under the last strip: the strips share it (x-linked)."""
        keys = sorted(self._rows)
        for key in keys:
            row = self._rows[key]
            last = key == keys[-1]
            item = row.plot.getPlotItem()
            item.getAxis("bottom").setLabel("step" if last else None, color=self._fg.name())
            item.showAxis("bottom", last)
            row.plot.setFixedHeight(ROW_HEIGHT + (STEP_AXIS_PX if last else 0))

    def _curve(self, row: _Row, metric: Metric) -> pg.PlotDataItem:
        curve = pg.PlotDataItem(pen=pg.mkPen(metric.color, width=2), name=metric.label)
        row.plot.addItem(curve)
        curve.setClipToView(True)
        curve.setDownsampling(auto=True, method="peak")
        return curve

    def _readout(self, row: _Row) -> str:
        """The layer's name and its newest values, so the numbers need no hovering."""
        lines = [f"<b>{row.layer} · {row.type}</b>"]
        for metric in METRICS:
            values = row.values.get(metric.name)
            if not values:
                continue
            v = values[-1]
            shown = f"{v:.0%}" if metric.group == ACTIVITY else _number(v)
            lines.append(f"<span style='color:{metric.color}'>{metric.short}</span> {shown}")
        return "<br>".join(lines)

    def _warn(self, step: int, text: str) -> None:
        """One line per problem: a warning repeated at later steps (its numbers changed) updates its
        line with the newest words and a count, instead of flooding the list."""
        key = _NUMBER.sub("#", text)
        warning = self._warnings.get(key)
        if warning is None:
            item = QListWidgetItem()
            item.setForeground(self._red)
            self.warnings.addItem(item)
            warning = self._warnings[key] = _Warning(item, step)
        warning.count += 1
        repeats = f"  (×{warning.count} since step {warning.first:,})" if warning.count > 1 else ""
        warning.item.setText(f"step {step:,}: {text}{repeats}")
        warning.item.setToolTip(text)

    def _update_legend(self) -> None:
        """Only what is drawn: a network without Tanh needs no word about saturation."""
        shown = {name for row in self._rows.values() for name in row.curves}
        parts = [f"<span style='color:{m.color}'>━━</span> {m.label}" for m in METRICS if m.name in shown]
        if "update_ratio" in shown:
            dim = rgba(self._fg, 160)
            parts.append(f"<span style='color:{dim}'>┄┄ healthy update ({_number(HEALTHY_UPDATE)})</span>")
        self.legend.setText(" &nbsp; ".join(parts))

    def _update_warnings_title(self) -> None:
        n = self.warnings.count()
        self.warnings.setVisible(n > 0)
        if n:   # as tall as its lines, up to a few: the strips keep the room
            rows = sum(self.warnings.sizeHintForRow(i) for i in range(min(n, 5)))
            self.warnings.setFixedHeight(rows + 2 * self.warnings.frameWidth() + 4)
        if n:
            self.warnings_title.setText(
                f"<b style='color:{self._red.name()}'>{n} warning{'s' if n != 1 else ''}</b>"
            )
        elif self._events:
            self.warnings_title.setText("No warnings: every measured layer looks healthy so far.")
        else:
            self.warnings_title.setText("")


def _rows_needed(event) -> list[tuple[int, str, str]]:
    """(layer, group, layer type) of every strip an event draws in."""
    needed = []
    for layer in event.layers:
        for metric in METRICS:
            key = (layer.index, metric.group, layer.type)
            if getattr(layer, metric.name, None) is not None and key not in needed:
                needed.append(key)
    return needed


def _number(v: float) -> str:
    """Two significant digits, small values as 6.2e-4 rather than 0.00062."""
    if v != 0 and math.isfinite(v) and abs(v) < 1e-2:
        mantissa, exponent = f"{v:.1e}".split("e")
        return f"{mantissa.removesuffix('.0')}e{int(exponent)}"
    return f"{v:.2g}"


