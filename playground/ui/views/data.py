"""The Data view: what the data holds before any training — samples of each class, the class balance
of both splits, a table's first rows and its columns' histograms, and a preview of the augmentation."""

from __future__ import annotations

import copy
import json

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .. import theme
from ...core import data_overview
from ...core.data import DATASETS
from ...core.errors import PlaygroundError
from ...core.spec import Project
from . import View
from .data_cache import shared_cache

TRAIN, VAL = QColor(theme.SERIES[0]), QColor(theme.SERIES[1])
ROW_H = 18              # one class of the balance chart
BALANCE_MAX_W = 520     # its counts stay in sight: the pictures beside each other make the view wider than a dock
HIST_W, HIST_H = 168, 84
MAX_ZOOM = 3            # small images shown this many times as large, at most
CACHED = 4              # overviews kept: switching between a few projects computes nothing again


def rgb_image(pixels: np.ndarray) -> QImage:
    """A QImage owning a copy of (H, W, 3) uint8 pixels."""
    pixels = np.ascontiguousarray(pixels)
    h, w, _ = pixels.shape
    return QImage(pixels.data, w, h, 3 * w, QImage.Format_RGB888).copy()


class _Painted(QWidget):
    """A widget that paints itself in one pass with the window's text colour."""

    def ink(self) -> QColor:
        return self.palette().color(QPalette.WindowText)

    def muted(self) -> QColor:
        c = self.ink()
        return QColor(c.red(), c.green(), c.blue(), 150)


