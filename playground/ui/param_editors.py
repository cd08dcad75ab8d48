"""Editors generated from the catalogue's typed parameters: one widget per Param kind, a form per list."""

from __future__ import annotations

import math

from PySide6.QtCore import Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from ..core.params import (
    BOOL,
    CHOICE,
    FLOAT,
    FLOATS,
    INT,
    INTS,
    SIZE,
    TEXT,
    Param,
    ParamError,
)

INT_LIMIT = 2**31 - 1  # QSpinBox holds a C int


class ParamEditor(QWidget):
    """Wraps the widget for one Param; emits a checked value, never an invalid one."""

    value_changed = Signal(object)  # the new, checked value

    def __init__(self, param: Param, value, parent: QWidget | None = None):
        super().__init__(parent)
        self.param = param
        self.widget = _make_widget(param)
        self.widget.setToolTip(param.help)
        self.widget.setObjectName(f"param_{param.name}")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.widget)
        self._setting = False
        self.set_value(value)
        _connect(self.widget, param, self._on_widget_changed)

    def set_value(self, value) -> None:
        self._setting = True
        try:
            _write(self.widget, self.param, value)
        finally:
            self._setting = False

    def value(self):
        return _read(self.widget, self.param)

    def _on_widget_changed(self, *_) -> None:
        if self._setting:
            return
        try:
            value = self.param.check(self.value())
        except ParamError as e:
            self.widget.setToolTip(f"{e}\n\n{self.param.help}")
            self.widget.setProperty("invalid", True)
            return
        self.widget.setProperty("invalid", False)
        self.widget.setToolTip(self.param.help)
        self.value_changed.emit(value)


class ParamForm(QWidget):
    """A form of editors for `params`, showing `values` (defaults where a value is not set)."""

    param_changed = Signal(str, object)  # name, checked value

    def __init__(self, params: tuple[Param, ...], values: dict, parent: QWidget | None = None,
                 read_only: dict | None = None):
        super().__init__(parent)
        self.layout_ = QFormLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        self.editors: dict[str, ParamEditor] = {}
        for param in params:
            editor = ParamEditor(param, values.get(param.name, param.default))
            editor.value_changed.connect(lambda v, name=param.name: self.param_changed.emit(name, v))
            label = QLabel(param.name)
            label.setToolTip(param.help)
            self.layout_.addRow(label, editor)
            self.editors[param.name] = editor
        for name, value in (read_only or {}).items():
            shown = QLabel(_text(value))
            shown.setObjectName(f"inferred_{name}")
            shown.setToolTip("Inferred from the previous layer's output; not editable.")
            shown.setEnabled(False)
            self.layout_.addRow(QLabel(name), shown)

    def set_values(self, values: dict) -> None:
        for name, editor in self.editors.items():
            editor.set_value(values.get(name, editor.param.default))

    def set_row_visible(self, name: str, visible: bool) -> None:
        """Show or hide a parameter's row (another control edits it)."""
        if name in self.editors:
            self.layout_.setRowVisible(self.editors[name], visible)


# --- one widget per kind ----------------------------------------------------------------------


def _make_widget(param: Param) -> QWidget:
    if param.kind == INT:
        w = QSpinBox()
        w.setRange(_int_bound(param.minimum, -INT_LIMIT), _int_bound(param.maximum, INT_LIMIT))
        w.setKeyboardTracking(False)  # typing "128" is one edit, not three
        return w
    if param.kind == FLOAT:
        w = QDoubleSpinBox()
        w.setDecimals(8 if param.log or (param.maximum or 1) <= 1 else 4)
        w.setRange(param.minimum if param.minimum is not None else -1e12,
                   param.maximum if param.maximum is not None else 1e12)
        w.setStepType(QAbstractSpinBox.AdaptiveDecimalStepType)
        w.setKeyboardTracking(False)
        w.textFromValue = lambda v: f"{v:g}"  # 0.001, not 0.00100000
        return w
    if param.kind == BOOL:
        return QCheckBox()
    if param.kind == CHOICE:
        w = QComboBox()
        w.addItems([str(c) for c in param.choices])
        return w
    w = QLineEdit()
    if param.kind in (SIZE, INTS, FLOATS):
        w.setValidator(_ListValidator(param, w))
        w.setPlaceholderText(_placeholder(param))
    return w


def _connect(widget: QWidget, param: Param, slot) -> None:
    if param.kind in (INT, FLOAT):
        widget.valueChanged.connect(slot)
    elif param.kind == BOOL:
        widget.toggled.connect(slot)
    elif param.kind == CHOICE:
        widget.currentIndexChanged.connect(slot)
    else:
        widget.editingFinished.connect(slot)


def _write(widget: QWidget, param: Param, value) -> None:
    if param.kind == INT:
        widget.setValue(int(value))
    elif param.kind == FLOAT:
        widget.setValue(float(value))
    elif param.kind == BOOL:
        widget.setChecked(bool(value))
    elif param.kind == CHOICE:
        widget.setCurrentIndex(max(0, [str(c) for c in param.choices].index(str(value))
                                   if str(value) in map(str, param.choices) else 0))
    else:
        widget.setText(_text(value))


def _read(widget: QWidget, param: Param):
    if param.kind in (INT, FLOAT):
        return widget.value()
    if param.kind == BOOL:
        return widget.isChecked()
    if param.kind == CHOICE:
        return param.choices[widget.currentIndex()]
    text = widget.text().strip()
    if param.kind == TEXT:
        return text
    return _parse_list(text, param)


def _parse_list(text: str, param: Param):
    if not text:
        return None
    parts = [p for p in text.replace("(", "").replace(")", "").replace("[", "").replace("]", "").split(",") if p.strip()]
    convert = float if param.kind == FLOATS else int
    try:
        values = [convert(p.strip()) for p in parts]
    except ValueError:
        return text  # Param.check explains what is wrong
    if param.kind == SIZE and len(values) == 1:
        return values[0]
    return values


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _placeholder(param: Param) -> str:
    if param.kind == SIZE:
        base = "5" if param.dims == 1 else f"5 or {', '.join(['3'] * param.dims)}"
        return f"{base} (empty: default)" if param.optional else base
    if param.kind == FLOATS:
        return ", ".join(["0.9"] * param.dims)
    return "1, 28, 28"


def _int_bound(bound, fallback: int) -> int:
    if bound is None or not math.isfinite(bound):
        return fallback
    return int(max(-INT_LIMIT, min(INT_LIMIT, bound)))


class _ListValidator(QValidator):
    """Lets through what could become a valid list; Param.check has the last word."""

    def __init__(self, param: Param, parent):
        super().__init__(parent)
        self.allowed = set("0123456789, ()[]" + (".-e" if param.kind == FLOATS else "-"))

    def validate(self, text: str, pos: int):
        # Acceptable (not Intermediate) so editingFinished fires; Param.check has the last word.
        ok = all(c in self.allowed for c in text)
        return (QValidator.Acceptable if ok else QValidator.Invalid), text, pos

