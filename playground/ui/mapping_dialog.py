"""The dialog that shows how a file's weights would pair with the cards by layer order, for the user to confirm."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.naming import original_state_dict
from ..core.spec import NetworkSpec

COLUMNS = ("In the file", "Shape", "→ Card", "Shape")


def shape_text(shape: tuple) -> str:
    return "×".join(map(str, shape)) or "scalar"


class WeightMappingDialog(QDialog):
    """`pairs` from naming.match_in_order: (key in the file, key in the network, shape). Accepted: load
    the weights that way; rejected (the default, and Escape): load nothing."""

    def __init__(self, pairs: list[tuple[str, str, tuple]], network: NetworkSpec, file_name: str,
                 why_not_by_name: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("weightMappingDialog")
        self.setWindowTitle("Load weights by layer order?")
        self.pairs = pairs
        intro = QLabel(f"The names in {file_name} are not this network's, but its {len(pairs)} weights pair "
                       "with the cards one by one, in order and shape, as below. Load them this way?",
                       objectName="mappingIntro", wordWrap=True)

        self.table = QTableWidget(len(pairs), len(COLUMNS), objectName="mappingTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        # each card key as the exported weights will carry it (conv1.weight for an imported class)
        exported = dict(zip((ours for _, ours, _ in pairs),
                            original_state_dict(network, dict.fromkeys(ours for _, ours, _ in pairs))))
        for row, (theirs, ours, shape) in enumerate(pairs):
            index = int(ours.partition(".")[0])
            card = QTableWidgetItem(exported[ours])
            card.setToolTip(f"card {index + 1}, {network.layers[index].type}")
            for column, item in enumerate((QTableWidgetItem(theirs), QTableWidgetItem(shape_text(shape)), card,
                                           QTableWidgetItem(shape_text(shape)))):
                self.table.setItem(row, column, item)
        header = self.table.horizontalHeader()
        for column in range(len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.Stretch)

        # why the names did not match, for whoever wants to know; it does not crowd the table
        self.reason = QPlainTextEdit(f"Why not by name:\n{why_not_by_name}", objectName="mappingReason",
                                     readOnly=True)
        self.reason.setMaximumHeight(self.reason.fontMetrics().lineSpacing() * 5)

        self.buttons = QDialogButtonBox(QDialogButtonBox.Cancel)
        self.load_button = self.buttons.addButton("&Load by order", QDialogButtonBox.AcceptRole)
        self.load_button.setObjectName("loadByOrderButton")
        cancel = self.buttons.button(QDialogButtonBox.Cancel)
        self.load_button.setAutoDefault(False)
        cancel.setDefault(True)                 # Return does not load weights the user has not looked at
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.reason)
        layout.addWidget(self.buttons)
        self.resize(640, 420)

    def rows(self) -> list[tuple[str, ...]]:
        """The table as text, row by row (what the user reads)."""
        return [tuple(self.table.item(r, c).text() for c in range(len(COLUMNS))) for r in range(self.table.rowCount())]

    def mapped_state(self, state: dict) -> dict:
        """`state` under the network's keys, as the table pairs them."""
        return {ours: state[theirs] for theirs, ours, _ in self.pairs}

