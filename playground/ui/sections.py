"""A section that folds away under its header, and the memory of which sections a person folded.

At 1024x700 the training panel showed only its Data section; every other setting was a scroll away.
Folded, a section keeps one line: its title and what it is set to ("Loss · CrossEntropyLoss").
"""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import QSizePolicy, QToolButton, QVBoxLayout, QWidget

SETTINGS_GROUP = "trainingPanel/expanded"   # QSettings: one bool per section's key


class CollapsibleSection(QWidget):
    """A header button (arrow, bold title, and while folded the summary) over a body of settings."""

    expanded_changed = Signal(bool)   # True: unfolded

    def __init__(self, title: str, key: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.key, self.title = key, title   # key: the section's stable name in the settings
        self._summary = ""
        self._expanded = True
        # not a checkable button: Fusion paints a checked one sunken, and only the open sections looked pressed
        self.header = QToolButton(objectName=f"{key}SectionHeader", autoRaise=True)
        self.header.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        self.header.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Fixed)   # a long summary never widens the dock
        font = self.header.font()
        font.setBold(True)
        self.header.setFont(font)
        self.header.clicked.connect(lambda: self.set_expanded(not self._expanded))
        self.body = QWidget(objectName=f"{key}SectionBody")
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.setContentsMargins(8, 0, 4, 6)
        self.body_layout.setSpacing(6)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.header)
        layout.addWidget(self.body)
        self._show_header()

    @property
    def expanded(self) -> bool:
        return self._expanded

    def set_expanded(self, expanded: bool) -> None:
        if expanded == self._expanded:
            return
        self._expanded = expanded
        self.body.setVisible(expanded)
        self._show_header()
        self.expanded_changed.emit(expanded)

    def set_summary(self, summary: str) -> None:
        """What the section is set to, shown beside the title while it is folded."""
        self._summary = summary
        self._show_header()

    def _show_header(self) -> None:
        expanded = self.expanded
        self.header.setArrowType(Qt.DownArrow if expanded else Qt.RightArrow)
        folded = f"{self.title}  ·  {self._summary}" if self._summary and not expanded else self.title
        self.header.setText(folded)
        self.header.setToolTip(f"Hide the {self.title.lower()} settings" if expanded
                               else f"Show the {self.title.lower()} settings ({self._summary})"
                               if self._summary else f"Show the {self.title.lower()} settings")


def remember(sections: list[CollapsibleSection], settings: QSettings, defaults: dict[str, bool]) -> None:
    """Fold each section as the person left it (else as `defaults` says) and keep what they do next."""
    for section in sections:
        stored = settings.value(f"{SETTINGS_GROUP}/{section.key}")
        expanded = defaults.get(section.key, True) if stored is None else str(stored).lower() in ("true", "1")
        section.set_expanded(expanded)
        section.expanded_changed.connect(
            lambda on, key=section.key: settings.setValue(f"{SETTINGS_GROUP}/{key}", on))
