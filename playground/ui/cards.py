"""Layer cards: the input, one per layer with generated editors, and the summary."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QMouseEvent, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QApplication,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from . import theme
from ..core.errors import PlaygroundError
from ..core.layers import LAYERS
from ..core.losses import plan_targets
from ..core.shapes import ERROR, UNREACHABLE, LayerInfo, format_shape
from ..core.spec import LayerSpec
from .document import ProjectDocument
from .param_editors import ParamForm

CARD_MIME = "application/x-playground-card"  # payload: the dragged card's layer index, ASCII
LOCKED_TEXT = "Training — stop the run to edit the network"
UNREACHABLE_TEXT = "not checked: an earlier layer has an error"
RED, GREEN, AMBER = theme.ERROR, theme.OK, theme.WARNING
COLUMN_WIDTH = 440  # wider cards only stretch the fields; the eye has further to travel
ESSENTIAL_ROWS = 4  # a card shows the catalogue's first params (what people change) and any set ones


def card_mime_data(index: int) -> QMimeData:
    mime = QMimeData()
    mime.setData(CARD_MIME, str(index).encode("ascii"))
    return mime


def _mix(a: QColor, b: QColor, t: float) -> QColor:
    return QColor.fromRgbF(*(x + (y - x) * t for x, y in zip(a.getRgbF()[:3], b.getRgbF()[:3])))


def make_label(text: str = "", *, bold: bool = False, muted: bool = False, name: str = "") -> QLabel:
    label = QLabel(text)
    if bold:
        font = QFont(label.font())
        font.setBold(True)
        label.setFont(font)
    if muted:
        label.setForegroundRole(QPalette.PlaceholderText)
    if name:
        label.setObjectName(name)
    return label


def _tool_button(text: str, name: str, slot) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setObjectName(name)
    button.setAutoRaise(True)
    button.setCursor(Qt.ArrowCursor)  # not the header's open hand: this one clicks, it does not drag
    button.clicked.connect(slot)
    return button


def _set_colour(label: QLabel, colour: QColor | None) -> None:
    palette = label.palette()
    palette.setColor(QPalette.WindowText, colour or QApplication.palette().color(QPalette.WindowText))
    label.setPalette(palette)


class _Card(QFrame):
    """A rounded panel painted by hand: a style sheet would re-polish every editor of fifty cards."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.column = QVBoxLayout(self)
        self.column.setContentsMargins(12, 8, 12, 9)
        self.column.setSpacing(5)
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Maximum)

    def title_row(self, title: str, value_name: str) -> QLabel:
        """A bold title with a value on the right; returns the value's label."""
        row = QHBoxLayout()
        value = make_label(name=value_name)
        row.addWidget(make_label(title, bold=True))
        row.addStretch()
        row.addWidget(value)
        self.column.addLayout(row)
        return value

    def colours(self) -> tuple[QColor, QColor, float]:
        """Fill, border and border width."""
        p = self.palette()
        return p.color(QPalette.Base), _mix(p.color(QPalette.Base), p.color(QPalette.Text), 0.18), 1

    def paintEvent(self, _event) -> None:
        fill, border, width = self.colours()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.Antialiasing)
        painter.setPen(QPen(border, width))
        painter.setBrush(fill)
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(width / 2, width / 2, -width / 2, -width / 2), 6, 6)


class InputCard(_Card):
    """The sample shape the first layer receives, and the dataset it comes from."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("inputCard")
        self.shape = self.title_row("Input", "inputShape")
        self.shape.setToolTip("One sample, without the batch dimension; it follows the dataset.")
        self.data = make_label(muted=True, name="inputData")
        self.data.setWordWrap(True)
        self.column.addWidget(self.data)

    def update_from(self, doc: ProjectDocument) -> None:
        self.shape.setText(format_shape(tuple(doc.network.input_shape)))
        info = doc.data_info
        if info is None:
            self.data.setText(doc.data_error or "no dataset")
            _set_colour(self.data, RED)
            return
        kind = f"{info.n_classes} classes" if info.n_classes else "regression"
        self.data.setText(f"{info.name} · {kind}")
        self.data.setForegroundRole(QPalette.PlaceholderText)


class SummaryCard(_Card):
    """Parameter counts, the output shape, and whether that output fits the loss and the data."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("summaryCard")
        self.output = self.title_row("Output", "summaryOutput")
        self.params = make_label(muted=True, name="summaryParams")
        self.fit = make_label(name="summaryFit")
        self.fit.setWordWrap(True)
        self.fit.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.column.addWidget(self.params)
        self.column.addWidget(self.fit)

    def update_from(self, doc: ProjectDocument) -> None:
        info = doc.network_info
        self.output.setText(format_shape(info.output_shape))
        self.params.setText(f"{info.total_params:,} parameters · {info.trainable_params:,} trainable")
        state, text = _fit(doc)
        self.fit.setProperty("state", state)
        self.fit.setText(("✓ " if state == "ok" else "⚠ " if state == "warning" else "✗ ") + text)
        _set_colour(self.fit, {"ok": GREEN, "warning": AMBER}.get(state, RED))


