"""The confusion matrix of an image classifier on validation data, or on the official test split on demand."""

from __future__ import annotations

import math

import numpy as np
import torch
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .. import theme
from ...core.evaluation import TestResult
from ...core.view_jobs import Split, ViewRequest, ViewResult, compute, shown_split
from .gallery import (
    CELL_H,
    LIVE_LIMIT,
    Entry,
    ThumbnailGrid,
    applies_to_images,
    display_pixels,
)
from .live import PredictionView

VALIDATION, TEST = "validation", "test"
RIGHT, WRONG = theme.RIGHT_CELL, theme.WRONG_CELL   # the diagonal, and the mistakes off it
CELL_PX, ROW_PX, ACCURACY_PX = 42, 24, 72
CELL_HINT = "Rows: the true class, columns: the predicted one. Click a cell to see its images."
SHORT_NAME = 5         # longer class names show as their number above the columns (the rows say it in full)


class ConfusionMatrixView(PredictionView):
    """Counts of true class (rows) against predicted class (columns), per-class accuracy beside them;
    clicking a cell shows its images below."""

    title = "Confusion matrix"
    applies_to = staticmethod(applies_to_images)

    cell_clicked = Signal(int, int)  # true class, predicted class of the cell the user clicked

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("confusionMatrixView")
        self.source = VALIDATION                   # which split the matrix shows: VALIDATION is self.split
        self.split: Split | None = None            # validation, else test or training without a validation split
        self.test_result: TestResult | None = None
        self._test_serial = -1                     # the weights the test result belongs to
        self._val: TestResult | None = None        # on the first n validation samples (all once training rests)
        self._pixels: dict[str, np.ndarray] = {}   # display pixels of each split, made when first needed
        self._selected: tuple[int, int] | None = None

        self.accuracy_label = QLabel()
        self.accuracy_label.setObjectName("accuracyLabel")
        self.accuracy_label.setTextFormat(Qt.RichText)
        self.accuracy_label.setWordWrap(True)
        self.test_button = QPushButton("Evaluate on the test set")
        self.test_button.setObjectName("testEvalButton")
        self.test_button.setToolTip(
            "Accuracy and confusion matrix on the official test split, with the current weights. "
            "Available while training rests: the test set is for the final check, not for watching."
        )
        self.test_button.clicked.connect(self._on_test_button_clicked)
        self.validation_button = QPushButton("Back to validation")
        self.validation_button.setObjectName("showValidationButton")
        self.validation_button.clicked.connect(self._on_validation_button_clicked)
        self.validation_button.hide()

        self.table = QTableWidget()
        self.table.setObjectName("confusionTable")
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setFocusPolicy(Qt.NoFocus)
        self.table.setShowGrid(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Fixed)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.Fixed)
        self.table.horizontalHeader().setDefaultSectionSize(CELL_PX)
        self.table.verticalHeader().setDefaultSectionSize(ROW_PX)
        self.table.cellClicked.connect(self._on_table_cell_clicked)
        # as large as its cells, no larger: the space left goes to the images of the clicked cell
        self.table.setSizeAdjustPolicy(QAbstractItemView.AdjustToContents)
        self.table.setSizePolicy(QSizePolicy.Maximum, QSizePolicy.Maximum)
        self.cell_label = QLabel(CELL_HINT)
        self.cell_label.setObjectName("cellLabel")
        self.cell_label.setWordWrap(True)
        self.samples = ThumbnailGrid()
        self.samples.setObjectName("cellSamples")
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.samples)
        scroll.setFrameShape(QScrollArea.NoFrame)
        scroll.setMinimumHeight(CELL_H + 6)   # one whole row of images with their labels
        panel = QWidget()
        panel_layout = QVBoxLayout(panel)
        panel_layout.setContentsMargins(0, 4, 0, 0)
        panel_layout.addWidget(self.cell_label)
        panel_layout.addWidget(scroll, 1)
        upper = QWidget()
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        upper_layout.addWidget(self.table, 0, Qt.AlignHCenter | Qt.AlignTop)
        upper_layout.addStretch(1)
        splitter = QSplitter(Qt.Vertical)
        splitter.addWidget(upper)
        splitter.addWidget(panel)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)

        top = QHBoxLayout()
        top.setContentsMargins(4, 0, 4, 0)
        top.addWidget(self.accuracy_label, 1)
        top.addWidget(self.validation_button)
        top.addWidget(self.test_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.message)
        layout.addWidget(splitter, 1)

    # --- what is shown -------------------------------------------------------------------------------

    def shown(self) -> TestResult | None:
        """The result the matrix shows: validation, or the test split after the button."""
        return self.test_result if self.source == TEST else self._val

    def matrix(self) -> torch.Tensor | None:
        result = self.shown()
        return None if result is None else result.matrix

    def accuracy(self) -> float | None:
        result = self.shown()
        return None if result is None else result.accuracy

    def cell_samples(self, true: int, predicted: int) -> list[int]:
        """Indices (into the split shown) of the images of class `true` predicted as `predicted`."""
        result = self.shown()
        if result is None:
            return []
        labels = self._labels()[: len(result.predicted)]
        hits = (labels == true) & (result.predicted == predicted)
        return torch.nonzero(hits).flatten().tolist()

    def select_cell(self, true: int, predicted: int) -> None:
        """Show the images of one cell below the matrix, as a click on it does."""
        self._selected = (true, predicted)
        self._show_samples()
        self.cell_clicked.emit(true, predicted)

    # --- PredictionView ------------------------------------------------------------------------------

    def data_changed(self) -> None:
        self.split = shown_split(self.dataset) if self.dataset is not None else None
        self._val = self.test_result = None
        self.source = VALIDATION
        self._pixels = {}
        self._selected = None
        self._draw()

    def requests(self, full: bool) -> list[ViewRequest]:
        if self.split is None:
            return []
        n = len(self.split.x) if full else min(LIVE_LIMIT, len(self.split.x))
        return [ViewRequest(self.objectName(), "confusion", {"split": "shown", "n": n})]

    def paint_result(self, result: ViewResult) -> None:
        data = result.data
        if (data["split"], data["total"]) != (self.split.name, len(self.split.x)):
            return        # asked before the data changed: the next result fits
        self._val = _test_result(data)
        if self._test_serial != self.weights_serial:
            self.test_result = None      # it belonged to earlier weights
            self.source = VALIDATION
        d = self.dataset
        self.test_button.setEnabled(self._full and d.x_test is not None and self.split.name != TEST)
        self._draw()

    def set_remote(self, remote: bool) -> None:
        if remote:
            self.test_button.setEnabled(False)   # the test set is for when training rests
        super().set_remote(remote)

    def clear_predictions(self) -> None:
        self._val = self.test_result = None
        self.source = VALIDATION
        self.test_button.setEnabled(False)
        self._draw()

    # --- drawing -------------------------------------------------------------------------------------

    def _labels(self) -> torch.Tensor:
        d = self.dataset
        return d.y_test if self.source == TEST else self.split.y

    def _draw(self) -> None:
        result = self.shown()
        self.validation_button.setVisible(self.source == TEST)
        # without a validation split the matrix already shows the test set: no button for it
        self.test_button.setVisible(self.source != TEST and (self.split is None or self.split.name != TEST))
        if result is None or self.dataset is None:
            self.table.clear()
            self.table.setRowCount(0)
            self.table.setColumnCount(0)
            self.accuracy_label.setText("")
            self._selected = None
            self._show_samples()
            return
        names = self.dataset.info.class_names
        total = len(self._labels())
        counted = int(result.matrix.sum())
        if self.source == TEST:
            scope = f"Test set · {counted:,} images"
        elif counted == total:
            scope = f"{self.split.name.capitalize()} set · {counted:,} images"
        else:
            scope = (f"{self.split.name.capitalize()} set · first {counted:,} of {total:,} images "
                     "(all when training rests)")
        if self.source != TEST and self.split.note:
            scope = f"{self.split.note[0].upper()}{self.split.note[1:]} · {scope}"
        self.accuracy_label.setText(f"{scope} · accuracy <b>{result.accuracy:.2%}</b>")
        self._fill_table(result, names)
        self._show_samples()

    def _fill_table(self, result: TestResult, names: tuple[str, ...]) -> None:
        # one repaint for the whole matrix, not one per cell: refilled four times a second in a run
        self.table.setUpdatesEnabled(False)
        try:
            self._fill_cells(result, names)
        finally:
            self.table.setUpdatesEnabled(True)

    def _fill_cells(self, result: TestResult, names: tuple[str, ...]) -> None:
        n = len(names)
        table = self.table
        table.setRowCount(n)
        table.setColumnCount(n + 1)
        short = all(len(name) <= SHORT_NAME for name in names)
        table.setHorizontalHeaderLabels([name if short else str(k) for k, name in enumerate(names)] + ["accuracy"])
        table.setVerticalHeaderLabels([name if short else f"{k}  {name}" for k, name in enumerate(names)])
        for k, name in enumerate(names):
            table.horizontalHeaderItem(k).setToolTip(f"predicted {name}")
        table.setColumnWidth(n, ACCURACY_PX)
        matrix = result.matrix.tolist()
        # as wide as the widest count in bold ("1,048" on the test set), never elided to "1,0…"
        bold_metrics = QFontMetrics(_bold_font(table.font()))
        widest = max((bold_metrics.horizontalAdvance(f"{c:,}") for row in matrix for c in row), default=0)
        cell_px = max(CELL_PX, widest + 12)
        for k in range(n):
            table.setColumnWidth(k, cell_px)
        base = self.palette().color(QPalette.Base)
        text = self.palette().color(QPalette.Text)
        bold = QFont(table.font())
        bold.setBold(True)
        for t, row in enumerate(matrix):
            row_total = max(sum(row), 1)
            for p, count in enumerate(row):
                share = count / row_total
                # sqrt: a 2 % confusion is already worth a look, so it must show
                strength = share if t == p else math.sqrt(share)
                color = _blend(base, RIGHT if t == p else WRONG, 0.85 * strength)
                item = table.item(t, p)
                if item is None:   # the cells stay from one result to the next: only their values change
                    item = QTableWidgetItem()
                    table.setItem(t, p, item)
                item.setText(f"{count:,}")
                item.setTextAlignment(Qt.AlignCenter)
                item.setBackground(color)
                dark = color.lightness() < 140
                item.setForeground(QColor("white") if dark else (text if count else _faded(text)))
                if t == p:
                    item.setFont(bold)
                item.setToolTip(f"true {names[t]}, predicted {names[p]}: {count:,} ({share:.1%} of {names[t]})")
            accuracy = float(result.per_class[t])
            cell = QTableWidgetItem("—" if math.isnan(accuracy) else f"{accuracy:.1%}")
            cell.setTextAlignment(Qt.AlignCenter)
            cell.setFont(bold)
            cell.setToolTip(f"share of the {names[t]} images predicted correctly")
            table.setItem(t, n, cell)
        frame = 2 * table.frameWidth()
        width = table.verticalHeader().sizeHint().width() + n * cell_px + ACCURACY_PX + frame
        height = table.horizontalHeader().sizeHint().height() + n * ROW_PX + frame
        table.setMaximumSize(width, height)   # never taller or wider than its cells; scrolls when smaller

    def _show_samples(self) -> None:
        result = self.shown()
        if self._selected is None or result is None:
            self.cell_label.setText(CELL_HINT)
            self.samples.set_entries(None, [], ())
            return
        t, p = self._selected
        names = self.dataset.info.class_names
        indices = self.cell_samples(t, p)
        split = TEST if self.source == TEST else self.split.name
        self.cell_label.setText(f"True {names[t]}, predicted {names[p]}: {len(indices):,} {split} images")
        entries = [Entry(i, p, t, float(result.confidence[i]), t != p) for i in indices]
        self.samples.set_entries(self._split_pixels(), entries, names)

    def _split_pixels(self) -> np.ndarray:
        if self.source not in self._pixels:
            d = self.dataset
            x = d.x_test if self.source == TEST else self.split.x
            self._pixels[self.source] = display_pixels(x, self.project.data)
        return self._pixels[self.source]

    # --- slots ---------------------------------------------------------------------------------------

    @Slot(int, int)
    def _on_table_cell_clicked(self, row: int, column: int) -> None:
        if self.shown() is not None and column < len(self.dataset.info.class_names):
            self.select_cell(row, column)

    @Slot()
    def _on_test_button_clicked(self) -> None:
        if self.remote or self.predictor is None or self.dataset is None or self.dataset.x_test is None:
            return
        request = ViewRequest(self.objectName(), "confusion", {"split": TEST, "n": len(self.dataset.x_test)})
        QApplication.setOverrideCursor(Qt.WaitCursor)
        try:
            result = compute(request, self.predictor, self.dataset)   # here: the button works while training rests
        finally:
            QApplication.restoreOverrideCursor()
        if result.error:
            self._job_failed(result)
            return
        self.test_result = _test_result(result.data)
        self._test_serial = self.weights_serial
        self.source = TEST
        self._draw()

    @Slot()
    def _on_validation_button_clicked(self) -> None:
        self.source = VALIDATION
        self._draw()


def _test_result(data: dict) -> TestResult:
    """The confusion job's data as the TestResult the matrix is drawn from."""
    return TestResult(data["accuracy"], data["per_class"], data["matrix"], data["predicted"], data["confidence"])


def _bold_font(font: QFont) -> QFont:
    bold = QFont(font)
    bold.setBold(True)
    return bold


def _blend(base: QColor, color: QColor, t: float) -> QColor:
    t = min(max(t, 0.0), 1.0)
    return QColor(*(round(b + (c - b) * t) for b, c in zip(base.getRgb()[:3], color.getRgb()[:3])))


def _faded(color: QColor) -> QColor:
    c = QColor(color)
    c.setAlpha(90)
    return c
