"""What the model does: views that redraw from the project, its data and the newest weights."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from ...core.spec import Project
from ...core.view_jobs import ViewRequest, ViewResult


class View(QWidget):
    """The protocol every view follows; the main window puts applicable views in tabs.

    A view never trains and never touches the trainer: it receives a copy of the project
    when settings change and a CPU copy of the weights (a state_dict) when they change —
    a few times a second during a run, once after it, or when weights are loaded.

    What a view needs from a live model it asks for as `requests` (core.view_jobs); while a run
    trains in the worker (`set_remote(True)`) the worker computes them and `show_result` paints.
    The defaults here ask for nothing: the health view draws the run's events and the analysis
    view the shapes, both cheap and computed here.
    """

    title = "View"

    requests_changed = Signal()  # what the view needs from a live model changed (its data, a setting)

    @staticmethod
    def applies_to(project: Project) -> bool:
        return True

    def set_project(self, project: Project) -> None:
        """Every view implements this: the settings changed (dataset, network)."""
        raise NotImplementedError

    def set_weights(self, state: dict | None) -> None:
        """Every view implements this: newer weights, or None when none fit."""
        raise NotImplementedError

    def requests(self, full: bool) -> list[ViewRequest]:
        """What this view needs from a live model now; [] for none."""
        return []

    def show_result(self, result: ViewResult) -> None:
        """Paint the result of one of this view's requests (none here)."""

    def set_remote(self, remote: bool) -> None:
        """Whether a run in the worker computes what this view shows (nothing here)."""
