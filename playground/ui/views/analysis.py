"""Analysis: what the network costs per batch — parameters, multiply-adds and activation memory, layer by layer."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QFont, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .. import theme
from ...core.analysis import NetworkAnalysis, analyze
from ...core.shapes import ERROR, format_bytes, format_shape
from ...core.spec import Project
from . import View

COLUMNS = ("#", "Layer", "Output shape", "Parameters", "Multiply-adds", "Activation memory")
INDEX, LAYER, SHAPE, PARAMS, MACS, MEMORY = range(len(COLUMNS))
_NUMERIC = (PARAMS, MACS, MEMORY)


class NetworkAnalysisView(View):
    """One row per layer and a totals row, recounted whenever the project changes."""

    title = "Analysis"

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("networkAnalysisView")
        self.analysis: NetworkAnalysis | None = None
        self._red = theme.error_color(self)
        self._dim = self.palette().color(QPalette.PlaceholderText)

        self.caption = QLabel()
        self.caption.setObjectName("analysisCaption")
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.RichText)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("analysisTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setSectionResizeMode(LAYER, QHeaderView.Stretch)
        for column in _NUMERIC:
            self.table.horizontalHeaderItem(column).setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.table.horizontalHeaderItem(INDEX).setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.table.horizontalHeaderItem(MACS).setToolTip(
            "Multiply-adds of the forward pass for the whole batch (bias additions not counted; "
            "pooling, activations and reshapes count 0)"
        )
        self.table.horizontalHeaderItem(MEMORY).setToolTip(
            "The layer's float32 output for the whole batch, kept for the backward pass"
        )
        self.error_label = QLabel()
        self.error_label.setObjectName("analysisError")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(f"QLabel {{ color: {self._red.name()}; }}")
        self.error_label.hide()
        self.note = QLabel()
        self.note.setObjectName("analysisNote")
        self.note.setWordWrap(True)
        self.note.setForegroundRole(QPalette.PlaceholderText)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(6)
        layout.addWidget(self.caption)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.error_label)
        layout.addWidget(self.note)

    # --- the View protocol -------------------------------------------------------------------

    def set_project(self, project: Project) -> None:
        self.analysis = analyze(project.network, project.training.batch_size)
        self._fill(self.analysis)

    def set_weights(self, state: dict | None) -> None:
        pass  # the costs depend on the shapes, not on the values of the weights

    # --- for tests and tools -----------------------------------------------------------------

    def cell(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text() if item is not None else ""

    # --- drawing -----------------------------------------------------------------------------

    def _fill(self, a: NetworkAnalysis) -> None:
        n = a.batch_size
        self.caption.setText(
            f"Costs of one batch of <b>{n:,} sample{'s' if n != 1 else ''}</b> (the training batch size): "
            "multiply-adds of the forward pass and the memory of each layer's output."
        )
        self.table.setRowCount(len(a.layers) + 1)
        for row, layer in enumerate(a.layers):
            fits = layer.output_shape is not None
            values = (
                str(layer.index),
                layer.type,
                format_shape(layer.output_shape) if fits else ("error" if layer.status == ERROR else "—"),
                f"{layer.params:,}" if fits else "—",
                f"{layer.macs:,}" if layer.macs is not None else "—",
                format_bytes(layer.activation_bytes) if layer.activation_bytes is not None else "—",
            )
            self._set_row(row, values)
            if not fits:
                colour = self._red if layer.status == ERROR else self._dim
                for column in range(len(COLUMNS)):
                    self.table.item(row, column).setForeground(QBrush(colour))
            else:
                if layer.macs and a.macs:
                    self.table.item(row, MACS).setToolTip(f"{layer.macs / a.macs:.1%} of the network's multiply-adds")
                for column, value in ((PARAMS, layer.params), (MACS, layer.macs)):
                    if not value:   # dimmed zeros let the layers that cost something stand out
                        self.table.item(row, column).setForeground(QBrush(self._dim))
        total = len(a.layers)
        output = a.info.output_shape
        self._set_row(total, (
            "",
            "Total",
            format_shape(output) if output is not None else "",
            f"{a.params:,}",
            f"{a.macs:,}",
            format_bytes(a.activation_bytes),
        ))
        bold = QFont(self.table.font())
        bold.setBold(True)
        shade = QBrush(self.palette().color(QPalette.Window))
        for column in range(len(COLUMNS)):
            self.table.item(total, column).setFont(bold)
            self.table.item(total, column).setBackground(shade)
        if a.trainable_params != a.params:
            self.table.item(total, PARAMS).setToolTip(f"{a.trainable_params:,} of them trainable")
        self.table.setCurrentItem(None)   # no focus frame on a table that is only read
        self.error_label.setText(f"{a.info.error} — the layers after it are not counted." if not a.ok else "")
        self.error_label.setVisible(not a.ok)
        self.note.setText(
            f"The input batch takes {format_bytes(a.input_bytes)}. Training also keeps a gradient for every "
            "parameter, and optimizers like Adam two more values each."
        )

    def _set_row(self, row: int, values: tuple[str, ...]) -> None:
        for column, text in enumerate(values):
            item = QTableWidgetItem(text)
            if column in _NUMERIC or column == INDEX:
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            self.table.setItem(row, column, item)
