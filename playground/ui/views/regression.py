"""The fit of a regression model: its curve over the training and validation points."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from .. import theme
from ...core.data import REGRESSION
from ...core.spec import Project
from ...core.view_jobs import ViewRequest, ViewResult
from .live import CLASS_COLORS, PredictionView, dataset_info

CURVE_POINTS = 400    # dense enough for a smooth curve at any window width
MARGIN = 0.05         # share of the input range added on each side, to show the model beyond the data

TRAIN_COLOR, VAL_COLOR, CURVE_COLOR = CLASS_COLORS[0], CLASS_COLORS[1], theme.CURVE


class RegressionView(PredictionView):
    """Training and validation points, and the model's prediction over the input range."""

    title = "Fit"

    @staticmethod
    def applies_to(project: Project) -> bool:
        info = dataset_info(project)
        return info is not None and info.task == REGRESSION and info.input_shape == (1,)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("regressionView")
        self.plot = pg.PlotWidget(background=self.bg)
        self.plot.setObjectName("regressionPlot")
        item = self.plot.getPlotItem()
        item.showGrid(x=True, y=True, alpha=0.18)
        item.hideButtons()
        for side, text in (("bottom", "x (input)"), ("left", "y (target)")):
            axis = item.getAxis(side)
            axis.setPen(pg.mkPen(_alpha(self.fg, 140)))
            axis.setTextPen(pg.mkPen(self.fg))
            axis.setLabel(text, color=self.fg.name(), **{"font-size": "10pt"})
        # created once, fed with setData afterwards
        self.train_points = pg.ScatterPlotItem(
            size=7, pen=pg.mkPen(_alpha(self.bg, 200), width=0.8), brush=_alpha(pg.mkColor(TRAIN_COLOR), 190)
        )
        self.val_points = pg.ScatterPlotItem(
            size=9, symbol="t1", pen=pg.mkPen(_alpha(self.fg, 200), width=1), brush=_alpha(pg.mkColor(VAL_COLOR), 220)
        )
        self.curve = pg.PlotDataItem(pen=pg.mkPen(CURVE_COLOR, width=3), antialias=True)
        for scatter in (self.train_points, self.val_points, self.curve):
            item.addItem(scatter)
        self.curve.setZValue(5)

        self.summary = QLabel()
        self.summary.setObjectName("regressionSummary")
        self.summary.setTextFormat(Qt.RichText)
        # a legend above the plot, not in it: it never hides points
        self.legend = QLabel(
            f'<span style="color:{TRAIN_COLOR}; font-size:13pt">●</span>&nbsp;training data&nbsp;&nbsp;&nbsp;'
            f'<span style="color:{VAL_COLOR}; font-size:12pt">▲</span>&nbsp;validation data&nbsp;&nbsp;&nbsp;'
            f'<span style="color:{CURVE_COLOR}; font-size:13pt"><b>━━</b></span>&nbsp;model'
        )
        self.legend.setObjectName("regressionLegend")
        self.legend.setTextFormat(Qt.RichText)
        self.legend.setWordWrap(True)
        top = QHBoxLayout()
        top.setContentsMargins(4, 0, 4, 0)
        top.addWidget(self.legend, 1)
        top.addWidget(self.summary)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.message)
        layout.addWidget(self.plot, 1)

    def curve_data(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of the drawn model curve; empty before weights arrive."""
        xs, ys = self.curve.getData()
        return (np.asarray(xs), np.asarray(ys)) if xs is not None else (np.empty(0), np.empty(0))

    def data_changed(self) -> None:
        self.clear_predictions()
        if self.dataset is None:
            self.train_points.clear()
            self.val_points.clear()
            return
        d = self.dataset
        # targets (N,) or (N, k): the first value of each; flatten(1), since reshape(0, -1) fails on 0 samples
        self.train_points.setData(d.x_train[:, 0].numpy(), _first_target(d.y_train).numpy())
        self.val_points.setData(d.x_val[:, 0].numpy(), _first_target(d.y_val).numpy())
        self.val_points.setVisible(len(d.x_val) > 0)
        self.plot.getPlotItem().enableAutoRange()

    def requests(self, full: bool) -> list[ViewRequest]:
        if self.dataset is None:
            return []
        d = self.dataset
        x_all = torch.cat([d.x_train[:, 0], d.x_val[:, 0]])
        low, high = float(x_all.min()), float(x_all.max())
        pad = (high - low) * MARGIN or 1.0
        params = {"low": low - pad, "high": high + pad, "points": CURVE_POINTS}
        return [ViewRequest(self.objectName(), "fit", params)]

    def paint_result(self, result: ViewResult) -> None:
        data = result.data
        self.curve.setData(data["x"].numpy(), data["y"].numpy())
        parts = [f"training loss <b>{data['train_loss']:.3g}</b>"]
        if data["val_loss"] is not None:
            parts.append(f"validation loss <b>{data['val_loss']:.3g}</b>")
        else:
            parts.append("no validation split — the points are the training samples")
        self.summary.setText(" · ".join(parts))

    def clear_predictions(self) -> None:
        self.curve.setData([], [])
        self.summary.setText("")


def _first_target(y: torch.Tensor) -> torch.Tensor:
    return y.flatten(1)[:, 0] if y.dim() > 1 else y


def _alpha(color, alpha: int):
    c = pg.mkColor(color)
    c.setAlpha(alpha)
    return c
