"""TensorFlow Playground's picture of a learning network: every neuron's activation over the input plane, the
weights as coloured lines, and the model's output large beside it."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QLineF, QPointF, QRectF, Qt, Signal, Slot
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from ...core.data import REGRESSION
from ...core.errors import PlaygroundError
from ...core.neurons import columns
from ...core.spec import Project
from ...core.view_jobs import ViewRequest, ViewResult
from .. import theme
from .live import CLASS_COLORS, PredictionView, dataset_info
from .plane import (
    NEGATIVE,
    POSITIVE,
    PlanePlot,
    class_rgba,
    diverging_rgba,
    plane_bounds,
    rgba_image,
)

RESOLUTION = 24          # grid points per axis of each neuron's picture: 576 points, drawn ~40 px wide
OUTPUT_RESOLUTION = 80   # of the output's picture
MOST = 8                 # neurons shown a column; a wider layer shows its most active and counts the rest
WIDTHS = 5               # connection widths are bucketed: one QPainterPath per sign and width
MAX_BOX, MIN_BOX = 44, 14  # px of a neuron's picture
ENLARGED = 180           # px of a clicked neuron's picture


def _color(k: int) -> str:
    return CLASS_COLORS[k % len(CLASS_COLORS)]


class NetworkCanvas(QWidget):
    """Columns of neurons, each a picture of its activation over the plane, and the connections between
    them: colour the weight's sign, width its size (relative to the largest shown). Everything is built when
    a result arrives; a paint draws prepared images and one path per colour and width bucket."""

    neuron_clicked = Signal(int, int)   # column index, neuron's index in its layer

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("networkCanvas")
        self.setMouseTracking(True)
        self.setMinimumSize(260, 160)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.bg, self.fg = theme.canvas_colors(self)
        self.columns: list[dict] = []
        self.images: list[list[QImage]] = []   # per column, per shown neuron
        self.selected: tuple[int, int] | None = None   # (column, neuron's index in its layer)
        self._boxes: list[list[QRectF]] = []
        self._segments = np.zeros((0, 4))         # x0, y0, x1, y1 of each connection drawn
        self._segment_info = np.zeros((0, 4))     # column, from neuron, to neuron, weight of each connection
        self._lines: list[tuple[QPen, list[QLineF]]] = []   # connections by sign and width bucket

    # --- data ----------------------------------------------------------------------------------------

    def set_columns(self, cols: list[dict]) -> None:
        """The network job's columns (core.neurons.network_data): pictures built here, once."""
        self.columns = cols
        self.images = [[rgba_image(diverging_rgba(h, float(np.abs(h).max()))) for h in col["heatmaps"].numpy()]
                       for col in cols]
        self._layout()
        self.update()

    def clear(self) -> None:
        self.columns, self.images = [], []
        self.selected = None
        self._layout()
        self.update()

    def neuron_image(self, column: int, neuron: int) -> QImage:
        """The picture of neuron `neuron` (its index in the layer) of column `column`."""
        shown = self.columns[column]["shown"].tolist()
        return self.images[column][shown.index(neuron)]

    def more(self, column: int) -> str:
        """What is said under a column about its neurons not shown: "+56 more", or ""."""
        hidden = self.columns[column]["width"] - len(self.columns[column]["shown"])
        return f"+{hidden} more" if hidden else ""

    def box(self, column: int, neuron: int) -> QRectF:
        """Where neuron `neuron` of column `column` is drawn."""
        return self._boxes[column][self.columns[column]["shown"].tolist().index(neuron)]

    # --- layout: boxes, connections, paths -------------------------------------------------------------

    def _layout(self) -> None:
        self._boxes, self._lines = [], []
        self._segments, self._segment_info = np.zeros((0, 4)), np.zeros((0, 4))
        if not self.columns:
            return
        w, h = self.width(), self.height()
        n = len(self.columns)
        left, right, top, bottom = 52, 10, 20, 18     # room for the input names, titles and "+N more"
        rows = max(len(c["shown"]) for c in self.columns)
        box = max(MIN_BOX, min(MAX_BOX, (h - top - bottom) / (rows * 1.3), (w - left - right) / (n * 2.2)))
        gap = (w - left - right - box) / max(1, n - 1)
        for i, col in enumerate(self.columns):
            k = len(col["shown"])
            x = left + i * gap
            y0 = top + (h - top - bottom - (k * box * 1.3 - box * 0.3)) / 2
            self._boxes.append([QRectF(x, y0 + j * box * 1.3, box, box) for j in range(k)])
        segments, info = [], []   # all connections of a pair of columns at once: (to, from) grids
        for i in range(1, n):
            weights = self.columns[i]["weights"]
            if weights is None:
                continue
            src, dst = self.columns[i - 1]["shown"].numpy(), self.columns[i]["shown"].numpy()
            sx, dx = self._boxes[i - 1][0].right(), self._boxes[i][0].left()
            sy = np.array([r.center().y() for r in self._boxes[i - 1]])
            dy = np.array([r.center().y() for r in self._boxes[i]])
            to, fro = np.meshgrid(np.arange(len(dst)), np.arange(len(src)), indexing="ij")
            to, fro = to.ravel(), fro.ravel()
            segments.append(np.stack([np.full(len(to), sx), sy[fro], np.full(len(to), dx), dy[to]], 1))
            info.append(np.stack([np.full(len(to), i), src[fro], dst[to], weights.numpy()[to, fro]], 1))
        self._segments = np.concatenate(segments) if segments else np.zeros((0, 4))
        self._segment_info = np.concatenate(info) if info else np.zeros((0, 4))
        if not len(self._segment_info):
            return
        values = self._segment_info[:, 3]
        biggest = float(np.abs(values).max()) or 1.0
        buckets = np.minimum(WIDTHS - 1, (np.abs(values) / biggest * WIDTHS).astype(int))
        for positive in (True, False):
            color = _mixed(POSITIVE if positive else NEGATIVE, self.bg, 0.8)   # opaque: blending cost 3x
            for bucket in range(WIDTHS):
                chosen = np.flatnonzero((buckets == bucket) & ((values >= 0) == positive))
                if not len(chosen):
                    continue
                lines = [QLineF(*segment) for segment in self._segments[chosen].tolist()]
                # drawLines: a path of 500 lines is stroked as one outline, several times slower
                self._lines.append((QPen(color, 0.5 + 4.5 * (bucket + 0.5) / WIDTHS, Qt.SolidLine, Qt.FlatCap), lines))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._layout()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.bg)
        if not self.columns:
            painter.end()
            return
        painter.setRenderHint(QPainter.Antialiasing)
        for pen, lines in self._lines:
            painter.setPen(pen)
            painter.drawLines(lines)
        painter.setRenderHint(QPainter.SmoothPixmapTransform)
        painter.setPen(QPen(theme.with_alpha(self.fg, 120), 1))
        for i, col in enumerate(self.columns):
            boxes = self._boxes[i]
            for j, rect in enumerate(boxes):
                painter.drawImage(rect, self.images[i][j])
                painter.drawRect(rect)
            if boxes:
                first, last = boxes[0], boxes[-1]
                title = col["title"].split(" · ")
                painter.setPen(self.fg)
                painter.drawText(QRectF(max(0.0, min(first.center().x() - 60, self.width() - 120.0)), 0, 120, 18),
                                 Qt.AlignCenter,
                                 col["title"] if i == 0 else (title[-1] if len(title) > 1 else title[0]))
                if self.more(i):
                    painter.drawText(QRectF(last.center().x() - 60, last.bottom() + 2, 120, 16), Qt.AlignCenter,
                                     self.more(i))
                painter.setPen(QPen(theme.with_alpha(self.fg, 120), 1))
        for j, rect in enumerate(self._boxes[0]):
            names = self.columns[0].get("names") or []
            if j < len(names):
                painter.setPen(self.fg)
                painter.drawText(QRectF(0, rect.top(), rect.left() - 4, rect.height()),
                                 Qt.AlignRight | Qt.AlignVCenter, names[j])
        if self.selected is not None:
            try:
                rect = self.box(*self.selected)
            except (ValueError, IndexError):
                rect = None
            if rect is not None:
                painter.setPen(QPen(self.fg, 2.5))
                painter.drawRect(rect.adjusted(-2, -2, 2, 2))
        painter.end()

    # --- hover and click ------------------------------------------------------------------------------

    def neuron_at(self, pos: QPointF) -> tuple[int, int] | None:
        """(column, neuron's index in its layer) of the picture under `pos`, or None."""
        for i, boxes in enumerate(self._boxes):
            for j, rect in enumerate(boxes):
                if rect.contains(pos):
                    return i, int(self.columns[i]["shown"][j])
        return None

    def connection_at(self, pos: QPointF, reach: float = 4.0) -> tuple[int, int, int, float] | None:
        """(column, from neuron, to neuron, weight) of the connection nearest `pos` within `reach` px, or None."""
        if not len(self._segments):
            return None
        p = np.array([pos.x(), pos.y()])
        a, b = self._segments[:, :2], self._segments[:, 2:]
        ab = b - a
        t = np.clip(((p - a) * ab).sum(1) / np.maximum((ab * ab).sum(1), 1e-12), 0, 1)
        distance = np.hypot(*(a + t[:, None] * ab - p).T)
        best = int(distance.argmin())
        if distance[best] > reach:
            return None
        column, fro, to, weight = self._segment_info[best].tolist()
        return int(column), int(fro), int(to), weight

    def tooltip_at(self, pos: QPointF) -> str:
        """What hovering at `pos` tells: a neuron's layer, index and range, or a connection's weight; "" for nothing."""
        hit = self.neuron_at(pos)
        if hit is not None:
            i, neuron = hit
            col = self.columns[i]
            values = self.columns[i]["heatmaps"][col["shown"].tolist().index(neuron)]
            if i == 0:
                names = col.get("names") or []
                what = f"input {names[neuron]}" if neuron < len(names) else f"input {neuron}"
            else:
                what = f"neuron {neuron} of {col['title']}"
            text = f"{what}\nover the plane: {float(values.min()):.3g} … {float(values.max()):.3g}"
            if col.get("bias") is not None:
                text += f"\nbias {float(col['bias'][col['shown'].tolist().index(neuron)]):.4g}"
            return text + "\nclick to enlarge"
        hit = self.connection_at(pos)
        if hit is not None:
            i, fro, to, weight = hit
            source = self.columns[i - 1]
            names = source.get("names") or []
            start = names[fro] if i - 1 == 0 and fro < len(names) else f"neuron {fro}"
            return f"weight {weight:.4g}\nfrom {start} of {source['title']}\nto neuron {to} of {self.columns[i]['title']}"
        return ""

    def event(self, event) -> bool:
        if event.type() == QEvent.ToolTip:
            text = self.tooltip_at(QPointF(event.pos()))
            if text:
                QToolTip.showText(event.globalPos(), text, self)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)

    def mousePressEvent(self, event) -> None:
        hit = self.neuron_at(event.position()) if event.button() == Qt.LeftButton else None
        if hit is None:
            super().mousePressEvent(event)
            return
        self.selected = None if hit == self.selected else hit
        self.update()
        self.neuron_clicked.emit(*hit)


