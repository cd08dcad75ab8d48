"""The network editor: input card, one card per layer, summary card; drop, reorder, delete and duplicate."""

from __future__ import annotations

from difflib import SequenceMatcher

from PySide6.QtCore import QEvent, QMimeData, QObject, QPoint, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QDrag, QFont, QKeySequence, QMouseEvent, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.errors import PlaygroundError
from ..core.layers import LAYERS
from ..core.losses import plan_targets
from ..core.shapes import ERROR, UNREACHABLE, LayerInfo, format_shape
from ..core.spec import LayerSpec
from .document import ProjectDocument
from .palette import LAYER_MIME, drag_pixmap
from .param_editors import ParamForm

CARD_MIME = "application/x-playground-card"  # payload: the dragged card's layer index, ASCII
LOCKED_TEXT = "Training — stop the run to edit the network"
UNREACHABLE_TEXT = "not checked: an earlier layer has an error"
RED, GREEN, AMBER = QColor("#d1242f"), QColor("#1a7f37"), QColor("#9a6700")
COLUMN_WIDTH = 440  # wider cards only stretch the fields; the eye has further to travel
ESSENTIAL_ROWS = 4  # a card shows the catalogue's first params (what people change) and any set ones


def card_mime_data(index: int) -> QMimeData:
    mime = QMimeData()
    mime.setData(CARD_MIME, str(index).encode("ascii"))
    return mime


def _mix(a: QColor, b: QColor, t: float) -> QColor:
    return QColor.fromRgbF(*(x + (y - x) * t for x, y in zip(a.getRgbF()[:3], b.getRgbF()[:3])))


def _label(text: str = "", *, bold: bool = False, muted: bool = False, name: str = "") -> QLabel:
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
        value = _label(name=value_name)
        row.addWidget(_label(title, bold=True))
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
        self.data = _label(muted=True, name="inputData")
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
        self.params = _label(muted=True, name="summaryParams")
        self.fit = _label(name="summaryFit")
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
        self.header.setToolTip(f"{layer_type.doc if layer_type else type_name}\nDrag to reorder.")
        row = QHBoxLayout(self.header)
        row.setContentsMargins(0, 0, 0, 0)
        self.index_label = _label(muted=True, name="cardIndex")
        self.index_label.setMinimumWidth(self.fontMetrics().horizontalAdvance("00") + 4)
        self.type_label = _label(type_name, bold=True, name="cardType")
        self.category = _label(layer_type.category if layer_type else "", muted=True)
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
        self.footer = _label(name="cardFooter")
        self.footer.setWordWrap(True)
        self.footer.setTextInteractionFlags(Qt.TextSelectableByMouse)  # errors are worth copying
        self.more_button = _tool_button("", "cardMore", self._on_more_button_clicked)
        self.expanded = False
        self._values: dict = {}
        footer.addWidget(self.footer, 1)
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
        _set_colour(self.footer, RED if status == ERROR else None)
        self.footer.setForegroundRole(QPalette.PlaceholderText if status == UNREACHABLE else QPalette.WindowText)
        self.type_label.setEnabled(status != UNREACHABLE)
        self._set_state(status, self.selected)

    def _show_rows(self) -> None:
        rows = list(self.form.editors.values())
        folded = [row for row, editor in enumerate(rows) if row >= ESSENTIAL_ROWS
                  and self._values.get(editor.param.name, editor.param.default) == editor.param.default]
        if self.expanded or len(folded) < 2:  # "1 more" takes the room of the row it hides
            folded = []
        for row in range(len(rows)):
            self.form.layout_.setRowVisible(row, row not in folded)
        hidden = len(folded)
        self.more_button.setText(f"{hidden} more ▾" if hidden else "fewer ▴")
        self.more_button.setToolTip("Show every parameter" if hidden else "Hide parameters left at their defaults")
        self.more_button.setVisible(hidden > 0 or (self.expanded and len(self.form.editors) > ESSENTIAL_ROWS))

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


