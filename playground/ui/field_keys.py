"""A focused text field keeps its keys: a panel's own shortcut never takes a key from a field inside it.

The editor's card actions (Duplicate on Ctrl+D, Delete, Move up/down) reach the editor and its
children, the cards' fields included: Ctrl+D typed into a card's kernel_size duplicated the layer
(on X11 Ctrl+D is the field's delete-forward). Qt asks the focused widget first with a
ShortcutOverride event; a field that accepts it gets the key as a key press instead. Window-wide
commands (Save, Start, Find layer) still work from a field: only shortcuts scoped to a widget and
its children, which act on what that widget holds, yield to the field.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QLineEdit, QPlainTextEdit, QTextEdit, QWidget

TEXT_FIELDS = (QLineEdit, QAbstractSpinBox, QTextEdit, QPlainTextEdit)   # an editable combo's is a QLineEdit
LOCAL = (Qt.WidgetShortcut, Qt.WidgetWithChildrenShortcut)


class FieldKeyGuard(QObject):
    """Installed on the application: answers ShortcutOverride for a focused text field."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (event.type() == QEvent.ShortcutOverride and isinstance(watched, TEXT_FIELDS)
                and _is_editable(watched) and local_action_for(watched, event) is not None):
            event.accept()   # the field gets it as a key press
        return False


def _is_editable(field: QWidget) -> bool:
    read_only = getattr(field, "isReadOnly", None)
    return not (read_only() if read_only else False)


def local_action_for(field: QWidget, event: QKeyEvent):
    """The action of one of `field`'s ancestors, scoped to that ancestor, that `event` would trigger."""
    key = QKeySequence(event.keyCombination())
    parent = field.parentWidget()
    while parent is not None:
        for action in parent.actions():
            if action.isEnabled() and action.shortcutContext() in LOCAL and any(
                    k.matches(key) == QKeySequence.ExactMatch for k in action.shortcuts()):
                return action
        if parent.isWindow():
            break
        parent = parent.parentWidget()
    return None


def install_field_key_guard(app: QApplication | None = None) -> FieldKeyGuard:
    """Once per application; later calls return the same guard."""
    app = app or QApplication.instance()
    guard = app.findChild(FieldKeyGuard)
    if guard is None:
        guard = FieldKeyGuard(app)
        app.installEventFilter(guard)
    return guard
