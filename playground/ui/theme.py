"""The look in one place: colours, the plot canvases' background and ink, the series hues, the state
colours (error, fit, warning), the type sizes. Panels, views and plots take them from here.

Hues: Okabe-Ito, then Tableau: told apart by colour-blind eyes, readable on white and on dark grey.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QWidget

SERIES = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#8C6D31", "#7F7F7F")
CLASSES = SERIES + ("#F0E442", "#000000")      # one hue per class, for up to ten classes
CURVE = "#D55E00"                              # a model's prediction drawn over its data
MARK = "#FFD700"                               # the best epoch's marker

ERROR, OK, WARNING = QColor("#d1242f"), QColor("#1a7f37"), QColor("#9a6700")   # on the window's colour
ERROR_ON_DARK = QColor("#ff6b6b")
WRONG = QColor("#D32F2F")                      # a misclassified sample's frame
RIGHT_CELL, WRONG_CELL = QColor("#0072B2"), QColor("#D55E00")   # a confusion matrix's diagonal, its mistakes
BAR, TOP_BAR = QColor("#9AA5B1"), QColor(SERIES[0])            # class probabilities, the top one

CANVAS = {False: (QColor("#ffffff"), QColor("#303030")),       # light: background, ink
          True: (QColor("#1e1f22"), QColor("#c8c8c8"))}        # dark

ERROR_STYLE = f"color: {ERROR.name()};"        # a style sheet's error text
BANNER_STYLE = "QLabel { background: rgba(154, 103, 0, 0.12); border-radius: 4px; padding: 4px; }"
CHIP_STYLE = ("QLabel { background: palette(alternate-base); border: 1px solid palette(mid);"
              " border-radius: 8px; padding: 0px 6px; }")   # a shape chip on a card
TITLE_SCALE = 1.15                             # headings of the empty states


def is_dark(widget: QWidget) -> bool:
    return widget.palette().color(QPalette.Window).lightness() < 128


def canvas_colors(widget: QWidget) -> tuple[QColor, QColor]:
    """(background, ink) of a plot or picture inside `widget`, following a light or dark window."""
    background, ink = CANVAS[is_dark(widget)]
    return QColor(background), QColor(ink)


def error_color(widget: QWidget) -> QColor:
    return QColor(ERROR_ON_DARK if is_dark(widget) else ERROR)


def title_font(widget: QWidget) -> QFont:
    font = QFont(widget.font())
    font.setPointSizeF(font.pointSizeF() * TITLE_SCALE)
    font.setBold(True)
    return font


def with_alpha(color: QColor, alpha: int) -> QColor:
    c = QColor(color)
    c.setAlpha(max(0, min(255, alpha)))
    return c


def rgba(color: QColor, alpha: int) -> str:
    """A style-sheet colour."""
    return f"rgba({color.red()}, {color.green()}, {color.blue()}, {alpha})"
