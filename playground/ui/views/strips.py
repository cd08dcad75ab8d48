"""Strips of small line charts, one under another, painted by one widget.

The health view shows a strip per layer. As a pyqtgraph plot each (a QGraphicsView with its own
scene, axes, menus and view box) one cost ~30 ms to build and a few ms to paint, and LeNet's ten
held the window for a third of a second as a run began. Here a strip is only numbers: adding one
costs nothing, a refresh turns each curve into one QPainterPath (pyqtgraph's arrayToQPath, after a
peak-preserving reduction to two points per pixel column), and a paint draws the paths of the
strips in view. All strips share one step axis, under the last.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QStaticText
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from ..colors import with_alpha

LABEL_WIDTH = 118     # the layer's name and newest values, left of its strip
AXIS_WIDTH = 46       # the y tick labels
ROW_HEIGHT = 76
ROW_GAP = 8
STEP_AXIS = 28        # the shared step axis under the last strip
PAD = 0.06            # of the value range, above and below the curves


@dataclass
class Curve:
    color: QColor
    steps: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    path: QPainterPath | None = None     # in pixels of the strip's plot area; None: build again


@dataclass
class Strip:
    """One strip: curves over the shared steps, on a log or a 0..1 (percent) scale."""

    key: tuple
    log: bool                            # sizes: a log axis; fractions: 0..100 %
    readout: str = ""                    # rich text, left of the strip
    reference: float | None = None       # a dashed line at this value (the healthy update size)
    curves: dict[str, Curve] = field(default_factory=dict)
    _text: QStaticText | None = None
    _y: tuple[float, float] = (0.0, 1.0)   # the value range drawn (log10 for a log strip)


def decimate(x: np.ndarray, y: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """At most two points per pixel column, the lowest and highest in it (a spike stays visible).
    `x` ascending, already in pixels; NaN marks a gap and survives where a column has nothing else."""
    if len(x) <= 2 * columns:
        return x, y
    col = np.clip(x.astype(np.int64), 0, columns - 1)
    starts = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])
    lo = np.fmin.reduceat(y, starts)
    hi = np.fmax.reduceat(y, starts)
    xs = col[starts].astype(float)
    return np.repeat(xs, 2), np.column_stack([lo, hi]).ravel()


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round numbers between lo and hi, about `count` of them (1, 2 or 5 times a power of ten)."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def _log_label(exponent: float) -> str:
    value = 10 ** exponent
    return f"{value:g}" if 1e-2 <= value <= 1e3 else f"1e{int(round(exponent))}"


class StripCanvas(QWidget):
    """Every strip, painted in one widget; its height follows the number of strips."""

    def __init__(self, background: QColor, ink: QColor, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("healthStrips")
        self.setMouseTracking(True)       # hovering a strip tells its values
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.setAttribute(Qt.WA_OpaquePaintEvent)
        self._bg, self._ink = background, ink
        self._strips: dict[tuple, Strip] = {}
        self._order: list[tuple] = []
        self._x: tuple[float, float] = (0.0, 1.0)
        self._built_for: tuple[int, int] | None = None   # the plot size the paths are in

    # --- the strips --------------------------------------------------------------------------------

    def strip(self, key: tuple, log: bool, reference: float | None = None) -> Strip:
        strip = self._strips.get(key)
        if strip is None:
            strip = self._strips[key] = Strip(key, log, reference=reference)
            self._order = sorted(self._strips)
            self.updateGeometry()
            self.setFixedHeight(self.sizeHint().height())
        return strip

    def strips(self) -> list[Strip]:
        return [self._strips[key] for key in self._order]

    def clear(self) -> None:
        self._strips.clear()
        self._order = []
        self.setFixedHeight(self.sizeHint().height())
        self.update()

    def sizeHint(self) -> QSize:
        n = len(self._order)
        return QSize(400, n * ROW_HEIGHT + max(0, n - 1) * ROW_GAP + (STEP_AXIS if n else 0))

    # --- geometry --------------------------------------------------------------------------------

    def _plot_rect(self, index: int) -> QRectF:
        left = LABEL_WIDTH + AXIS_WIDTH
        top = index * (ROW_HEIGHT + ROW_GAP)
        return QRectF(left, top + 4, max(1.0, self.width() - left - 12), ROW_HEIGHT - 8)

    def rebuild(self) -> None:
        """New points arrived: the shared step range and every curve's path, for the current size."""
        steps = [c.steps for s in self._strips.values() for c in s.curves.values() if c.steps]
        if steps:
            lo, hi = min(s[0] for s in steps), max(s[-1] for s in steps)
            self._x = (lo, hi if hi > lo else lo + 1.0)
        for strip in self._strips.values():
            strip._y = self._value_range(strip)
            strip._text = None
            for curve in strip.curves.values():
                curve.path = None
        self._built_for = None
        self.update()

    def _value_range(self, strip: Strip) -> tuple[float, float]:
        if not strip.log:
            return (-PAD * 100, 100 * (1 + PAD))
        values = np.concatenate([np.asarray(c.values, float) for c in strip.curves.values()] or [np.zeros(0)])
        values = values[np.isfinite(values) & (values > 0)]
        if not len(values):
            return (-4.0, 0.0)
        lo, hi = float(np.log10(values.min())), float(np.log10(values.max()))
        if hi - lo < 0.5:   # a flat curve: half a decade around it, not a magnified wobble
            lo, hi = (lo + hi) / 2 - 0.25, (lo + hi) / 2 + 0.25
        pad = (hi - lo) * PAD
        return (lo - pad, hi + pad)

    def _path(self, strip: Strip, curve: Curve, rect: QRectF) -> QPainterPath:
        x = np.asarray(curve.steps, float)
        y = np.asarray(curve.values, float)
        if strip.log:
            with np.errstate(divide="ignore", invalid="ignore"):
                y = np.where(np.isfinite(y) & (y > 0), np.log10(np.where(y > 0, y, 1.0)), np.nan)
        else:
            y = y * 100.0
        (x0, x1), (y0, y1) = self._x, strip._y
        px = (x - x0) / (x1 - x0) * rect.width()
        py = rect.height() - (y - y0) / (y1 - y0) * rect.height()
        px, py = decimate(px, py, max(1, int(rect.width())))
        return pg.functions.arrayToQPath(px, py, connect="finite")

    # --- painting --------------------------------------------------------------------------------

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(event.rect(), self._bg)
        if not self._order:
            painter.end()
            return
        size = (self.width(), len(self._order))
        if self._built_for != size:
            for strip in self._strips.values():
                for curve in strip.curves.values():
                    curve.path = None
            self._built_for = size
        exposed = QRectF(event.rect())
        faint = QPen(with_alpha(self._ink, 40))
        axis = QPen(with_alpha(self._ink, 140))
        for index, key in enumerate(self._order):
            strip = self._strips[key]
            rect = self._plot_rect(index)
            row = QRectF(0, rect.top() - 4, self.width(), ROW_HEIGHT)
            if not row.intersects(exposed):
                continue
            if strip._text is None:
                strip._text = QStaticText(strip.readout)
                strip._text.setTextFormat(Qt.RichText)
                strip._text.setTextWidth(LABEL_WIDTH - 12)
            painter.setPen(self._ink)
            text_h = strip._text.size().height()
            painter.drawStaticText(QPointF(8, rect.center().y() - text_h / 2), strip._text)
            self._paint_y_axis(painter, strip, rect, faint, axis)
            if strip.reference is not None and strip.log:
                y = self._to_y(strip, rect, math.log10(strip.reference))
                if rect.top() <= y <= rect.bottom():
                    painter.setPen(QPen(with_alpha(self._ink, 120), 1, Qt.DashLine))
                    painter.drawLine(QPointF(rect.left(), y), QPointF(rect.right(), y))
            painter.save()
            painter.setClipRect(rect.adjusted(-1, -1, 1, 1))
            painter.translate(rect.topLeft())
            painter.setRenderHint(QPainter.Antialiasing)
            for curve in strip.curves.values():
                if curve.path is None:
                    curve.path = self._path(strip, curve, rect)
                painter.setPen(QPen(curve.color, 2))
                painter.drawPath(curve.path)
            painter.restore()
        self._paint_step_axis(painter, self._plot_rect(len(self._order) - 1), axis)
        painter.end()

    def _to_y(self, strip: Strip, rect: QRectF, value: float) -> float:
        y0, y1 = strip._y
        return rect.bottom() - (value - y0) / (y1 - y0) * rect.height()

    def _paint_y_axis(self, painter: QPainter, strip: Strip, rect: QRectF, faint: QPen, axis: QPen) -> None:
        if strip.log:
            lo, hi = strip._y
            ticks = list(range(math.ceil(lo), math.floor(hi) + 1)) or [(lo + hi) / 2]
            labels = [_log_label(t) for t in ticks]
        else:
            ticks, labels = [0.0, 50.0, 100.0], ["0%", "50%", "100%"]
        metrics = painter.fontMetrics()
        for tick, label in zip(ticks, labels):
            y = self._to_y(strip, rect, tick)
            painter.setPen(faint)
            painter.drawLine(QPointF(rect.left(), y), QPointF(rect.right(), y))
            painter.setPen(self._ink)
            painter.drawText(QRectF(rect.left() - AXIS_WIDTH, y - metrics.height() / 2, AXIS_WIDTH - 6,
                                    metrics.height()), Qt.AlignRight | Qt.AlignVCenter, label)
        painter.setPen(axis)
        painter.drawLine(rect.topLeft(), rect.bottomLeft())

    def _paint_step_axis(self, painter: QPainter, rect: QRectF, pen: QPen) -> None:
        painter.setPen(pen)
        painter.drawLine(rect.bottomLeft(), rect.bottomRight())
        (x0, x1), metrics = self._x, painter.fontMetrics()
        painter.setPen(self._ink)
        for tick in nice_ticks(x0, x1, max(2, int(rect.width() / 90))):
            x = rect.left() + (tick - x0) / (x1 - x0) * rect.width()
            painter.drawLine(QPointF(x, rect.bottom()), QPointF(x, rect.bottom() + 4))
            painter.drawText(QRectF(x - 45, rect.bottom() + 5, 90, metrics.height()), Qt.AlignHCenter,
                             f"{tick:,.0f}")
        painter.drawText(QRectF(rect.right() - 60, rect.bottom() + 5, 60, metrics.height()), Qt.AlignRight,
                         "step")

    # --- hovering ----------------------------------------------------------------------------------

    def strip_at(self, y: float) -> Strip | None:
        index = int(y // (ROW_HEIGHT + ROW_GAP))
        if 0 <= index < len(self._order) and y - index * (ROW_HEIGHT + ROW_GAP) < ROW_HEIGHT:
            return self._strips[self._order[index]]
        return None

    def hover_text(self, x: float, y: float, describe) -> str | None:
        """What the strip under (x, y) measured at the nearest step, or None off the plots.
        `describe(strip, name, value)` words one value."""
        strip = self.strip_at(y)
        rect = self._plot_rect(0)
        if strip is None or not strip.curves or x < rect.left():
            return None
        x0, x1 = self._x
        step = x0 + (x - rect.left()) / rect.width() * (x1 - x0)
        parts = []
        for name, curve in strip.curves.items():
            if not curve.steps:
                continue
            i = int(np.clip(np.searchsorted(curve.steps, step), 0, len(curve.steps) - 1))
            if i and abs(curve.steps[i - 1] - step) < abs(curve.steps[i] - step):
                i -= 1
            parts.append((curve.steps[i], describe(strip, name, curve.values[i])))
        if not parts:
            return None
        return f"step {int(parts[0][0]):,}: " + ", ".join(text for _, text in parts)

    def mouseMoveEvent(self, event) -> None:
        text = self.hover_text(event.position().x(), event.position().y(), self.describe)
        if text:
            QToolTip.showText(event.globalPosition().toPoint(), text, self)
        else:
            QToolTip.hideText()

    def describe(self, strip: Strip, name: str, value: float) -> str:
        """The health view replaces this with its metrics' words."""
        return f"{name} {value:.3g}"
