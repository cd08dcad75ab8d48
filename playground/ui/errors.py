"""A dialog for every uncaught exception, so a bug shows its traceback instead of killing the app."""

from __future__ import annotations

import sys
import threading
import traceback

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


class ErrorDialog(QDialog):
    def __init__(self, message: str, details: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Playground — unexpected error")
        self.setObjectName("errorDialog")
        self.resize(640, 400)
        layout = QVBoxLayout(self)
        label = QLabel(
            f"<b>Something went wrong:</b> {_escape(message)}<br>"
            "Your project is still open; the details below help a developer fix it."
        )
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.details = QPlainTextEdit(details)
        self.details.setReadOnly(True)
        self.details.setObjectName("tracebackText")
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        copy = QPushButton("Copy details")
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(details))
        buttons.addButton(copy, QDialogButtonBox.ActionRole)
        buttons.rejected.connect(self.reject)
        layout.addWidget(label)
        layout.addWidget(self.details)
        layout.addWidget(buttons)


class ExceptionHook(QObject):
    """Replaces sys.excepthook (and threading.excepthook); shows dialogs in the GUI thread."""

    caught = Signal(str, str)  # message, formatted traceback

    def __init__(self, parent_widget_getter=lambda: None):
        super().__init__()
        self._parent = parent_widget_getter
        self._showing = False
        self.caught.connect(self._on_self_caught, Qt.QueuedConnection)

    def install(self) -> None:
        self._previous = (sys.excepthook, threading.excepthook)
        sys.excepthook = self._hook
        threading.excepthook = lambda args: self._hook(args.exc_type, args.exc_value, args.exc_traceback)

    def uninstall(self) -> None:
        sys.excepthook, threading.excepthook = self._previous

    def _hook(self, exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        sys.stderr.write(details)
        self.caught.emit(f"{exc_type.__name__}: {exc}", details)

    def _on_self_caught(self, message: str, details: str) -> None:
        if self._showing:  # one dialog at a time: a failing paint event would stack hundreds
            return
        self._showing = True
        try:
            ErrorDialog(message, details, self._parent()).exec()
        finally:
            self._showing = False


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
