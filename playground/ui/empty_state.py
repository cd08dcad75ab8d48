"""A welcoming empty state: words over an empty canvas that say what to do next, gone once there is
something to show (an empty plot with axes from 0 to 1 told a newcomer nothing)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QWidget

from . import theme


class EmptyState(QLabel):
    """Covers `canvas` (a plot, a picture) with centred rich text on `background` (axes from 0 to 1
    behind the words only cluttered them); the mouse passes through it."""

    def __init__(self, canvas: QWidget, title: str, hint: str, ink: QColor, background: QColor,
                 name: str = "emptyState"):
        super().__init__(canvas)
        self.setObjectName(name)
        self.setAlignment(Qt.AlignCenter)
        self.setWordWrap(True)
        self.setTextFormat(Qt.RichText)
        self.setAttribute(Qt.WA_TransparentForMouseEvents)
        self.setContentsMargins(16, 8, 16, 8)
        self.setStyleSheet(f"QLabel {{ color: {theme.rgba(ink, 200)}; background: {background.name()}; }}")
        self.title, self.hint = title, hint
        self.setText(f"<p style='font-size:large'><b>{title}</b></p><p>{hint}</p>")
        canvas.installEventFilter(self)
        self.setGeometry(canvas.rect())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Resize and watched is self.parentWidget():
            self.setGeometry(self.parentWidget().rect())
        return False

    def plain_text(self) -> str:
        return f"{self.title} {self.hint}"
