"""A gallery of validation images with the model's predictions, hardest first, mistakes framed in red."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from PySide6.QtCore import QEvent, QRect, QSize, Qt, Slot
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from .. import theme
from ...core.evaluation import image_normalization
from ...core.spec import DataSpec, Project
from ...core.view_jobs import Split, ViewRequest, ViewResult, shown_split
from .live import PredictionView, dataset_info

LIVE_LIMIT = 1000      # images predicted per redraw while training runs (LeNet: ~0.1 s); all once it stops
THUMB = 56             # 28×28 shown twice as large (32×32 CIFAR a little less)
CELL_W, CELL_H = 84, 96
WRONG = theme.WRONG
HARDEST, DATASET_ORDER = "Hardest first (highest loss)", "Dataset order"


class Entry(NamedTuple):
    index: int           # position in the split shown (validation or test)
    predicted: int
    true: int
    confidence: float    # probability of the predicted class
    wrong: bool


def applies_to_images(project: Project) -> bool:
    info = dataset_info(project)
    return info is not None and len(info.input_shape) == 3 and info.n_classes is not None


def display_pixels(x: torch.Tensor, data: DataSpec) -> np.ndarray:
    """uint8 pixels of normalised images (N, C, H, W), undoing the dataset's normalisation: (N, H, W)
    for grey images, (N, H, W, 3) for colour ones (CIFAR-10, an RGB folder)."""
    mean, std = image_normalization(data)
    pixels = (x * std + mean).clamp(0, 1).mul(255).round().to(torch.uint8)
    return pixels[:, 0].numpy() if pixels.shape[1] == 1 else pixels[:, :3].permute(0, 2, 3, 1).contiguous().numpy()


def gray_image(pixels: np.ndarray) -> QImage:
    """A QImage of one (H, W) grey or (H, W, 3) RGB uint8 array, owning its own copy of the pixels."""
    pixels = np.ascontiguousarray(pixels)
    h, w = pixels.shape[:2]
    if pixels.ndim == 3:
        return QImage(pixels.data, w, h, 3 * w, QImage.Format_RGB888).copy()
    return QImage(pixels.data, w, h, w, QImage.Format_Grayscale8).copy()


class ThumbnailGrid(QWidget):
    """Images with predicted and true labels, laid out in rows; paints only what is in view,
    so tens of thousands of entries scroll smoothly."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._pixels: np.ndarray | None = None
        self._entries: list[Entry] = []
        self._names: tuple[str, ...] = ()
        self._losses: list[float] = []

    def set_entries(self, pixels: np.ndarray | None, entries: list[Entry], names: tuple[str, ...],
                    losses: list[float] | None = None) -> None:
        """`losses`, when given, holds each sample's loss by its index, for the tooltip."""
        self._pixels, self._entries, self._names = pixels, entries, names
        self._losses = losses or []
        self.updateGeometry()
        self.setMinimumHeight(self._height_for(self.width()))
        self.update()

    def entries(self) -> list[Entry]:
        return list(self._entries)

    def _columns(self, width: int) -> int:
        return max(1, width // CELL_W)

    def _height_for(self, width: int) -> int:
        rows = -(-len(self._entries) // self._columns(width))
        return rows * CELL_H + 4

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._height_for(width)

    def sizeHint(self) -> QSize:
        return QSize(CELL_W * 6, self._height_for(CELL_W * 6))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.setMinimumHeight(self._height_for(event.size().width()))

    def _cell(self, i: int, columns: int, left: int) -> QRect:
        return QRect(left + (i % columns) * CELL_W, 2 + (i // columns) * CELL_H, CELL_W, CELL_H)

    def _layout(self) -> tuple[int, int]:
        columns = self._columns(self.width())
        return columns, (self.width() - columns * CELL_W) // 2

    def paintEvent(self, event) -> None:
        if self._pixels is None or not self._entries:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.SmoothPixmapTransform)
        painter.setRenderHint(QPainter.Antialiasing)
        columns, left = self._layout()
        first = max(0, event.rect().top() // CELL_H - 1) * columns
        last = min(len(self._entries), (event.rect().bottom() // CELL_H + 2) * columns)
        fg = self.palette().color(QPalette.WindowText)
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.85))
        painter.setFont(small)
        metrics = painter.fontMetrics()
        for i in range(first, last):
            e = self._entries[i]
            cell = self._cell(i, columns, left)
            image = QRect(cell.center().x() - THUMB // 2, cell.top() + 4, THUMB, THUMB)
            painter.drawImage(image, gray_image(self._pixels[e.index]))
            painter.setPen(QPen(WRONG, 3) if e.wrong else QPen(QColor(128, 128, 128, 90), 1))
            painter.drawRect(image.adjusted(-1, -1, 1, 1))
            text = QRect(cell.left() + 2, image.bottom() + 3, cell.width() - 4, metrics.height())
            mark = "✗ " if e.wrong else ""
            line = f"{mark}{self._name(e.predicted)} · {e.confidence:.0%}"
            painter.setPen(WRONG if e.wrong else fg)
            painter.drawText(text, Qt.AlignHCenter, metrics.elidedText(line, Qt.ElideRight, text.width()))
            painter.setPen(QColor(fg.red(), fg.green(), fg.blue(), 150))
            true = metrics.elidedText(f"true {self._name(e.true)}", Qt.ElideRight, text.width())
            painter.drawText(text.translated(0, metrics.height()), Qt.AlignHCenter, true)
        painter.end()

    def _name(self, k: int) -> str:
        return self._names[k] if k < len(self._names) else str(k)

    def entry_at(self, x: int, y: int) -> Entry | None:
        columns, left = self._layout()
        column, row = (x - left) // CELL_W, (y - 2) // CELL_H
        i = row * columns + column
        if 0 <= column < columns and 0 <= i < len(self._entries):
            return self._entries[i]
        return None

    def event(self, event) -> bool:
        if event.type() == QEvent.ToolTip:
            e = self.entry_at(event.pos().x(), event.pos().y())
            if e is None:
                QToolTip.hideText()
                return True
            loss = self._losses[e.index] if e.index < len(self._losses) else None
            text = (f"sample {e.index:,}: predicted {self._name(e.predicted)} ({e.confidence:.1%}), "
                    f"true {self._name(e.true)}" + (f", loss {loss:.3g}" if loss is not None else ""))
            QToolTip.showText(event.globalPos(), text, self)
            return True
        return super().event(event)


class PredictionGallery(PredictionView):
    """Validation images (the test set or training images without a validation split) with the predicted label, the true label and the confidence of each."""

    title = "Predictions"
    applies_to = staticmethod(applies_to_images)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("predictionGallery")
        self._pixels: np.ndarray | None = None
        self._result: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None  # labels, confidence, losses
        self.split: Split | None = None             # the images shown: validation, else test or training
        self._cell: tuple[int, int] | None = None   # (true, predicted) shown alone, or None for all

        self.summary = QLabel()
        self.summary.setObjectName("gallerySummary")
        self.summary.setTextFormat(Qt.RichText)
        self.summary.setWordWrap(True)
        self.mistakes_check = QCheckBox("Only mistakes")
        self.mistakes_check.setObjectName("galleryMistakesCheck")
        self.mistakes_check.toggled.connect(self._on_mistakes_check_toggled)
        self.sort_combo = QComboBox()
        self.sort_combo.setObjectName("gallerySortCombo")
        self.sort_combo.addItems([HARDEST, DATASET_ORDER])
        self.sort_combo.setToolTip("Hardest first: the images whose loss is highest, where the model is most wrong")
        self.sort_combo.currentIndexChanged.connect(self._on_sort_combo_current_index_changed)
        self.cell_label = QLabel()
        self.show_all_button = QPushButton("Show all")
        self.show_all_button.setObjectName("galleryShowAllButton")
        self.show_all_button.clicked.connect(self._on_show_all_button_clicked)
        self.grid = ThumbnailGrid()
        self.grid.setObjectName("galleryGrid")
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.grid)
        scroll.setFrameShape(QScrollArea.NoFrame)

        top = QHBoxLayout()
        top.setContentsMargins(4, 0, 4, 0)
        top.addWidget(self.summary, 1)
        top.addWidget(self.mistakes_check)
        top.addWidget(self.sort_combo)
        cell_row = QHBoxLayout()
        cell_row.setContentsMargins(4, 0, 4, 0)
        cell_row.addWidget(self.cell_label, 1)
        cell_row.addWidget(self.show_all_button)
        self._cell_bar = QWidget()
        self._cell_bar.setLayout(cell_row)
        self._cell_bar.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self._cell_bar)
        layout.addWidget(self.message)
        layout.addWidget(scroll, 1)

    def entries(self) -> list[Entry]:
        """What the gallery shows, in its order: (index, predicted, true, confidence, wrong)."""
        return self.grid.entries()

    def show_cell(self, true: int | None, predicted: int | None = None) -> None:
        """Show only the images of one confusion-matrix cell (None: all of them again)."""
        self._cell = None if true is None else (true, predicted)
        self._fill()

    # --- PredictionView ------------------------------------------------------------------------------

    def data_changed(self) -> None:
        self._result = None
        self.split = shown_split(self.dataset) if self.dataset is not None else None
        self._pixels = display_pixels(self.split.x, self.project.data) if self.split is not None else None
        self._fill()

    def requests(self, full: bool) -> list[ViewRequest]:
        if self.split is None:
            return []
        n = len(self.split.x) if full else min(LIVE_LIMIT, len(self.split.x))
        return [ViewRequest(self.objectName(), "gallery", {"n": n})]

    def paint_result(self, result: ViewResult) -> None:
        data = result.data
        if (data["split"], data["total"]) != (self.split.name, len(self.split.x)):
            return        # asked before the data changed: the next result fits
        self._result = data["labels"], data["confidence"], data["losses"]
        self._fill()

    def clear_predictions(self) -> None:
        self._result = None
        self._fill()

    # --- filling the grid ----------------------------------------------------------------------------

    def _fill(self) -> None:
        if self._result is None or self.dataset is None:
            self.grid.set_entries(None, [], ())
            self.summary.setText("")
            self._cell_bar.hide()
            return
        labels, confidence, losses = self._result
        n = len(labels)
        true = self.split.y[:n]
        wrong = labels != true
        if self.sort_combo.currentText() == HARDEST:
            order = torch.argsort(losses, descending=True, stable=True)
        else:
            order = torch.arange(n)
        keep = torch.ones(n, dtype=torch.bool)
        if self.mistakes_check.isChecked():
            keep &= wrong
        if self._cell is not None:
            keep &= true == self._cell[0]
            if self._cell[1] is not None:
                keep &= labels == self._cell[1]
        order = order[keep[order]]
        rows = zip(order.tolist(), labels[order].tolist(), true[order].tolist(),
                   confidence[order].tolist(), wrong[order].tolist())
        entries = [Entry(*row) for row in rows]
        names = self.dataset.info.class_names
        self.grid.set_entries(self._pixels, entries, names, losses.tolist())
        total, split = len(self.split.x), self.split.name
        errors = int(wrong.sum())
        scope = f"{n:,} {split} images" if n == total else f"the first {n:,} of {total:,} {split} images"
        note = f"{self.split.note} · " if self.split.note else ""
        self.summary.setText(f"{note}{scope} · <b>{errors:,} wrong</b> ({errors / max(n, 1):.1%})")
        if self._cell is not None:
            t, p = self._cell
            what = f"true {names[t]}" + (f", predicted {names[p]}" if p is not None else "")
            self.cell_label.setText(f"Showing {len(entries):,} images: {what}")
        self._cell_bar.setVisible(self._cell is not None)

    @Slot(bool)
    def _on_mistakes_check_toggled(self, checked: bool) -> None:
        self._fill()

    @Slot(int)
    def _on_sort_combo_current_index_changed(self, index: int) -> None:
        self._fill()

    @Slot()
    def _on_show_all_button_clicked(self) -> None:
        self.show_cell(None)
