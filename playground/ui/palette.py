"""The layer palette: the catalogue grouped by category, searchable, dragged onto the network editor."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, QRect, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QDrag,
    QFont,
    QFontMetrics,
    QKeyEvent,
    QPainter,
    QPalette,
    QPixmap,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.layers import by_category

LAYER_MIME = "application/x-playground-layer"  # payload: the layer type name, UTF-8
TYPE_ROLE = Qt.UserRole  # on entry items: the layer type name; categories hold None


def layer_mime_data(type_name: str) -> QMimeData:
    """What a palette drag carries; the editor reads it back with bytes(data(LAYER_MIME)).decode()."""
    mime = QMimeData()
    mime.setData(LAYER_MIME, type_name.encode("utf-8"))
    return mime


class _LayerTree(QTreeWidget):
    """The tree of categories and entries; only entries drag, and they drag as LAYER_MIME."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setHeaderHidden(True)
        self.setColumnCount(1)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragOnly)
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        self.setUniformRowHeights(True)
        self.setIndentation(12)
        self.setAnimated(False)

    def mimeTypes(self) -> list[str]:
        return [LAYER_MIME]

    def mimeData(self, items) -> QMimeData:
        names = [item.data(0, TYPE_ROLE) for item in items if item.data(0, TYPE_ROLE)]
        return layer_mime_data(names[0]) if names else QMimeData()

    def supportedDropActions(self) -> Qt.DropActions:
        return Qt.CopyAction

    def startDrag(self, actions) -> None:
        # Our own QDrag rather than the view's: a labelled chip reads better than a row snapshot.
        items = [item for item in self.selectedItems() if item.data(0, TYPE_ROLE)]
        if not items:
            return
        name = items[0].data(0, TYPE_ROLE)
        drag = QDrag(self)
        drag.setMimeData(self.mimeData(items))
        pixmap = drag_pixmap(name, self.palette(), self.devicePixelRatioF())
        drag.setPixmap(pixmap)
        drag.setHotSpot(QPoint(12, int(pixmap.height() / pixmap.devicePixelRatio() / 2)))
        drag.exec(Qt.CopyAction, Qt.CopyAction)


class LayerPalette(QWidget):
    """Every layer type under its category; drag one onto the editor, or double-click to append it."""

    layer_activated = Signal(str)  # layer type name

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("layerPalette")
        self._editable = True

        self.search = QLineEdit()
        self.search.setObjectName("paletteSearch")
        self.search.setPlaceholderText("Search layers")
        self.search.setClearButtonEnabled(True)
        self.tree = _LayerTree()
        self.tree.setObjectName("paletteTree")
        self.categories: dict[str, QTreeWidgetItem] = {}
        self.entries: dict[str, QTreeWidgetItem] = {}
        self._fill()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)

        self.search.textChanged.connect(self._on_search_text_changed)
        self.search.returnPressed.connect(self._on_search_return_pressed)
        self.tree.itemActivated.connect(self._on_tree_item_activated)

    def set_enabled_for_editing(self, enabled: bool) -> None:
        """While training, browsing and search still work; drags and activation do not."""
        self._editable = enabled
        self.tree.setDragEnabled(enabled)

    def visible_entries(self) -> list[str]:
        """Type names the search leaves visible, in palette order."""
        return [name for name, item in self.entries.items() if not item.isHidden() and not item.parent().isHidden()]

    def _fill(self) -> None:
        bold = QFont(self.tree.font())
        bold.setBold(True)
        for category, layer_types in by_category().items():
            group = QTreeWidgetItem(self.tree, [category])
            group.setFont(0, bold)
            group.setFlags(Qt.ItemIsEnabled)  # a heading: neither selected nor dragged
            group.setData(0, TYPE_ROLE, None)
            self.categories[category] = group
            for layer_type in layer_types:
                item = QTreeWidgetItem(group, [layer_type.name])
                item.setToolTip(0, layer_type.doc)
                item.setStatusTip(0, layer_type.doc)
                item.setData(0, TYPE_ROLE, layer_type.name)
                item.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable | Qt.ItemIsDragEnabled)
                self.entries[layer_type.name] = item
            group.setExpanded(True)
            group.setHidden(not layer_types)

    def _on_search_text_changed(self, text: str) -> None:
        needle = text.strip().casefold()
        docs = {name: item.toolTip(0).casefold() for name, item in self.entries.items()}
        for group in self.categories.values():
            shown = 0
            for i in range(group.childCount()):
                item = group.child(i)
                name = item.data(0, TYPE_ROLE)
                match = not needle or needle in name.casefold() or needle in docs[name]
                item.setHidden(not match)
                shown += match
            group.setHidden(shown == 0)
            if shown:
                group.setExpanded(True)  # a match inside a collapsed group would be invisible

    def _on_search_return_pressed(self) -> None:
        # Type "conv", press Enter: the first match is selected, ready for Enter again or a drag.
        visible = self.visible_entries()
        if visible:
            item = self.entries[visible[0]]
            self.tree.setCurrentItem(item)
            self.tree.setFocus(Qt.ShortcutFocusReason)

    def _on_tree_item_activated(self, item: QTreeWidgetItem, _column: int) -> None:
        name = item.data(0, TYPE_ROLE)
        if name and self._editable:
            self.layer_activated.emit(name)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key_Down and self.search.hasFocus():
            self._on_search_return_pressed()
            return
        super().keyPressEvent(event)


def drag_pixmap(text: str, palette: QPalette, ratio: float) -> QPixmap:
    """A rounded label in the highlight colour: what the pointer carries during a drag."""
    font = QFont()
    font.setBold(True)
    metrics = QFontMetrics(font)
    size = QRect(0, 0, metrics.horizontalAdvance(text) + 24, metrics.height() + 10)
    pixmap = QPixmap(size.size() * ratio)
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.Antialiasing)
    fill = QColor(palette.color(QPalette.Highlight))
    fill.setAlpha(230)
    painter.setPen(Qt.NoPen)
    painter.setBrush(fill)
    painter.drawRoundedRect(size.adjusted(0, 0, -1, -1), 6, 6)
    painter.setPen(palette.color(QPalette.HighlightedText))
    painter.setFont(font)
    painter.drawText(size, Qt.AlignCenter, text)
    painter.end()
    return pixmap
