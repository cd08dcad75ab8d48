"""The training panel's widgets for a person's own data: a table's file and target column, the line
that says what the chosen data is, and the augmentation of training images."""

from __future__ import annotations

import copy
import json

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QLabel,
    QSpinBox,
    QWidget,
)

from ..core.augment import AUGMENTATIONS
from ..core.errors import PlaygroundError

LAST_COLUMN = ""   # the target combo's data for "the last column" (the project's empty target)
TABLE_FILTER = "Tables (*.csv *.tsv *.txt);;All files (*)"


class TargetCombo(QComboBox):
    """The table's columns, from its header; choosing one makes it the target."""

    target_chosen = Signal(str)   # the column's name, or LAST_COLUMN

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("tableTargetCombo")
        self.setToolTip("The column to predict; the others are the inputs.")
        self.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(8)
        self._shown: tuple = ()
        self.activated.connect(self._on_self_activated)

    def show_columns(self, names: tuple[str, ...], target: str) -> None:
        """Fill with `names` (none: the file is unreadable) and select `target` (a name, an index or '')."""
        if (names, target) == self._shown:
            return
        self._shown = (names, target)
        self.blockSignals(True)
        try:
            self.clear()
            last = f"last column ({names[-1]})" if names else "last column"
            self.addItem(last, LAST_COLUMN)
            for name in names:
                self.addItem(name, name)
            if target and self.findData(target) < 0:   # an index, or a name the file no longer has
                self.addItem(target, target)
            self.setCurrentIndex(max(0, self.findData(target)))
        finally:
            self.blockSignals(False)

    @Slot(int)
    def _on_self_activated(self, index: int) -> None:
        self.target_chosen.emit(self.itemData(index))


# checkbox text, the argument its spin box edits, spin range, step, default (the catalogue's), tooltip
_ROWS = (
    ("RandomCrop", "Random shift", "padding", (1, 16), 1,
     "Pad each training image by this many pixels and crop it back at a random place (RandomCrop)."),
    ("RandomHorizontalFlip", "Horizontal flip", "p", (0.05, 1.0), 0.05,
     "Mirror each training image left to right with this probability (RandomHorizontalFlip)."),
    ("RandomRotation", "Rotation", "degrees", (1.0, 45.0), 1.0,
     "Turn each training image by a random angle up to this many degrees either way (RandomRotation)."),
    ("RandomErasing", "Random erasing", "p", (0.05, 1.0), 0.05,
     "Blank out a random rectangle in each training image with this probability (RandomErasing)."),
)
_SUFFIX = {"padding": " px", "degrees": "°"}


class AugmentBox(QGroupBox):
    """The augmentations of training images as check boxes with their main argument; writes
    data.augment (torchvision's names). Arguments the box has no field for (a padding_mode, a fill)
    and augmentations it does not list (RandomVerticalFlip) are kept as the project has them."""

    augment_edited = Signal(dict)   # the whole new data.augment

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Augmentation (training images only)", parent)
        self.setObjectName("augmentBox")
        self.setToolTip("Each training batch is augmented on its device, every image with its own random draw "
                        "from the run's seed; validation and test images never are. The Data view previews it.")
        grid = QGridLayout(self)
        grid.setContentsMargins(6, 4, 6, 4)
        grid.setSpacing(4)
        self.checks: dict[str, QCheckBox] = {}
        self.spins: dict[str, QAbstractSpinBox] = {}
        self._augment: dict = {}
        self._showing = False
        for row, (name, text, arg, (low, high), step, tip) in enumerate(_ROWS):
            check = QCheckBox(text, objectName=f"augment{name}Check", toolTip=tip)
            default = next(p.default for p in AUGMENTATIONS[name].params if p.name == arg)
            if isinstance(default, int):
                spin = QSpinBox(minimum=int(low), maximum=int(high), value=default)
            else:
                spin = QDoubleSpinBox(minimum=low, maximum=high, value=default, decimals=2, singleStep=step)
            spin.setObjectName(f"augment{name}Spin")
            spin.setSuffix(_SUFFIX.get(arg, ""))
            spin.setPrefix("p " if arg == "p" else "")
            spin.setKeyboardTracking(False)
            spin.setToolTip(tip)
            check.toggled.connect(self._on_edited)
            spin.valueChanged.connect(self._on_edited)
            grid.addWidget(check, row, 0)
            grid.addWidget(spin, row, 1)
            self.checks[name], self.spins[name] = check, spin
        grid.setColumnStretch(0, 1)

    def show_augment(self, augment: dict) -> None:
        self._augment = copy.deepcopy(augment)
        self._showing = True
        try:
            for name, _, arg, *_ in _ROWS:
                on = name in augment
                self.checks[name].setChecked(on)
                self.spins[name].setEnabled(on)
                value = (augment.get(name) or {}).get(arg)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    self.spins[name].setValue(value)
        finally:
            self._showing = False

    def augment(self) -> dict:
        """data.augment as the boxes say: in the order torchvision's examples use (geometry, then erasing)."""
        order = ("RandomCrop", "RandomHorizontalFlip", "RandomVerticalFlip", "RandomRotation", "RandomErasing")
        out = {}
        for name in (*order, *(n for n in self._augment if n not in order)):
            if name in self.checks:
                if not self.checks[name].isChecked():
                    continue
                arg = next(r[2] for r in _ROWS if r[0] == name)
                params = dict(self._augment.get(name) or {})
                params[arg] = self.spins[name].value()
                out[name] = params
            elif name in self._augment:
                out[name] = copy.deepcopy(self._augment[name])
        return out

    def _on_edited(self, *_) -> None:
        if self._showing:
            return
        for name, check in self.checks.items():
            self.spins[name].setEnabled(check.isChecked())
        augment = self.augment()
        if augment != self._augment:
            self._augment = copy.deepcopy(augment)
            self.augment_edited.emit(augment)


class DataSummary(QLabel):
    """One line under the data settings saying what they give: "150 rows · 4 features · 3 classes",
    "1,000 images · 28×28 grey · 10 classes". Worked out again only when the data settings change."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("dataSummaryLabel")
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self._key = None
        self._error: str | None = None

    def show_data(self, data, document_error: str | None) -> str | None:
        """Describe `data` (a DataSpec); returns the sentence that says what is wrong, or None."""
        from ..core.data_overview import describe

        key = json.dumps([data.to_dict(), document_error], sort_keys=True, default=str)
        if key != self._key:
            self._key = key
            self._error = document_error
            text = ""
            if document_error is None:
                try:
                    text = describe(data)
                except PlaygroundError as e:
                    self._error = str(e)
            self.setText(text)
            self.setVisible(bool(text))
        return self._error

    def forget(self) -> None:
        """Describe again on the next show (files may have changed on disk)."""
        self._key = None
