"""Pictures of functions over the input plane, built in one go from numpy arrays: the class surface, a diverging
heat map (a neuron's activation, a regression's prediction), and the plot that shows one with the data on top."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QWidget

from .. import theme

MARGIN = 0.1         # share of the data's extent added around it
MAX_TINT = 0.75      # the most confident regions keep some white, so the points on top stand out
# TensorFlow Playground's two ends, as Okabe-Ito's blue and orange (told apart by colour-blind eyes)
POSITIVE, NEGATIVE, ZERO = QColor(theme.SERIES[0]), QColor(theme.SERIES[1]), QColor("#f4f4f4")


def plane_bounds(dataset) -> tuple[float, float, float, float]:
    """(x_min, x_max, y_min, y_max): the extent of a dataset's points of the plane, with a margin."""
    points = torch.cat([dataset.plane_train, dataset.plane_val])
    low, high = points.min(0).values, points.max(0).values
    pad = (high - low) * MARGIN
    return (float(low[0] - pad[0]), float(high[0] + pad[0]), float(low[1] - pad[1]), float(high[1] + pad[1]))


def class_rgba(labels: torch.Tensor, confidence: torch.Tensor, colors: list[str], discretize: bool) -> np.ndarray:
    """(n, 4) uint8 colours of grid points: each point's class colour, paler towards 1/k confidence (white
    at the boundary) — or, discretized, the full tint everywhere, so only the boundary shows. In numpy: on
    10,000 points torch's small-tensor calls cost the GUI several times more."""
    k = len(colors)
    labels, confidence = np.asarray(labels), np.asarray(confidence, dtype=np.float32)
    if discretize:
        strength = np.full(confidence.shape, MAX_TINT, np.float32)
    else:   # from 1/k (a guess) to 1 (certain)
        strength = np.clip((confidence - 1 / k) / (1 - 1 / k), 0, 1) * np.float32(MAX_TINT)
    table = np.array([pg.mkColor(c).getRgb()[:3] for c in colors], np.float32)
    out = np.empty((len(labels), 4), np.uint8)
    out[:, :3] = np.rint(255 + (table[labels] - 255) * strength[:, None])
    out[:, 3] = 255
    return out


def diverging_rgba(values: np.ndarray, scale: float, discretize: bool = False) -> np.ndarray:
    """(..., 4) uint8 colours of `values`: blue for positive, orange for negative, pale near zero, full at
    ±`scale` and beyond; discretized, the sign alone."""
    t = np.sign(values) if discretize else np.clip(values / scale, -1.0, 1.0) if scale > 0 else np.zeros_like(values)
    t = t.astype(np.float32)[..., None]
    zero = np.array(ZERO.getRgb()[:3], np.float32)
    ends = np.where(t >= 0, np.array(POSITIVE.getRgb()[:3], np.float32), np.array(NEGATIVE.getRgb()[:3], np.float32))
    rgb = zero + (ends - zero) * np.abs(t)
    alpha = np.full(values.shape + (1,), 255.0, np.float32)
    return np.concatenate([rgb, alpha], -1).round().astype(np.uint8)


def rgba_image(rgba: np.ndarray) -> QImage:
    """A QImage of a (rows, cols, 4) uint8 array whose row 0 is the grid's lowest y: flipped, so up is up;
    a copy, so the array may go."""
    rows = np.ascontiguousarray(rgba[::-1])
    h, w = rows.shape[:2]
    return QImage(rows.data, w, h, 4 * w, QImage.Format_RGBA8888).copy()


class PlanePlot(pg.PlotWidget):
    """A picture over the plane (an ImageItem fed whole arrays) with the training and validation points on top,
    showing exactly the plane the picture covers."""

    def __init__(self, bg: QColor, fg: QColor, name: str, parent: QWidget | None = None):
        super().__init__(parent, background=bg)
        self.setObjectName(name)
        item = self.getPlotItem()
        item.hideButtons()
        item.setMenuEnabled(False)
        item.setMouseEnabled(x=False, y=False)
        for side, text in (("bottom", "x₁"), ("left", "x₂")):
            axis = item.getAxis(side)
            axis.setPen(pg.mkPen(theme.with_alpha(fg, 140)))
            axis.setTextPen(pg.mkPen(fg))
            axis.setLabel(text, color=fg.name(), **{"font-size": "9pt"})
        self.surface = pg.ImageItem(axisOrder="row-major")
        self.surface.setZValue(-10)
        self.train_points = pg.ScatterPlotItem(size=6, pen=pg.mkPen(bg, width=0.8))
        self.val_points = pg.ScatterPlotItem(size=8, symbol="t1", pen=pg.mkPen(theme.with_alpha(fg, 210), width=1))
        for it in (self.surface, self.train_points, self.val_points):
            item.addItem(it)
        self.bounds = (-1.0, 1.0, -1.0, 1.0)

    def set_points(self, dataset, train_brushes, val_brushes) -> None:
        self.bounds = plane_bounds(dataset)
        self.train_points.setData(pos=dataset.plane_train.cpu().numpy(), brush=train_brushes)
        self.val_points.setData(pos=dataset.plane_val.cpu().numpy(), brush=val_brushes)
        self.val_points.setVisible(len(dataset.plane_val) > 0)
        x0, x1, y0, y1 = self.bounds
        self.getPlotItem().setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)

    def clear_points(self) -> None:
        self.train_points.clear()
        self.val_points.clear()

    def show_surface(self, rgba: np.ndarray, bounds, resolution: int) -> None:
        """`rgba` (resolution², 4) row by row as evaluation.grid, over `bounds`: pixel centres on the grid points."""
        self.surface.setImage(rgba.reshape(resolution, resolution, 4), autoLevels=False)
        x0, x1, y0, y1 = bounds
        dx, dy = (x1 - x0) / (resolution - 1), (y1 - y0) / (resolution - 1)
        self.surface.setRect(QRectF(x0 - dx / 2, y0 - dy / 2, x1 - x0 + dx, y1 - y0 + dy))
        self.surface.show()

    def hide_surface(self) -> None:
        self.surface.hide()
