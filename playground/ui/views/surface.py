"""The prediction of a regression on points of the plane, as a heat map with the data on top."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ...core.data import REGRESSION
from ...core.spec import Project
from ...core.view_jobs import ViewRequest, ViewResult
from .live import PredictionView, dataset_info
from .plane import PlanePlot, diverging_rgba, plane_bounds

RESOLUTION = 100     # grid points per axis, as the decision boundary's


def _first(y) -> np.ndarray:
    return (y.flatten(1)[:, 0] if y.dim() > 1 else y).cpu().numpy()


class PredictionSurfaceView(PredictionView):
    """The model's prediction over the plane (blue positive, orange negative, as TensorFlow Playground), the
    points coloured by their targets on the same scale."""

    title = "Prediction"

    @staticmethod
    def applies_to(project: Project) -> bool:
        info = dataset_info(project)
        return info is not None and info.task == REGRESSION and info.plane

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("predictionSurfaceView")
        self.plot = PlanePlot(self.bg, self.fg, "predictionSurfacePlot")
        self.summary = QLabel(objectName="predictionSurfaceSummary", textFormat=Qt.RichText)
        self.discretize_check = QCheckBox("Discretize output", objectName="surfaceDiscretizeCheck")
        self.discretize_check.setToolTip("Only the sign of the prediction: where it is above and below zero")
        self.discretize_check.toggled.connect(self._on_discretize_check_toggled)
        self._scale = 1.0       # the targets' largest size: full colour there
        self._result: ViewResult | None = None
        top = QHBoxLayout()
        top.setContentsMargins(4, 0, 4, 0)
        top.addWidget(self.summary)
        top.addStretch(1)
        top.addWidget(self.discretize_check)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.message)
        layout.addWidget(self.plot, 1)

    @property
    def scale(self) -> float:
        return self._scale

    def surface_colors(self) -> np.ndarray:
        """(rows, cols, 4) the drawn heat map, row 0 at the lowest x₂."""
        return np.asarray(self.plot.surface.image)

    def data_changed(self) -> None:
        self.clear_predictions()
        d = self.dataset
        if d is None:
            self.plot.clear_points()
            return
        targets = np.concatenate([_first(d.y_train), _first(d.y_val)])
        self._scale = float(np.abs(targets).max()) if len(targets) else 1.0
        brushes = [[pg.mkBrush(QColor(*c)) for c in diverging_rgba(_first(y), self._scale)] for y in (d.y_train, d.y_val)]
        self.plot.set_points(d, *brushes)

    def requests(self, full: bool) -> list[ViewRequest]:
        if self.dataset is None:
            return []
        return [ViewRequest(self.objectName(), "surface", {"bounds": plane_bounds(self.dataset),
                                                           "resolution": RESOLUTION})]

    def paint_result(self, result: ViewResult) -> None:
        data = result.data
        if tuple(data["bounds"]) != plane_bounds(self.dataset):
            return
        self._result = result
        rgba = diverging_rgba(data["values"].numpy(), self._scale, self.discretize_check.isChecked())
        self.plot.show_surface(rgba, data["bounds"], data["resolution"])
        val = f" · validation loss <b>{data['val_loss']:.3g}</b>" if data["val_loss"] is not None else ""
        self.summary.setText(f"training loss <b>{data['train_loss']:.3g}</b>{val}")

    def clear_predictions(self) -> None:
        self._result = None
        self.plot.hide_surface()
        self.summary.setText("")

    @Slot(bool)
    def _on_discretize_check_toggled(self, checked: bool) -> None:
        if self._result is not None:
            self.paint_result(self._result)
