"""The decision boundary of a classifier of points in the plane, with the data on top."""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import QRectF, Qt, Slot
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ...core.data import CLASSIFICATION
from ...core.spec import Project
from ...core.view_jobs import ViewRequest, ViewResult, shown_split
from .live import CLASS_COLORS, PredictionView, dataset_info

RESOLUTION = 100     # grid points per axis: 10,000 predictions, a millisecond for a small network
MARGIN = 0.1         # share of the data's extent added around it
MAX_TINT = 0.75      # the most confident regions keep some white, so the points on top stand out


class DecisionBoundaryView(PredictionView):
    """The predicted class over the input plane, paler where the model is less sure."""

    title = "Decision boundary"

    @staticmethod
    def applies_to(project: Project) -> bool:
        info = dataset_info(project)
        return info is not None and info.task == CLASSIFICATION and info.input_shape == (2,)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("decisionBoundaryView")
        self._bounds = (-1.0, 1.0, -1.0, 1.0)
        self._labels: np.ndarray | None = None         # (RESOLUTION, RESOLUTION) class drawn at each grid point

        self.plot = pg.PlotWidget(background=self.bg)
        self.plot.setObjectName("decisionBoundaryPlot")
        item = self.plot.getPlotItem()
        item.hideButtons()
        item.setMenuEnabled(False)
        # the surface is computed over the data's extent: the view shows exactly that, filled
        item.setMouseEnabled(x=False, y=False)
        for side, text in (("bottom", "x₁"), ("left", "x₂")):
            axis = item.getAxis(side)
            axis.setPen(pg.mkPen(_alpha(self.fg, 140)))
            axis.setTextPen(pg.mkPen(self.fg))
            axis.setLabel(text, color=self.fg.name(), **{"font-size": "10pt"})
        self.surface = pg.ImageItem(axisOrder="row-major")
        self.surface.setZValue(-10)
        self.train_points = pg.ScatterPlotItem(size=7, pen=pg.mkPen(self.bg, width=0.8))
        self.val_points = pg.ScatterPlotItem(size=9, symbol="t1", pen=pg.mkPen(_alpha(self.fg, 210), width=1))
        for it in (self.surface, self.train_points, self.val_points):
            item.addItem(it)

        self.show_validation_check = QCheckBox("Show validation points")
        self.show_validation_check.setObjectName("showValidationCheck")
        self.show_validation_check.setChecked(True)
        self.show_validation_check.setToolTip("Validation points are drawn as outlined triangles")
        self.show_validation_check.toggled.connect(self._on_show_validation_check_toggled)
        self.legend = QLabel()
        self.legend.setObjectName("decisionBoundaryLegend")
        self.legend.setTextFormat(Qt.RichText)
        self.legend.setWordWrap(True)   # ten class names wrap instead of widening the window
        self.legend.setAlignment(Qt.AlignCenter)
        self.summary = QLabel()
        self.summary.setObjectName("decisionBoundarySummary")
        self.summary.setTextFormat(Qt.RichText)
        top = QHBoxLayout()
        top.setContentsMargins(4, 0, 4, 0)
        top.addWidget(self.summary)
        top.addStretch(1)
        top.addWidget(self.show_validation_check)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.message)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.legend)

    # --- what is drawn -------------------------------------------------------------------------------

    def class_at(self, x: float, y: float) -> int:
        """The class the drawn surface shows at input (x, y): read from the computed grid."""
        if self._labels is None:
            raise LookupError("no decision surface is drawn yet")
        x0, x1, y0, y1 = self._bounds
        if not (x0 <= x <= x1 and y0 <= y <= y1):
            raise ValueError(f"({x}, {y}) is outside the drawn plane {self._bounds}")
        n = self._labels.shape[0]
        j = round((x - x0) / (x1 - x0) * (n - 1))
        i = round((y - y0) / (y1 - y0) * (n - 1))
        return int(self._labels[i, j])

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(x_min, x_max, y_min, y_max) of the drawn plane."""
        return self._bounds

    # --- PredictionView ------------------------------------------------------------------------------

    def data_changed(self) -> None:
        self.clear_predictions()
        if self.dataset is None:
            self.train_points.clear()
            self.val_points.clear()
            self.legend.setText("")
            return
        d = self.dataset
        points = torch.cat([d.x_train, d.x_val])
        low, high = points.min(0).values, points.max(0).values
        pad = (high - low) * MARGIN
        self._bounds = (float(low[0] - pad[0]), float(high[0] + pad[0]),
                        float(low[1] - pad[1]), float(high[1] + pad[1]))
        brushes = [pg.mkBrush(_color(k)) for k in range(d.info.n_classes)]
        self.train_points.setData(pos=d.x_train.numpy(), brush=[brushes[k] for k in d.y_train.tolist()])
        self.val_points.setData(pos=d.x_val.numpy(), brush=[brushes[k] for k in d.y_val.tolist()])
        self._on_show_validation_check_toggled(self.show_validation_check.isChecked())
        x0, x1, y0, y1 = self._bounds
        self.plot.getPlotItem().setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        swatches = "&nbsp;&nbsp;".join(
            f'<span style="color:{_color(k)}; font-size:13pt">●</span>&nbsp;{html.escape(name)}'
            for k, name in enumerate(d.info.class_names)
        )
        has_val = len(d.x_val) > 0
        self.show_validation_check.setEnabled(has_val)
        self.show_validation_check.setToolTip("" if has_val else "This project has no validation split")
        marks = "● training &nbsp; △ validation" if has_val else "● training (no validation split)"
        self.legend.setText(f"{swatches}&nbsp;&nbsp;&nbsp;&nbsp; {marks}")

    def requests(self, full: bool) -> list[ViewRequest]:
        if self.dataset is None:
            return []
        return [ViewRequest(self.objectName(), "boundary", {"bounds": self._bounds, "resolution": RESOLUTION})]

    def paint_result(self, result: ViewResult) -> None:
        data = result.data
        if tuple(data["bounds"]) != self._bounds:
            return        # asked before the data changed: the next result fits
        resolution, k = data["resolution"], data["classes"]
        labels, confidence = data["labels"], data["confidence"]
        # from 1/k (a guess) to 1 (certain): white at the boundary, the class colour where sure
        strength = ((confidence - 1 / k) / (1 - 1 / k)).clamp(0, 1) * MAX_TINT
        colors = torch.tensor([pg.mkColor(_color(c)).getRgb()[:3] for c in range(k)], dtype=torch.float32)
        rgb = 255 + (colors[labels] - 255) * strength[:, None]
        image = torch.cat([rgb, torch.full((len(rgb), 1), 255.0)], 1).round().to(torch.uint8)
        self._labels = labels.view(resolution, resolution).numpy()
        self.surface.setImage(image.view(resolution, resolution, 4).numpy(), autoLevels=False)
        # pixel centres sit on the grid points
        x0, x1, y0, y1 = self._bounds
        dx, dy = (x1 - x0) / (resolution - 1), (y1 - y0) / (resolution - 1)
        self.surface.setRect(QRectF(x0 - dx / 2, y0 - dy / 2, x1 - x0 + dx, y1 - y0 + dy))
        self.surface.show()
        note = shown_split(self.dataset).note
        note = f" ({note})" if note else ""
        self.summary.setText(f"{data['split'].capitalize()} accuracy <b>{data['accuracy']:.1%}</b>{note}")

    def clear_predictions(self) -> None:
        self._labels = None
        self.surface.hide()
        self.summary.setText("")

    @Slot(bool)
    def _on_show_validation_check_toggled(self, checked: bool) -> None:
        self.val_points.setVisible(checked and self.dataset is not None and len(self.dataset.x_val) > 0)


def _color(k: int) -> str:
    return CLASS_COLORS[k % len(CLASS_COLORS)]


def _alpha(color, alpha: int):
    c = pg.mkColor(color)
    c.setAlpha(alpha)
    return c
