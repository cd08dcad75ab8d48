"""The code panel: the network as `nn.Sequential(...)` source, editable; Apply turns source into cards."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QColor, QFontDatabase, QTextCursor, QTextFormat
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from ..core.code_import import CodeImportError, import_code, read_source
from ..core.codegen import panel_source
from ..core.errors import PlaygroundError
from .document import MAX_EDITOR_LAYERS, ProjectDocument

MAX_SHOWN_PROBLEMS = 6
_ERROR_STYLE = "color: #c62828;"
_ERROR_LINE = QColor(255, 205, 210)


class CodePanel(QWidget):
    applied = Signal()  # the source became the document's layers (one undoable edit)

    def __init__(self, document: ProjectDocument, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("codePanel")
        self.document = document
        self._edited = False     # the text holds the user's edits, not the cards' code
        self._setting = False    # the panel itself is changing the text

        self.edit = QPlainTextEdit(objectName="codeEdit")
        self.edit.setFont(QFontDatabase.systemFont(QFontDatabase.FixedFont))
        self.edit.setLineWrapMode(QPlainTextEdit.NoWrap)
        self.edit.setTabChangesFocus(False)
        self.edit.setToolTip("The network as PyTorch code. Edit it or paste nn.Sequential(...) source "
                             "(torch.nn layers with literal arguments) and press Apply; nothing is executed.")
        self.status = QLabel(objectName="codeStatus", wordWrap=True)
        self.apply_button = QPushButton("&Apply", objectName="applyCodeButton",
                                        toolTip="Turn the code into cards (Ctrl+Return; undo with Ctrl+Z)")
        self.revert_button = QPushButton("Re&vert", objectName="revertCodeButton",
                                         toolTip="Discard the edits and show the cards' code")
        self.open_button = QPushButton("&Open…", objectName="openCodeButton",
                                       toolTip="Load nn.Sequential(...) source from a .py file")

        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        for button in (self.apply_button, self.revert_button, self.open_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.status)
        layout.addLayout(buttons)

        self.edit.textChanged.connect(self._on_edit_text_changed)
        self.apply_button.clicked.connect(self.apply)
        self.revert_button.clicked.connect(self.revert)
        self.open_button.clicked.connect(self.open)
        self.edit.installEventFilter(self)  # Ctrl+Return applies, wherever the cursor is
        document.network_changed.connect(self._on_document_network_changed)
        document.locked_changed.connect(self._update_buttons)
        self.revert()

    # --- reading the cards ---------------------------------------------------------------------

    @property
    def source(self) -> str:
        return self.edit.toPlainText()

    @property
    def edited(self) -> bool:
        return self._edited

    def revert(self) -> None:
        """Show the cards' code, dropping unapplied edits."""
        self._edited = False
        self._show_cards()

    def _show_cards(self, keep_text: bool = False) -> None:
        info = self.document.network_info
        if info.ok:
            self._set_text(panel_source(self.document.network))
            self._say("")
        elif keep_text:
            # the code just applied stays beside the reason, so it can be fixed where it was written
            self._say(f"Applied, but the cards do not fit: {info.error}", error=True)
        else:
            self._set_text(f"# The cards do not fit yet:\n# {info.error}\n")
            self._say("Fix the red card to see the network as code.")
        self._mark_lines([])
        self._update_buttons()

    def _on_document_network_changed(self) -> None:
        if self._edited:
            self._say("The cards changed since you edited this code: Apply replaces them with it, "
                      "Revert shows theirs.")
        else:
            self._show_cards()

    # --- turning code into cards -----------------------------------------------------------------

    def apply(self) -> bool:
        """Parse the source and replace the layers with it (one undo step); errors stay in the panel."""
        if self.document.locked:
            self._say("A run is training this network — stop it to apply code.", error=True)
            return False
        try:
            result = import_code(self.source, self.document.network.input_shape, MAX_EDITOR_LAYERS)
            spec = result.network
            _keep_names(spec.layers, self.document.layers)
        except CodeImportError as e:
            lines = str(e).splitlines()
            if len(lines) > MAX_SHOWN_PROBLEMS:  # the rest are tinted; the editor keeps its room
                lines = lines[:MAX_SHOWN_PROBLEMS] + [f"… and {len(lines) - MAX_SHOWN_PROBLEMS} more (tinted)"]
            self._say("\n".join(lines), error=True)
            self._mark_lines([line for line, _ in e.problems])
            return False
        self.document.replace_layers(spec.layers, "Apply code")  # still "edited": the text stays for now
        self._edited = False
        self._show_cards(keep_text=True)
        if self.document.network_info.ok:
            notes = "".join(f"\nline {line}: {note}" for line, note in result.notes)
            origin = "" if result.origin == "Sequential" else f" from class {result.origin}"
            self._say(f"Applied: {len(spec.layers)} layer{'s' if len(spec.layers) != 1 else ''}{origin}.{notes}")
        self.applied.emit()
        return True

    def open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open network code", str(Path.home()),
                                              "Python files (*.py);;All files (*)")
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path) -> bool:
        """Load source from a file and apply it; a file that is not source says why."""
        path = Path(path)
        try:
            text = read_source(path)   # a FIFO, /dev/zero or a folder is refused before it is opened
        except PlaygroundError as e:
            self._say(f"{e}.", error=True)
            return False
        self._set_text(text)
        self._edited = True
        return self.apply()

    # --- internals -------------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (watched is self.edit and event.type() == QEvent.KeyPress
                and event.key() in (Qt.Key_Return, Qt.Key_Enter) and event.modifiers() & Qt.ControlModifier):
            self.apply()
            return True
        return super().eventFilter(watched, event)

    def _set_text(self, text: str) -> None:
        if text == self.source:
            return
        self._setting = True
        try:
            self.edit.setPlainText(text)
        finally:
            self._setting = False

    def _on_edit_text_changed(self) -> None:
        if not self._setting:
            self._edited = True
            self._mark_lines([])
            self._update_buttons()

    def _update_buttons(self, *_) -> None:
        self.apply_button.setEnabled(not self.document.locked)
        self.revert_button.setEnabled(self._edited)

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(_ERROR_STYLE if error else "")
        self.status.setVisible(bool(text))

    def _mark_lines(self, lines: list[int]) -> None:
        """Tint the lines an error names, so the eye finds them."""
        selections = []
        for line in sorted(set(lines)):
            block = self.edit.document().findBlockByNumber(line - 1)
            if not block.isValid():
                continue
            selection = QTextEdit.ExtraSelection()
            selection.format.setBackground(_ERROR_LINE)
            selection.format.setProperty(QTextFormat.FullWidthSelection, True)
            selection.cursor = QTextCursor(block)
            selections.append(selection)
        self.edit.setExtraSelections(selections)

    @property
    def marked_lines(self) -> list[int]:
        return [s.cursor.blockNumber() + 1 for s in self.edit.extraSelections()]


def _keep_names(new: list, old: list) -> None:
    """The dock shows imported cards as a plain nn.Sequential, which has no names; applying an edit of
    it keeps the names the cards came with (conv1, features.0) while the layer types stay in place."""
    if any(layer.name for layer in new) or not any(layer.name for layer in old):
        return
    if [layer.type for layer in new] == [layer.type for layer in old]:
        for layer, before in zip(new, old):
            layer.name = before.name
