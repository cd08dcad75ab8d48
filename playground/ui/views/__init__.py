"""What the model does: views that redraw from the project, its data and the newest weights."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from ...core.spec import Project


class View(QWidget):
    """The protocol every view follows; the main window puts applicable views in tabs.

    A view never trains and never touches the trainer: it receives a copy of the project
    when settings change and a CPU copy of the weights (a state_dict) when they change —
    a few times a second during a run, once after it, or when weights are loaded.
    """

    title = "View"

    @staticmethod
    def applies_to(project: Project) -> bool:
        return True

    def set_project(self, project: Project) -> None:
        """Every view implements this: the settings changed (dataset, network)."""
        raise NotImplementedError

    def set_weights(self, state: dict | None) -> None:
        """Every view implements this: newer weights, or None when none fit."""
        raise NotImplementedError