class NetworkEditor(QScrollArea):
    """The network as a column of cards, edited through the document so every change can be undone."""

    layer_selected = Signal(int)  # index, -1 for none

    def __init__(self, document: ProjectDocument, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("networkEditor")
        self.document = document
        self.cards: list[LayerCard] = []
        self._selected: LayerCard | None = None
        self._selected_index = -1
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.NoFrame)
        self.setFocusPolicy(Qt.StrongFocus)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)

        canvas = QWidget()
        canvas.setObjectName("editorCanvas")
        canvas.setBackgroundRole(QPalette.Window)
        outer = QHBoxLayout(canvas)
        outer.setContentsMargins(16, 12, 16, 16)
        self.column = QWidget()
        self.column.setObjectName("editorColumn")
        self.column.setMaximumWidth(COLUMN_WIDTH)
        outer.addStretch(1)
        outer.addWidget(self.column, 100)
        outer.addStretch(1)
        self._stack = QVBoxLayout(self.column)
        self._stack.setContentsMargins(0, 0, 0, 0)
        self._stack.setSpacing(8)
        self.banner = _label(LOCKED_TEXT, name="lockedBanner")
        self.banner.setAlignment(Qt.AlignCenter)
        self.banner.setStyleSheet("QLabel { background: rgba(154, 103, 0, 0.12); border-radius: 4px; padding: 4px; }")
        self.banner.hide()
        self.input_card = InputCard()
        self.summary_card = SummaryCard()
        for w in (self.banner, self.input_card, self.summary_card):
            self._stack.addWidget(w)
        self._stack.addStretch(1)
        self.insertion_line = QFrame(self.column)
        self.insertion_line.setObjectName("insertionLine")
        highlight = self.palette().color(QPalette.Highlight).name()
        self.insertion_line.setStyleSheet(f"QFrame {{ background: {highlight}; border-radius: 1px; }}")
        self.insertion_line.hide()
        self.setWidget(canvas)

        self.delete_action = self._action("Delete", [QKeySequence(Qt.Key_Delete), QKeySequence(Qt.Key_Backspace)],
                                          self._on_delete_action_triggered)
        self.duplicate_action = self._action("Duplicate", [QKeySequence("Ctrl+D")], self._on_duplicate_action_triggered)
        self.move_up_action = self._action("Move up", [QKeySequence("Ctrl+Up")], lambda: self._move_selected(-1))
        self.move_down_action = self._action("Move down", [QKeySequence("Ctrl+Down")], lambda: self._move_selected(1))
        self.setContextMenuPolicy(Qt.ActionsContextMenu)

        document.network_changed.connect(self._on_document_network_changed)
        document.settings_changed.connect(self._on_document_settings_changed)
        document.locked_changed.connect(self._on_document_locked_changed)
        QApplication.instance().focusChanged.connect(self._on_app_focus_changed)
        self._on_document_network_changed()
        self._on_document_locked_changed(document.locked)

    # --- selection ---------------------------------------------------------------------------

    @property
    def selected_index(self) -> int:
        return self._selected_index

    def select(self, index: int, reveal: bool = True) -> None:
        """Select the card at `index` (-1: none) and, with `reveal`, scroll it into view."""
        card = self.cards[index] if 0 <= index < len(self.cards) else None
        if card is not self._selected:
            if self._selected is not None:
                self._selected.set_selected(False)
            if card is not None:
                card.set_selected(True)
                if reveal:
                    QTimer.singleShot(0, self._reveal_selected)  # after the layout has placed a new card
            self._selected = card
        index = index if card is not None else -1
        changed = index != self._selected_index
        self._selected_index = index
        self._update_actions()
        if changed:
            self.layer_selected.emit(index)

    def _reveal_selected(self) -> None:
        if self._selected is not None:
            self.ensureWidgetVisible(self._selected, 0, 24)

    # --- drag and drop -----------------------------------------------------------------------

    def insertion_index_at(self, pos: QPoint | QPointF) -> int:
        """The layer index a drop at `pos` (viewport coordinates) inserts at: 0 .. len(layers)."""
        point = pos.toPoint() if isinstance(pos, QPointF) else pos
        y = self.column.mapFrom(self.viewport(), point).y()
        return next((i for i, card in enumerate(self.cards) if y < card.geometry().center().y()), len(self.cards))

    def dragEnterEvent(self, event) -> None:
        self.dragMoveEvent(event)

    def dragMoveEvent(self, event) -> None:
        if not self._accepts(event.mimeData()):
            self.insertion_line.hide()
            event.ignore()
            return
        pos = event.position().toPoint()
        self._autoscroll(pos.y())
        gap = self.insertion_index_at(pos)
        source = _card_source(event.mimeData())
        if source is not None and gap in (source, source + 1):
            self.insertion_line.hide()  # dropping here would leave the card where it is
        else:
            self._show_insertion_line(gap)
        event.setDropAction(Qt.MoveAction if source is not None else Qt.CopyAction)
        event.accept()

    def dragLeaveEvent(self, _event) -> None:
        self.insertion_line.hide()

    def dropEvent(self, event) -> None:
        self.insertion_line.hide()
        mime = event.mimeData()
        if not self._accepts(mime):
            event.ignore()
            return
        gap = self.insertion_index_at(event.position().toPoint())
        source = _card_source(mime)
        if source is not None:
            target = gap - 1 if gap > source else gap
            if 0 <= source < len(self.cards) and target != source:
                self.document.move_layer(source, target)
                self.select(target)
            event.setDropAction(Qt.MoveAction)
        else:
            self.document.insert_layer(gap, bytes(mime.data(LAYER_MIME)).decode("utf-8"))
            self.select(gap)
            event.setDropAction(Qt.CopyAction)
        event.accept()
        self.setFocus(Qt.OtherFocusReason)

    def _accepts(self, mime: QMimeData) -> bool:
        if self.document.locked:
            return False
        if mime.hasFormat(LAYER_MIME):
            return bytes(mime.data(LAYER_MIME)).decode("utf-8", "replace") in LAYERS
        return _card_source(mime) is not None

    def _show_insertion_line(self, gap: int) -> None:
        above = self.cards[gap - 1] if gap > 0 else self.input_card
        below = self.cards[gap] if gap < len(self.cards) else self.summary_card
        y = (above.geometry().bottom() + below.geometry().top() + 1) // 2
        self.insertion_line.setGeometry(0, y - 1, self.column.width(), 3)
        self.insertion_line.raise_()
        self.insertion_line.show()

    def _autoscroll(self, y: int) -> None:
        edge, bar = 32, self.verticalScrollBar()
        if y < edge:
            bar.setValue(bar.value() - bar.singleStep() * 2)
        elif y > self.viewport().height() - edge:
            bar.setValue(bar.value() + bar.singleStep() * 2)

    def _on_card_drag_started(self, index: int) -> None:
        if self.document.locked:
            return
        drag = QDrag(self)
        drag.setMimeData(card_mime_data(index))
        drag.setPixmap(drag_pixmap(f"{index}  {self.cards[index].type_name}", self.palette(),
                                   self.devicePixelRatioF()))
        drag.exec(Qt.MoveAction, Qt.MoveAction)

    # --- keyboard and card actions -----------------------------------------------------------

    def _action(self, text: str, keys: list[QKeySequence], slot) -> QAction:
        action = QAction(text, self)
        action.setShortcuts(keys)
        action.setShortcutContext(Qt.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _editable_selection(self) -> int | None:
        index = self._selected_index
        return index if 0 <= index < len(self.cards) and not self.document.locked else None

    def _on_delete_action_triggered(self) -> None:
        index = self._editable_selection()
        if index is not None:
            self.document.remove_layer(index)
            self.select(min(index, len(self.cards) - 1))
            self.setFocus(Qt.OtherFocusReason)  # the focused card's widgets may be gone

    def _on_duplicate_action_triggered(self) -> None:
        index = self._editable_selection()
        if index is not None:
            self.document.duplicate_layer(index)
            self.select(index + 1)

    def _move_selected(self, step: int) -> None:
        index = self._editable_selection()
        if index is not None and 0 <= index + step < len(self.cards):
            self.document.move_layer(index, index + step)
            self.select(index + step)

    def _update_actions(self) -> None:
        index, editable = self._selected_index, self._editable_selection() is not None
        self.delete_action.setEnabled(editable)
        self.duplicate_action.setEnabled(editable)
        self.move_up_action.setEnabled(editable and index > 0)
        self.move_down_action.setEnabled(editable and index < len(self.cards) - 1)

    def keyPressEvent(self, event) -> None:
        # Up / Down walk the selection; scrolling stays on the wheel, the scroll bar and Page keys.
        step = {Qt.Key_Up: -1, Qt.Key_Down: 1}.get(event.key())
        if step and self.cards and event.modifiers() == Qt.NoModifier:
            current = self._selected_index
            self.select(max(0, min(len(self.cards) - 1, current + step if current >= 0 else 0)))
            return
        if event.key() == Qt.Key_Escape and self._selected_index >= 0:
            self.select(-1)
            return
        super().keyPressEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # The wheel scrolls the editor unless the spin box or combo under it has focus: no value
        # changes by accident while scrolling past a card.
        if event.type() == QEvent.Wheel and not watched.hasFocus():
            event.ignore()
            return True
        return super().eventFilter(watched, event)

    # --- following the document --------------------------------------------------------------

    def _on_document_network_changed(self) -> None:
        layers, infos = self.document.layers, self.document.network_info.layers
        old, selected = self.cards, self._selected
        cards, created, leftover = self._reuse_cards([layer.type for layer in layers])
        if [id(c) for c in cards] != [id(c) for c in old]:
            for card in old:
                self._stack.removeWidget(card)
            for card in leftover:
                card.hide()
                card.deleteLater()
            for i, card in enumerate(cards):
                self._stack.insertWidget(self._stack.indexOf(self.input_card) + 1 + i, card)
        self.cards = cards
        for i, (card, layer) in enumerate(zip(cards, layers)):
            card.update_from(i, layer, infos[i] if i < len(infos) else None)
        self.input_card.update_from(self.document)
        self.summary_card.update_from(self.document)
        self._update_actions()
        if len(created) == 1 and not leftover and len(cards) == len(old) + 1:
            self.select(cards.index(created[0]))  # an added layer (palette, undo of a delete) is selected
        elif selected in cards:
            self.select(cards.index(selected))
        elif selected is not None:
            self.select(min(self._selected_index, len(cards) - 1))

    def _reuse_cards(self, types: list[str]) -> tuple[list[LayerCard], list[LayerCard], list[LayerCard]]:
        """Keep the cards of unchanged layers (their editors keep focus); a moved layer keeps its card."""
        old = self.cards
        result: list[LayerCard | None] = [None] * len(types)
        spare: dict[str, list[LayerCard]] = {}
        matcher = SequenceMatcher(None, [c.type_name for c in old], types, autojunk=False)
        for tag, i1, i2, j1, _j2 in matcher.get_opcodes():
            if tag == "equal":
                result[j1:j1 + i2 - i1] = old[i1:i2]
            else:
                for card in old[i1:i2]:
                    spare.setdefault(card.type_name, []).append(card)
        created = []
        for j, type_name in enumerate(types):
            if result[j] is None:
                result[j] = spare[type_name].pop(0) if spare.get(type_name) else self._new_card(type_name)
                if result[j] not in old:
                    created.append(result[j])
        return result, created, [c for cards in spare.values() for c in cards]

    def _new_card(self, type_name: str) -> LayerCard:
        card = LayerCard(type_name)
        card.set_locked(self.document.locked)
        card.pressed.connect(self._on_card_pressed)
        card.drag_started.connect(self._on_card_drag_started)
        card.param_changed.connect(self._on_card_param_changed)
        card.removal_requested.connect(self._on_card_removal_requested)
        for child in card.form.findChildren(QWidget):
            if isinstance(child, (QAbstractSpinBox, QComboBox)):
                child.setFocusPolicy(Qt.StrongFocus)
                child.installEventFilter(self)
        return card

    def _on_document_settings_changed(self) -> None:
        self.input_card.update_from(self.document)
        self.summary_card.update_from(self.document)

    def _on_document_locked_changed(self, locked: bool) -> None:
        self.banner.setVisible(locked)
        for card in self.cards:
            card.set_locked(locked)
        self._update_actions()

    def _on_card_pressed(self, index: int) -> None:
        self.select(index)
        self.setFocus(Qt.MouseFocusReason)

    def _on_card_param_changed(self, index: int, name: str, value) -> None:
        if not self.document.locked:
            self.document.set_layer_param(index, name, value)

    def _on_card_removal_requested(self, index: int) -> None:
        self.select(index)
        self._on_delete_action_triggered()

    def _on_app_focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        # Typing into a card's field selects that card, as a click on it would; no scrolling
        # under a mouse that is pressing a spin box arrow.
        card = new
        while card is not None and not isinstance(card, LayerCard):
            card = card.parentWidget()
        if card is not None and card in self.cards and card is not self._selected:
            self.select(self.cards.index(card), reveal=False)


def _card_source(mime: QMimeData) -> int | None:
    if not mime.hasFormat(CARD_MIME):
        return None
    try:
        return int(bytes(mime.data(CARD_MIME)).decode("ascii"))
    except ValueError:
        return None