def _fit(doc: ProjectDocument) -> tuple[str, str]:
    """("ok" | "warning" | "error", text) for the summary's last line."""
    info, data = doc.network_info, doc.data_info
    if not info.ok:
        return "error", info.error
    if data is None:
        return "error", doc.data_error or "no dataset"
    loss = doc.project.training.loss.type
    try:
        plan = plan_targets(loss, info.output_shape, data.task, data.n_classes, data.name,
                            doc.layers[-1].type if doc.layers else None)
    except PlaygroundError as e:
        return "error", str(e)
    if plan.warnings:
        return "warning", f"fits {loss}, but " + "; ".join(plan.warnings)
    return "ok", f"fits {loss}"


class LayerCard(_Card):
    """One layer: index and type, its parameter form, inferred arguments, output shape or error."""

    pressed = Signal(int)                     # index; a click anywhere on the card selects it
    drag_started = Signal(int)                # index; the header was dragged past the drag distance
    param_changed = Signal(int, str, object)  # index, parameter name, checked value
    removal_requested = Signal(int)           # index; the card's × button

    def __init__(self, type_name: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("layerCard")
        self.type_name = type_name
        self.index = -1
        self.selected = False
        self.status = "ok"
        self.setProperty("status", "ok")  # for tests and any application style sheet
        self.setProperty("selected", False)
        self._press: QPoint | None = None
        layer_type = LAYERS.get(type_name)

        self.header = QWidget()
        self.header.setCursor(Qt.OpenHandCursor)
        self.header.setToolTip(f"{layer_type.category + ' · ' if layer_type else ''}"
                               f"{layer_type.doc if layer_type else type_name}\nDrag to reorder.")
        row = QHBoxLayout(self.header)
        row.setContentsMargins(0, 0, 0, 0)
        self.index_label = make_label(muted=True, name="cardIndex")
        self.index_label.setMinimumWidth(self.fontMetrics().horizontalAdvance("00") + 4)
        self.type_label = make_label(type_name, bold=True, name="cardType")
        self.category = make_label(layer_type.category if layer_type else "", muted=True)
        self.category.hide()   # compact: the palette already groups by it; the tooltip says it
        self.remove_button = _tool_button("✕", "cardRemove", lambda: self.removal_requested.emit(self.index))
        self.remove_button.setToolTip("Delete this layer (Del)")
        for w in (self.index_label, self.type_label, self.category, self.remove_button):
            row.addWidget(w)
        row.insertStretch(2)
        self.column.addWidget(self.header)

        read_only = (layer_type.inferred_names + tuple(layer_type.fixed)) if layer_type else ()
        self.form = ParamForm(layer_type.params if layer_type else (), {}, read_only=dict.fromkeys(read_only, "?"))
        self.form.setObjectName("cardForm")
        self.form.layout_.setLabelAlignment(Qt.AlignLeft | Qt.AlignVCenter)
        self.form.layout_.setVerticalSpacing(3)
        for row_index in range(self.form.layout_.rowCount()):
            item = self.form.layout_.itemAt(row_index, QFormLayout.LabelRole)
            if item and item.widget():
                item.widget().setMinimumWidth(132)  # one label column down the whole editor
        self.inferred = {name: self.form.findChild(QLabel, f"inferred_{name}") for name in read_only}
        self.form.setVisible(self.form.layout_.rowCount() > 0)
        self.form.param_changed.connect(lambda name, value: self.param_changed.emit(self.index, name, value))
        for child in self.form.findChildren(QWidget):
            child.setAcceptDrops(False)  # a layer dragged over a text field is dropped on the editor
        self.column.addWidget(self.form)

        footer = QHBoxLayout()
        self.footer = make_label(name="cardFooter")
        self.footer.setWordWrap(True)
        self.footer.setTextInteractionFlags(Qt.TextSelectableByMouse)  # errors are worth copying
        self._chip: bool | None = None   # the footer shows the output shape as a chip, or a message
        self.more_button = _tool_button("", "cardMore", self._on_more_button_clicked)
        self.expanded = False
        self._values: dict = {}
        footer.addWidget(self.footer, 1, Qt.AlignLeft)   # a chip keeps to the left, as text does
        footer.addWidget(self.more_button, 0, Qt.AlignTop)
        self.column.addLayout(footer)

    def update_from(self, index: int, layer: LayerSpec, info: LayerInfo | None) -> None:
        self.index = index
        self.index_label.setText(str(index))
        for name, editor in self.form.editors.items():
            value = layer.params.get(name, editor.param.default)
            if editor.value() != value:
                editor.set_value(value)
        self._values = dict(layer.params)
        self._show_rows()
        for name, label in self.inferred.items():
            value = (info.inferred if info else {}).get(name, "?")
            label.setText(format_shape(tuple(value)) if isinstance(value, (list, tuple)) else str(value))
        status = info.status if info else UNREACHABLE
        if status == ERROR:
            self.footer.setText(info.error)
        elif status == UNREACHABLE:
            self.footer.setText(UNREACHABLE_TEXT)
        else:
            params = f" · {info.params:,} params" if info.params else ""
            self.footer.setText(f"→ {format_shape(info.output_shape)}{params}")
        self._show_chip(status not in (ERROR, UNREACHABLE))
        _set_colour(self.footer, RED if status == ERROR else None)
        self.footer.setForegroundRole(QPalette.PlaceholderText if status == UNREACHABLE else QPalette.WindowText)
        self.type_label.setEnabled(status != UNREACHABLE)
        self._set_state(status, self.selected)

    def _show_chip(self, chip: bool) -> None:
        """The output shape and parameter count as a compact chip; an error as wrapped text."""
        if chip != self._chip:
            self._chip = chip
            self.footer.setStyleSheet(theme.CHIP_STYLE if chip else "")
            self.footer.setWordWrap(not chip)
            self.footer.setSizePolicy(QSizePolicy.Maximum if chip else QSizePolicy.Preferred, QSizePolicy.Preferred)

    def _show_rows(self) -> None:
        rows = list(self.form.editors.values())
        folded = [row for row, editor in enumerate(rows) if row >= ESSENTIAL_ROWS
                  and self._values.get(editor.param.name, editor.param.default) == editor.param.default]
        folded += range(len(rows), self.form.layout_.rowCount())   # inferred sizes: details on demand
        foldable = len(folded) >= 2   # "1 more" takes the room of the row it hides
        if self.expanded or not foldable:
            folded = []
        for row in range(self.form.layout_.rowCount()):
            self.form.layout_.setRowVisible(row, row not in folded)
        hidden = len(folded)
        self.more_button.setText(f"{hidden} more ▾" if hidden else "fewer ▴")
        self.more_button.setToolTip("Show every parameter" if hidden else "Hide parameters left at their defaults")
        self.more_button.setVisible(foldable)

    def _on_more_button_clicked(self) -> None:
        self.expanded = not self.expanded
        self._show_rows()

    def set_selected(self, selected: bool) -> None:
        self._set_state(self.status, selected)

    def set_locked(self, locked: bool) -> None:
        self.form.setEnabled(not locked)
        self.remove_button.setEnabled(not locked)
        self.header.setCursor(Qt.ArrowCursor if locked else Qt.OpenHandCursor)

    def _set_state(self, status: str, selected: bool) -> None:
        if (status, selected) != (self.status, self.selected):
            self.status, self.selected = status, selected
            self.setProperty("status", status)
            self.setProperty("selected", selected)
            self.update()

    def colours(self) -> tuple[QColor, QColor, float]:
        p = self.palette()
        fill, border, width = super().colours()
        if self.status == ERROR:
            fill, border = _mix(fill, RED, 0.07), RED
        elif self.status == UNREACHABLE:
            fill = _mix(fill, p.color(QPalette.Window), 0.6)
        if self.selected:  # a thicker ring and a tint: a selected red card stays red
            border = border if self.status == ERROR else p.color(QPalette.Highlight)
            fill, width = _mix(fill, p.color(QPalette.Highlight), 0.08), 2
        return fill, border, width

    def mousePressEvent(self, event: QMouseEvent) -> None:
        inside = self.header.geometry().contains(event.position().toPoint())
        self._press = event.position().toPoint() if event.button() == Qt.LeftButton and inside else None
        self.pressed.emit(self.index)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._press is not None and event.buttons() & Qt.LeftButton:
            if (event.position().toPoint() - self._press).manhattanLength() >= QApplication.startDragDistance():
                self._press = None  # the drag swallows the release
                self.drag_started.emit(self.index)

    def mouseReleaseEvent(self, _event: QMouseEvent) -> None:
        self._press = None
