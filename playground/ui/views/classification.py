"""The decision boundary of a classifier of points in the plane, with the data on top."""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Slot
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ...core.data import CLASSIFICATION
from ...core.spec import Project
from ...core.view_jobs import ViewRequest, ViewResult, shown_split
from .live import CLASS_COLORS, PredictionView, dataset_info
from .plane import class_rgba, plane_bounds

RESOLUTION = 100     # grid points per axis: 10,000 predictions, a millisecond for a small network


class DecisionBoundaryView(PredictionView):
    """The predicted class over the input plane, paler where the model is less sure."""

    title = "Decision boundary"

    @staticmethod
    def applies_to(project: Project) -> bool:
        info = dataset_info(project)
        return info is not None and info.task == CLASSIFICATION and info.plane   # whatever features it is fed

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
        self.discretize_check = QCheckBox("Discretize output")
        self.discretize_check.setObjectName("discretizeCheck")
        self.discretize_check.setToolTip("Each region in its class's full colour: only the boundary shows, "
                                         "not how sure the model is")
        self.discretize_check.toggled.connect(self._on_discretize_check_toggled)
        self._result: ViewResult | None = None    # the last painted result: discretize repaints it
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
        top.addWidget(self.discretize_check)
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
        self._bounds = plane_bounds(d)   # the points of the plane, whatever features the network is fed
        brushes = [pg.mkBrush(_color(k)) for k in range(d.info.n_classes)]
        self.train_points.setData(pos=d.plane_train.numpy(), brush=[brushes[k] for k in d.y_train.tolist()])
        self.val_points.setData(pos=d.plane_val.numpy(), brush=[brushes[k] for k in d.y_val.tolist()])
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
        self._result = result
        resolution, k = data["resolution"], data["classes"]
        labels, confidence = data["labels"], data["confidence"]
        image = class_rgba(labels, confidence, [_color(c) for c in range(k)], self.discretize_check.isChecked())
        self._labels = labels.view(resolution, resolution).numpy()
        self.surface.setImage(image.reshape(resolution, resolution, 4), autoLevels=False)
        # pixel centres sit on the grid points
        x0, x1, y0, y1 = self._bounds
        dx, dy = (x1 - x0) / (resolution - 1), (y1 - y0) / (resolution - 1)
        self.surface.setRect(QRectF(x0 - dx / 2, y0 - dy / 2, x1 - x0 + dx, y1 - y0 + dy))
        self.surface.show()
        note = shown_split(self.dataset).note
        note = f" ({note})" if note else ""
        self.summary.setText(f"{data['split'].capitalize()} accuracy <b>{data['accuracy']:.1%}</b>{note}")

    def surface_colors(self) -> np.ndarray:
        """(rows, cols, 4) the drawn surface's colours, row 0 at the lowest x₂."""
        if self._labels is None:
            raise LookupError("no decision surface is drawn yet")
        return np.asarray(self.surface.image)

    def clear_predictions(self) -> None:
        self._result = None
        self._labels = None
        self.surface.hide()
        self.summary.setText("")

    @Slot(bool)
    def _on_discretize_check_toggled(self, checked: bool) -> None:
        if self._result is not None and self.dataset is not None:
            self.paint_result(self._result)   # the same predictions, coloured the other way: no new job

    @Slot(bool)
    def _on_show_validation_check_toggled(self, checked: bool) -> None:
        self.val_points.setVisible(checked and self.dataset is not None and len(self.dataset.x_val) > 0)


def _color(k: int) -> str:
    return CLASS_COLORS[k % len(CLASS_COLORS)]


def _alpha(color, alpha: int):
    c = pg.mkColor(color)
    c.setAlpha(alpha)
    return c
