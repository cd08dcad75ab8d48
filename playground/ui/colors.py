"""Colour helpers shared by the plots and views."""

from __future__ import annotations

from PySide6.QtGui import QColor


def with_alpha(color: QColor, alpha: int) -> QColor:
    c = QColor(color)
    c.setAlpha(max(0, min(255, alpha)))
    return c


def rgba(color: QColor, alpha: int) -> str:
    """A style-sheet colour."""
    return f"rgba({color.red()}, {color.green()}, {color.blue()}, {alpha})"