class BalanceChart(_Painted):
    """One row per class: its training and validation counts as two bars, the counts written beside."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("dataBalanceChart")
        self.setMaximumWidth(BALANCE_MAX_W)
        self.names: tuple[str, ...] = ()
        self.train: tuple[int, ...] = ()
        self.val: tuple[int, ...] = ()

    def set_counts(self, names: tuple[str, ...], train: tuple[int, ...], val: tuple[int, ...]) -> None:
        self.names, self.train, self.val = names, train, val
        self.setFixedHeight(ROW_H * (len(names) + 1) + 4 if names else 0)
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(360, self.height())

    def paintEvent(self, event) -> None:
        if not self.names:
            return
        painter = QPainter(self)
        metrics = painter.fontMetrics()
        label_w = min(self.width() // 3, max(metrics.horizontalAdvance(n) for n in self.names) + 8)
        count_w = metrics.horizontalAdvance("0,000,000") + 6
        bar_w = max(10, self.width() - label_w - count_w - 8)
        most = max(max(self.train, default=0), max(self.val, default=0), 1)
        n_train, n_val = sum(self.train), sum(self.val)
        painter.setPen(self.ink())
        x = label_w + 4
        for color, text in ((TRAIN, f"training {n_train:,}"), (VAL, f"validation {n_val:,}")):
            painter.fillRect(x, 5, 10, 10, color)
            painter.drawText(x + 14, 0, 200, ROW_H, Qt.AlignVCenter, text)
            x += 24 + metrics.horizontalAdvance(text)
        half = (ROW_H - 4) // 2
        for i, name in enumerate(self.names):
            top = ROW_H * (i + 1)
            painter.setPen(self.ink())
            painter.drawText(QRect(0, top, label_w, ROW_H), Qt.AlignRight | Qt.AlignVCenter,
                             metrics.elidedText(name, Qt.ElideRight, label_w - 4))
            for k, (counts, color) in enumerate(((self.train, TRAIN), (self.val, VAL))):
                value = counts[i] if i < len(counts) else 0
                w = round(bar_w * value / most)
                y = top + 2 + k * half
                painter.fillRect(label_w + 4, y, max(w, 1 if value else 0), half - 1, color)
                painter.setPen(self.muted())
                painter.drawText(QRect(label_w + 8 + w, y - 2, count_w, half + 4), Qt.AlignVCenter,
                                 f"{value:,}")
        painter.end()


class ImageGrid(_Painted):
    """A grid of samples painted as one image (however many samples it holds), a label per row,
    optional titles over columns."""

    def __init__(self, name: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName(name)
        self.image: QImage | None = None
        self.row_labels: tuple[str, ...] = ()
        self.column_titles: tuple[tuple[int, str], ...] = ()   # (first column, title)
        self.tile = (0, 0)      # one sample's height and width in the image
        self.zoom = 1

    def set_tiles(self, tiles, row_labels: tuple[str, ...], column_titles=()) -> None:
        """`tiles` (rows, columns, H, W, C) uint8, or None for nothing."""
        if tiles is None or tiles.shape[0] == 0:
            self.image, self.row_labels = None, ()
            self.setFixedHeight(0)
            self.update()
            return
        _, _, h, w, _ = tiles.shape
        self.tile = (h, w)
        self.zoom = max(1, min(MAX_ZOOM, 64 // max(h, w)))
        self.image = rgb_image(data_overview.mosaic(tiles).numpy())
        self.row_labels, self.column_titles = row_labels, tuple(column_titles)
        self.setFixedHeight(self._top() + self.image.height() * self.zoom + 4)
        self.update()

    def _top(self) -> int:
        return self.fontMetrics().height() + 2 if self.column_titles else 0

    def _label_width(self) -> int:
        metrics = self.fontMetrics()
        return min(160, max((metrics.horizontalAdvance(t) for t in self.row_labels), default=0) + 8)

    def sizeHint(self) -> QSize:
        if self.image is None:
            return QSize(0, 0)
        return QSize(self._label_width() + self.image.width() * self.zoom + 4, self.height())

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()   # never cut a sample off: a narrow dock scrolls instead

    def paintEvent(self, event) -> None:
        if self.image is None:
            return
        painter = QPainter(self)
        left, top, z = self._label_width(), self._top(), self.zoom
        painter.drawImage(QRect(left, top, self.image.width() * z, self.image.height() * z), self.image)
        metrics = painter.fontMetrics()
        h, w = self.tile
        painter.setPen(self.ink())
        for r, label in enumerate(self.row_labels):
            y = top + r * (h + data_overview.GAP) * z
            painter.drawText(QRect(0, y, left - 6, h * z), Qt.AlignRight | Qt.AlignVCenter,
                             metrics.elidedText(label, Qt.ElideRight, left - 6))
        painter.setPen(self.muted())
        for column, title in self.column_titles:
            x = left + column * (w + data_overview.GAP) * z
            painter.drawText(x, 0, self.width() - x, top, Qt.AlignLeft | Qt.AlignVCenter, title)
        painter.end()


class HistogramGrid(_Painted):
    """Every column's histogram (numbers) or bar per category, small multiples painted in one pass."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("dataHistograms")
        self.histograms: list[data_overview.Histogram] = []

    def set_histograms(self, histograms: list[data_overview.Histogram]) -> None:
        self.histograms = histograms
        self.setMinimumHeight(self.heightForWidth(max(self.width(), HIST_W)))
        self.updateGeometry()
        self.update()

    def _columns(self, width: int) -> int:
        return max(1, width // HIST_W)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        if not self.histograms:
            return 0
        return -(-len(self.histograms) // self._columns(width)) * HIST_H

    def sizeHint(self) -> QSize:
        return QSize(HIST_W * 3, self.heightForWidth(HIST_W * 3))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.setMinimumHeight(self.heightForWidth(event.size().width()))

    def paintEvent(self, event) -> None:
        if not self.histograms:
            return
        painter = QPainter(self)
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.85))
        painter.setFont(small)
        metrics = painter.fontMetrics()
        line = metrics.height()
        columns = self._columns(self.width())
        for i, hist in enumerate(self.histograms):
            x0, y0 = (i % columns) * HIST_W, (i // columns) * HIST_H
            painter.setPen(self.ink())
            painter.drawText(QRect(x0 + 2, y0, HIST_W - 8, line + 3), Qt.AlignLeft,   # + 3: an underscore's room
                             metrics.elidedText(hist.name, Qt.ElideRight, HIST_W - 8))
            area = QRect(x0 + 2, y0 + line + 2, HIST_W - 10, HIST_H - 2 * line - 8)
            most = max(max(hist.counts), 1)
            n = len(hist.counts)
            step = area.width() / n
            gap = 0 if hist.numeric else max(1, round(step * 0.2))
            color = TRAIN if hist.numeric else VAL
            for k, count in enumerate(hist.counts):
                h = round(area.height() * count / most)
                left = area.left() + round(k * step)
                right = area.left() + round((k + 1) * step) - max(gap, 1)
                painter.fillRect(left, area.bottom() - h, max(1, right - left), h, color)
            painter.setPen(self.muted())
            below = QRect(area.left(), area.bottom() + 2, area.width(), line)
            if hist.numeric:
                low = hist.labels[0].split("–")[0]
                high = hist.labels[-1].split("–")[-1]
                painter.drawText(below, Qt.AlignLeft, low)
                painter.drawText(below, Qt.AlignRight, high)
            else:
                shown = ", ".join(hist.labels)
                painter.drawText(below, Qt.AlignLeft, metrics.elidedText(shown, Qt.ElideRight, below.width()))
        painter.end()

    def tooltip_at(self, x: int, y: int) -> str:
        """What the bar under (x, y) counts, or ""."""
        columns = self._columns(self.width())
        i = (y // HIST_H) * columns + x // HIST_W
        if not 0 <= x // HIST_W < columns or not 0 <= i < len(self.histograms):
            return ""
        hist = self.histograms[i]
        k = int((x - (i % columns) * HIST_W - 2) / ((HIST_W - 10) / len(hist.counts)))
        if not 0 <= k < len(hist.counts):
            return ""
        return f"{hist.name}: {hist.labels[k]} · {hist.counts[k]:,} rows"

    def event(self, event) -> bool:
        from PySide6.QtCore import QEvent
        from PySide6.QtWidgets import QToolTip

        if event.type() == QEvent.ToolTip:
            text = self.tooltip_at(event.pos().x(), event.pos().y())
            if text:
                QToolTip.showText(event.globalPos(), text, self)
            else:
                QToolTip.hideText()
            return True
        return super().event(event)


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label


class DataView(View):
    """The data as the network will see it, shown with no weights at all. It is computed once per
    data settings (and kept for a few), only while the view is on screen, and painted as one image
    per grid; the weights and a run change nothing here."""

    title = "Data"
    drawn = Signal()   # the overview of the newest data settings is painted (or the reason it cannot be)

    @staticmethod
    def applies_to(project: Project) -> bool:
        kind = DATASETS.get(project.data.dataset)
        # the synthetic 2-D sets' points are drawn by the decision boundary and the fit views already,
        # which stay their first tab: what a person opening the spiral wants to watch is it being learned
        return kind is not None and (kind.image or kind.source == "table")

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("dataView")
        self.project: Project | None = None
        self.overview: data_overview.Overview | None = None
        self.preview_seed = 0
        self.computed = 0                     # overviews worked out (not taken from the cache): for the tests
        self._cache: dict[str, data_overview.Overview] = {}
        self._shown_key: str | None = None    # the overview and preview on screen
        self._pending = False

        self.message = QLabel(objectName="dataViewMessage", wordWrap=True)
        self.message.setStyleSheet(theme.ERROR_STYLE)
        self.message.hide()
        self.summary = QLabel(objectName="dataViewSummary", wordWrap=True)
        self.balance = BalanceChart()
        self.samples = ImageGrid("dataSamples")
        self.preview = ImageGrid("augmentPreview")
        self.preview_note = QLabel(objectName="augmentPreviewNote", wordWrap=True)
        self.reshuffle_button = QPushButton("Reshuffle", objectName="augmentReshuffleButton")
        self.reshuffle_button.setToolTip("Draw other random augmentations for the preview (training is not affected).")
        self.reshuffle_button.clicked.connect(self._on_reshuffle_button_clicked)
        self.rows = QTableWidget(objectName="dataFirstRows")
        self.rows.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.rows.setSelectionMode(QAbstractItemView.NoSelection)
        self.rows.setFocusPolicy(Qt.NoFocus)
        self.rows.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.rows.horizontalHeader().setStretchLastSection(True)
        self.rows.verticalHeader().setDefaultSectionSize(self.rows.fontMetrics().height() + 6)
        self.histograms = HistogramGrid()

        self.balance_heading = _heading("Class balance")
        self.samples_heading = _heading("Samples of each class (the first training images)")
        self.preview_note.setMaximumWidth(420)
        preview_bar = QHBoxLayout()
        preview_bar.setContentsMargins(0, 0, 0, 0)
        preview_bar.addWidget(_heading("Augmentation preview"))
        preview_bar.addStretch(1)
        preview_bar.addWidget(self.reshuffle_button)
        self.preview_header = QWidget()
        self.preview_header.setLayout(preview_bar)
        self.rows_heading = _heading("First rows of the file")
        self.histograms_heading = _heading("Columns (all rows)")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(4)
        for widget in (self.message, self.summary, self.balance_heading, self.balance):
            layout.addWidget(widget)
        # the samples and their augmentation side by side: a wide dock shows both at once
        pictures = QHBoxLayout()
        pictures.setSpacing(16)
        for widgets in ((self.samples_heading, self.samples), (self.preview_header, self.preview_note, self.preview)):
            column = QVBoxLayout()
            column.setSpacing(4)
            for widget in widgets:
                column.addWidget(widget)
            column.addStretch(1)
            pictures.addLayout(column)
        pictures.addStretch(1)
        layout.addLayout(pictures)
        for widget in (self.rows_heading, self.rows, self.histograms_heading, self.histograms):
            layout.addWidget(widget)
        layout.addStretch(1)
        self._groups = {
            "balance": (self.balance_heading, self.balance),
            "samples": (self.samples_heading, self.samples),
            "preview": (self.preview_header, self.preview_note, self.preview),
            "table": (self.rows_heading, self.rows, self.histograms_heading, self.histograms),
        }
        self._show_groups(())

    # --- the View protocol ----------------------------------------------------------------------

    def set_project(self, project: Project) -> None:
        self.project = copy.deepcopy(project)
        if self._key(with_preview=True) != self._shown_key:
            self._pending = True
            if self.isVisible():
                self.refresh()

    def set_weights(self, state: dict | None) -> None:
        """The data does not depend on the weights."""

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._pending:
            self.refresh()

    # --- computing and painting ------------------------------------------------------------------

    def _key(self, with_preview: bool = False) -> str:
        if self.project is None:
            return ""
        data = self.project.data.to_dict()
        if not with_preview:
            data.pop("augment", None)   # the overview does not depend on it; the preview does
        return json.dumps([data, self.preview_seed if with_preview else None], sort_keys=True)

    def refresh(self) -> None:
        """Compute (or take from the cache) and paint the overview of the current data settings now."""
        self._pending = False
        if self.project is None:
            return
        self._shown_key = self._key(with_preview=True)
        spec = self.project.data
        try:
            dataset = shared_cache.get(spec)
            key = self._key()
            if key not in self._cache:
                self._cache[key] = data_overview.overview(spec, dataset)
                self.computed += 1
                while len(self._cache) > CACHED:
                    self._cache.pop(next(iter(self._cache)))
            self.overview = self._cache[key]
        except PlaygroundError as e:
            self.overview = None
            self.message.setText(f"The data cannot be shown: {e}")
            self.message.show()
            self.summary.setText("")
            self._show_groups(())
            self.drawn.emit()
            return
        self.message.hide()
        self._paint(self.overview, dataset)
        self.drawn.emit()

    def _paint(self, o: data_overview.Overview, dataset) -> None:
        shown = []
        self.summary.setText(o.summary)
        if o.class_names:
            shown.append("balance")
            self.balance.set_counts(o.class_names, o.train_counts, o.val_counts)
        if o.samples is not None:
            shown.append("samples")
            rows = len(o.samples)
            more = len(o.class_names) - rows
            labels = tuple(f"{name} ({o.train_counts[i]:,})" for i, name in enumerate(o.class_names[:rows]))
            self.samples.set_tiles(o.samples, labels)
            self.samples_heading.setText("Samples of each class (the first training images)" +
                                         (f" — the first {rows} of {len(o.class_names)} classes" if more else ""))
            shown.append("preview")
            self._paint_preview(dataset)
        if o.columns:
            shown.append("table")
            self.rows.setColumnCount(len(o.columns))
            self.rows.setRowCount(len(o.rows))
            self.rows.setHorizontalHeaderLabels(list(o.columns))
            for r, row in enumerate(o.rows):
                for c, cell in enumerate(row):
                    self.rows.setItem(r, c, QTableWidgetItem(cell))
            height = self.rows.horizontalHeader().height() + sum(self.rows.rowHeight(r) for r in range(len(o.rows)))
            self.rows.setFixedHeight(height + 2 * self.rows.frameWidth() + 2)
            self.histograms.set_histograms(o.histograms)
        self._show_groups(shown)
        self.preview.setVisible("preview" in shown and self.preview.image is not None)

    def _paint_preview(self, dataset) -> None:
        spec = self.project.data
        try:
            tiles = data_overview.augment_preview(spec, dataset.x_train, dataset.y_train, seed=self.preview_seed)
        except PlaygroundError as e:
            tiles = None
            self.preview_note.setText(f"The augmentation cannot be previewed: {e}")
        names = dataset.info.class_names
        if tiles is None:
            if not spec.augment:
                self.preview_note.setText("No augmentation: tick some in the training panel's data settings "
                                          "(Augmentation) to see it here.")
            self.preview.set_tiles(None, ())
            self.reshuffle_button.setEnabled(False)
            return
        picks = [names[i] for i in sorted(set(dataset.y_train.tolist()))][: len(tiles)]
        steps = ", ".join(spec.augment)
        self.preview_note.setText(f"{steps} — each row one training image, first as it is, then as "
                                  f"{data_overview.PREVIEW_VERSIONS} training batches may see it (preview seed {self.preview_seed}).")
        self.preview.set_tiles(tiles, tuple(picks), ((0, "original"), (1, "augmented")))
        self.reshuffle_button.setEnabled(True)

    def _show_groups(self, shown) -> None:
        for name, widgets in self._groups.items():
            for widget in widgets:
                widget.setVisible(name in shown)

    @Slot()
    def _on_reshuffle_button_clicked(self) -> None:
        self.preview_seed += 1
        self._pending = True
        if self.isVisible():
            self.refresh()
