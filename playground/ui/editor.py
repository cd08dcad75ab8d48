"""The network editor: input card, one card per layer, summary card; drop, reorder, delete and duplicate."""

from __future__ import annotations

from difflib import SequenceMatcher

from PySide6.QtCore import (
    QMimeData,
    QPoint,
    QPointF,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QDrag, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from . import theme
from ..core.layers import LAYERS
from .cards import (
    CARD_MIME,
    COLUMN_WIDTH,
    LOCKED_TEXT,
    InputCard,
    LayerCard,
    SummaryCard,
    card_mime_data,
    make_label,
)
from .document import ProjectDocument
from .focus import tab_stops
from .palette import LAYER_MIME, drag_pixmap


EMPTY_TEXT = ("No layers yet. Drag one here from the Layers palette, or press Ctrl+F, type a name and "
              "press Enter twice.\nHelp > Examples opens complete networks to start from.")


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
        self.banner = make_label(LOCKED_TEXT, name="lockedBanner")
        self.banner.setAlignment(Qt.AlignCenter)
        self.banner.setStyleSheet(theme.BANNER_STYLE)
        self.banner.hide()
        self.input_card = InputCard()
        self.summary_card = SummaryCard()
        self.empty_hint = make_label(EMPTY_TEXT, muted=True, name="emptyHint")
        self.empty_hint.setWordWrap(True)
        self.empty_hint.setAlignment(Qt.AlignCenter)
        self.empty_hint.setContentsMargins(12, 18, 12, 18)
        for w in (self.banner, self.input_card, self.empty_hint, self.summary_card):
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

    def focusInEvent(self, event) -> None:
        # Tabbed into with nothing selected: select the first card, so the focus is somewhere visible
        super().focusInEvent(event)
        if event.reason() in (Qt.TabFocusReason, Qt.BacktabFocusReason, Qt.ShortcutFocusReason) \
                and self._selected_index < 0 and self.cards:
            self.select(0)

    def keyPressEvent(self, event) -> None:
        # Up / Down walk the selection; scrolling stays on the wheel, the scroll bar and Page keys.
        step = {Qt.Key_Up: -1, Qt.Key_Down: 1}.get(event.key())
        if step and self.cards and event.modifiers() == Qt.NoModifier:
            current = self._selected_index
            self.select(max(0, min(len(self.cards) - 1, current + step if current >= 0 else 0)))
            return
        if event.key() in (Qt.Key_Return, Qt.Key_Enter) and self._selected is not None:
            fields = tab_stops(self._selected.form)   # Enter: into the selected card's first field
            if fields:
                fields[0].setFocus(Qt.TabFocusReason)
                return
        if event.key() == Qt.Key_Escape and self._selected_index >= 0:
            self.select(-1)
            return
        super().keyPressEvent(event)

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
        self.empty_hint.setVisible(not cards)
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
        return card   # the wheel over its fields scrolls the editor: ui/wheel.py

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