class NetworkView(PredictionView):
    """The network's neurons as pictures over the input plane, live during a run (computed in the worker), and
    its output large beside them: the decision surface, or a regression's prediction."""

    title = "Network"

    @staticmethod
    def applies_to(project: Project) -> bool:
        info = dataset_info(project)
        return info is not None and info.plane

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("networkView")
        self.canvas = NetworkCanvas()
        self.canvas.neuron_clicked.connect(self._on_canvas_neuron_clicked)
        self.output = PlanePlot(self.bg, self.fg, "networkOutputPlot")
        self.output.setMinimumSize(180, 160)
        self.enlarged = QLabel(objectName="enlargedNeuron", alignment=Qt.AlignCenter)
        self.enlarged.setFixedSize(ENLARGED, ENLARGED)
        self.enlarged_caption = QLabel(objectName="enlargedCaption", alignment=Qt.AlignCenter, wordWrap=True)
        self.enlarged_caption.setStyleSheet(self.muted_style())
        self.summary = QLabel(objectName="networkSummary", textFormat=Qt.RichText)
        self.not_mlp = QLabel(objectName="networkNotMlp", wordWrap=True)
        self.not_mlp.setStyleSheet(self.muted_style())
        self.not_mlp.hide()
        self.discretize_check = QCheckBox("Discretize output", objectName="networkDiscretizeCheck")
        self.discretize_check.setToolTip("Classes: each region in its class's full colour. Regression: "
                                         "only the sign of the prediction")
        self.discretize_check.toggled.connect(self._on_discretize_check_toggled)
        self._columns_error: str | None = None
        self._result: ViewResult | None = None
        self._target_scale = 1.0
        self._bounds: tuple[float, float, float, float] | None = None   # the plane of the data's points

        top = QHBoxLayout()
        top.setContentsMargins(4, 0, 4, 0)
        top.addWidget(self.summary)
        top.addStretch(1)
        top.addWidget(self.discretize_check)
        right = QVBoxLayout()
        right.addWidget(self.output, 2)
        right.addWidget(self.enlarged, 0, Qt.AlignHCenter)
        right.addWidget(self.enlarged_caption)
        row = QHBoxLayout()
        row.addWidget(self.canvas, 3)
        row.addLayout(right, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.message)
        layout.addWidget(self.not_mlp)
        layout.addLayout(row, 1)
        self._hide_enlarged()

    # --- the View protocol --------------------------------------------------------------------------

    def set_project(self, project: Project) -> None:
        try:
            columns(project.network)
            error = None
        except PlaygroundError as e:
            error = f"The network view draws stacks of Linear layers and activations: {e}."
        changed = error != self._columns_error
        self._columns_error = error
        self.not_mlp.setText(error or "")
        self.not_mlp.setVisible(error is not None)
        super().set_project(project)
        if error is not None:
            self.clear_predictions()
        if changed:
            self.requests_changed.emit()

    def data_changed(self) -> None:
        self.clear_predictions()
        d = self.dataset
        self._bounds = None
        if d is None or not d.info.plane:
            self.output.clear_points()
            return
        self._bounds = plane_bounds(d)
        if d.info.task == REGRESSION:
            targets = _targets(d.y_train, d.y_val)
            self._target_scale = float(np.abs(targets).max()) if len(targets) else 1.0
            train = [pg.mkBrush(QColor(*c)) for c in diverging_rgba(_first(d.y_train), self._target_scale)]
            val = [pg.mkBrush(QColor(*c)) for c in diverging_rgba(_first(d.y_val), self._target_scale)]
        else:
            brushes = [pg.mkBrush(_color(k)) for k in range(d.info.n_classes)]
            train = [brushes[k] for k in d.y_train.tolist()]
            val = [brushes[k] for k in d.y_val.tolist()]
        self.output.set_points(d, train, val)

    def requests(self, full: bool) -> list[ViewRequest]:
        if self.dataset is None or not self.dataset.info.plane or self._columns_error is not None:
            return []
        params = {"bounds": self._bounds, "resolution": RESOLUTION, "most": MOST,
                  "output_resolution": OUTPUT_RESOLUTION}
        return [ViewRequest(self.objectName(), "network", params)]

    def paint_result(self, result: ViewResult) -> None:
        data = result.data
        if tuple(data["bounds"]) != self._bounds:
            return   # asked before the data changed: the next result fits
        self._result = result
        self.canvas.set_columns(data["columns"])
        self._paint_output(data)
        if self.canvas.selected is not None:
            self._show_enlarged(*self.canvas.selected)

    def _paint_output(self, data: dict) -> None:
        out, discretize = data["output"], self.discretize_check.isChecked()
        if data["output_kind"] == "surface":
            rgba = diverging_rgba(out["values"].numpy(), self._target_scale, discretize)
            val = f" · validation loss <b>{out['val_loss']:.3g}</b>" if out["val_loss"] is not None else ""
            self.summary.setText(f"training loss <b>{out['train_loss']:.3g}</b>{val}")
        else:
            k = out["classes"]
            rgba = class_rgba(out["labels"], out["confidence"], [_color(c) for c in range(k)], discretize)
            self.summary.setText(f"{out['split'].capitalize()} accuracy <b>{out['accuracy']:.1%}</b>")
        self.output.show_surface(rgba, out["bounds"], out["resolution"])

    def clear_predictions(self) -> None:
        self._result = None
        self.canvas.clear()
        self.output.hide_surface()
        self.summary.setText("")
        self._hide_enlarged()

    # --- the enlarged neuron ------------------------------------------------------------------------

    def _show_enlarged(self, column: int, neuron: int) -> None:
        try:
            image = self.canvas.neuron_image(column, neuron)
        except (ValueError, IndexError):   # no longer among the shown (a wide layer's most active changed)
            self.canvas.selected = None
            self._hide_enlarged()
            return
        self.enlarged.setPixmap(QPixmap.fromImage(image).scaled(ENLARGED, ENLARGED, Qt.IgnoreAspectRatio,
                                                                Qt.SmoothTransformation))
        col = self.canvas.columns[column]
        names = col.get("names") or []
        what = f"input {names[neuron]}" if column == 0 and neuron < len(names) else \
            f"neuron {neuron} of {col['title']}"
        self.enlarged_caption.setText(f"{what} (click it again to close)")
        self.enlarged.show()
        self.enlarged_caption.show()

    def _hide_enlarged(self) -> None:
        self.enlarged.hide()
        self.enlarged_caption.hide()

    @Slot(int, int)
    def _on_canvas_neuron_clicked(self, column: int, neuron: int) -> None:
        if self.canvas.selected is None:
            self._hide_enlarged()
        else:
            self._show_enlarged(column, neuron)

    @Slot(bool)
    def _on_discretize_check_toggled(self, checked: bool) -> None:
        if self._result is not None:
            self._paint_output(self._result.data)   # the same predictions, coloured the other way


def _mixed(color: QColor, background: QColor, share: float) -> QColor:
    """`color` laid over `background` at `share` opacity, as one opaque colour."""
    return QColor(*(round(share * a + (1 - share) * b) for a, b in zip(color.getRgb()[:3], background.getRgb()[:3])))


def _first(y) -> np.ndarray:
    return (y.flatten(1)[:, 0] if y.dim() > 1 else y).cpu().numpy()


def _targets(a, b) -> np.ndarray:
    return np.concatenate([_first(a), _first(b)])

