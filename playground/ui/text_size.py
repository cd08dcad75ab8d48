"""View > Larger text / Smaller text / Reset text size: one scale for the whole application's type,
kept in QSettings so the next launch reads at the size the person chose."""

from __future__ import annotations

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication

SETTING = "view/textScale"
SCALES = (0.8, 0.9, 1.0, 1.1, 1.25, 1.4, 1.6, 1.8, 2.0)   # steps a person can tell apart
_BASE = "playgroundBaseFont"   # the application's property: its font before any scaling


class TextSize(QObject):
    """Scales QApplication's font from the font it started with (never compounding scale on scale)."""

    changed = Signal(float)   # the scale now applied

    def __init__(self, settings: QSettings, parent: QObject | None = None):
        super().__init__(parent)
        self.settings = settings
        app = QApplication.instance()
        if not isinstance(app.property(_BASE), QFont):
            app.setProperty(_BASE, QFont(app.font()))
        try:
            stored = float(settings.value(SETTING, 1.0))
        except (TypeError, ValueError):
            stored = 1.0
        self.scale = min(SCALES, key=lambda s: abs(s - stored))
        self._apply()

    @staticmethod
    def base_font() -> QFont:
        return QFont(QApplication.instance().property(_BASE))

    def larger(self) -> None:
        self.set_scale(next((s for s in SCALES if s > self.scale), SCALES[-1]))

    def smaller(self) -> None:
        self.set_scale(next((s for s in reversed(SCALES) if s < self.scale), SCALES[0]))

    def reset(self) -> None:
        self.set_scale(1.0)

    def set_scale(self, scale: float) -> None:
        if scale == self.scale:
            return
        self.scale = scale
        self.settings.setValue(SETTING, scale)
        self._apply()
        self.changed.emit(scale)

    def _apply(self) -> None:
        font = self.base_font()
        if font.pointSizeF() > 0:
            font.setPointSizeF(font.pointSizeF() * self.scale)
        else:   # a font sized in pixels
            font.setPixelSize(max(1, round(font.pixelSize() * self.scale)))
        if font != QApplication.font():   # every window built applies it: no relayout of all for nothing
            QApplication.setFont(font)
