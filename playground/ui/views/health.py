"""Training health: per-layer gradient norms, update sizes and dead or saturated units over the run."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QColor, QPalette
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
from ..colors import rgba
from ..plots import PALETTE, REFRESH_MS
from . import View
from .strips import Curve, Strip, StripCanvas

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
EMPTY_TEXT = ("Train with this tab open: how each layer's gradients, update sizes and activations "
              "behave during the run appears here, with warnings in plain words.")


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
        self._types: dict[int, str] = {}            # layer index: its type, for the readouts
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

        self.strips = StripCanvas(self._bg, self._fg)
        self.strips.describe = self._describe
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setVerticalScrollBarPolicy(Qt.ScrollBarAsNeeded)
        self.scroll.setAlignment(Qt.AlignTop)
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
        Only numbers change here; the strips repaint at most every REFRESH_MS, and not while hidden."""
        self._add(event)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._dirty:
            self.refresh()

    def _add(self, event) -> None:
        step = float(event.global_step)
        self._events += 1
        for layer in event.layers:
            self._types[layer.index] = layer.type
            for metric in METRICS:
                value = getattr(layer, metric.name, None)
                if value is None:
                    continue   # not measured for this layer type (no weights, no ReLU...)
                strip = self.strips.strip((layer.index, metric.group), log=metric.group == GRADIENTS,
                                          reference=HEALTHY_UPDATE if metric.group == GRADIENTS else None)
                curve = strip.curves.get(metric.name)
                if curve is None:
                    curve = strip.curves[metric.name] = _curve(metric)
                curve.steps.append(step)
                curve.values.append(float(value))
                self._dirty = True
        for text in event.warnings:
            self._warn(int(step), text)
        self._update_warnings_title()
        self._update_legend()
        self.step_label.setText(f"step {int(step):,}")
        if self.strips.strips():
            self.stack.setCurrentWidget(self.scroll)
        if self._dirty and self.isVisible() and not self._refresh_timer.isActive():
            self._refresh_timer.start(REFRESH_MS)

    def clear(self) -> None:
        self._refresh_timer.stop()
        self.strips.clear()
        self._types.clear()
        self._dirty = False
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
        return [strip.key for strip in self.strips.strips()]

    def curve_data(self, layer: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """The (steps, values) drawn for a layer's metric, as given (fractions stay 0..1)."""
        group = next(m.group for m in METRICS if m.name == metric)
        curve = self._strip(layer, group).curves[metric]
        return np.asarray(curve.steps, float), np.asarray(curve.values, float)

    def strip_is_log(self, layer: int, group: str) -> bool:
        return self._strip(layer, group).log

    def _strip(self, layer: int, group: str) -> Strip:
        strip = next((s for s in self.strips.strips() if s.key == (layer, group)), None)
        if strip is None:
            raise KeyError((layer, group))
        return strip

    def warning_texts(self) -> list[str]:
        return [self.warnings.item(i).text() for i in range(self.warnings.count())]

    # --- drawing -------------------------------------------------------------------------------

    def refresh(self) -> None:
        """The new points into the strips' paths and readouts now (a timer does this while shown)."""
        self._refresh_timer.stop()
        self._dirty = False
        for strip in self.strips.strips():
            strip.readout = self._readout(strip)
        self.strips.rebuild()

    @Slot()
    def _on_refresh_timer_timeout(self) -> None:
        self.refresh()

    def _readout(self, strip: Strip) -> str:
        """The layer's name and its newest values, so the numbers need no hovering."""
        layer = strip.key[0]
        lines = [f"<b>{layer} · {self._types.get(layer, '')}</b>"]
        for metric in METRICS:
            curve = strip.curves.get(metric.name)
            if curve is None or not curve.values:
                continue
            v = curve.values[-1]
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

    def _describe(self, strip: Strip, name: str, value: float) -> str:
        return _describe_value(next(m for m in METRICS if m.name == name), value)

    def _update_legend(self) -> None:
        """Only what is drawn: a network without Tanh needs no word about saturation."""
        shown = {name for strip in self.strips.strips() for name in strip.curves}
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


def _curve(metric: Metric) -> Curve:
    return Curve(QColor(metric.color))


def _describe_value(metric: Metric, value: float) -> str:
    shown = f"{value:.0%}" if metric.group == ACTIVITY else _number(value)
    return f"{metric.short} {shown}"


def _number(v: float) -> str:
    """Two significant digits, small values as 6.2e-4 rather than 0.00062."""
    if v != 0 and math.isfinite(v) and abs(v) < 1e-2:
        mantissa, exponent = f"{v:.1e}".split("e")
        return f"{mantissa.removesuffix('.0')}e{int(exponent)}"
    return f"{v:.2g}"


