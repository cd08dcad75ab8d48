"""The views dock: a tab per view that applies to the open project, fed with the project and the newest weights."""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QTabWidget, QWidget

from ...core.spec import Project
from ...core.view_jobs import ViewRequest, ViewResult
from . import View
from .analysis import NetworkAnalysisView
from .classification import DecisionBoundaryView
from .data import DataView
from .health import TrainingHealthView
from .images import IMAGE_VIEWS
from .insight import LayerOutputView
from .network import NetworkView
from .regression import RegressionView
from .surface import PredictionSurfaceView

# the Data view first where it applies (tables, images): what a project shows before any training
VIEW_TYPES = (DataView, RegressionView, PredictionSurfaceView, DecisionBoundaryView, NetworkView, *IMAGE_VIEWS,
              LayerOutputView, TrainingHealthView, NetworkAnalysisView)


class ViewsPanel(QTabWidget):
    """The views in tabs. During a run in a worker (`set_remote(True)`) the worker computes what the
    views on screen ask for (`live_requests`) and hands the results back (`show_results`)."""

    requests_changed = Signal()  # what the views on screen need changed: the tab, a view's setting, the project

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("viewsPanel")
        self.setDocumentMode(True)
        self.views: list[View] = [cls() for cls in VIEW_TYPES]
        self._project: Project | None = None
        self._quiet = False        # set_project says once that the requests changed, not once per view
        for view in self.views:
            view.requests_changed.connect(self._on_view_requests_changed)
        self.currentChanged.connect(self._on_self_current_changed)

    def view(self, cls: type) -> View:
        return next(v for v in self.views if isinstance(v, cls))

    @property
    def health(self) -> TrainingHealthView:
        return self.view(TrainingHealthView)

    @property
    def layer_output(self) -> LayerOutputView:
        return self.view(LayerOutputView)

    def set_project(self, project: Project) -> None:
        """Show the views that apply to this project, in catalogue order, keeping the current tab."""
        self._project = project
        self._quiet = True
        try:
            self._show_applicable(project)
        finally:
            self._quiet = False
        self.requests_changed.emit()

    def _show_applicable(self, project: Project) -> None:
        current = self.currentWidget()
        shown = [v for v in self.views if type(v).applies_to(project)]
        for index in reversed(range(self.count())):
            if self.widget(index) not in shown:
                self.removeTab(index)
        for position, view in enumerate(shown):
            if self.indexOf(view) != position:
                if self.indexOf(view) >= 0:
                    self.removeTab(self.indexOf(view))
                self.insertTab(position, view, view.title)
        for view in shown:
            view.set_project(project)
        if current in shown:
            self.setCurrentWidget(current)
        elif shown:   # the tab shown before does not apply: the project's first view, not a neighbour Qt picks
            self.setCurrentIndex(0)

    def set_weights(self, state: dict | None) -> None:
        """New weights for every applicable view (live during a run, or final, or loaded)."""
        for index in range(self.count()):
            self.widget(index).set_weights(state)

    def shown_views(self) -> list[View]:
        return [self.widget(i) for i in range(self.count())]

    # --- a run in the worker ------------------------------------------------------------------------

    def live_requests(self) -> list[ViewRequest]:
        """What the views on screen (the current tab, while the panel shows) need from the live model."""
        view = self.currentWidget()
        if view is None or not self.isVisible():
            return []
        return view.requests(False)

    def show_results(self, results: list[ViewResult]) -> None:
        """Hand each result to the view that asked for it (by its key); results for no view are dropped."""
        by_key = {view.objectName(): view for view in self.views}
        for result in results:
            view = by_key.get(result.view)
            if view is not None:
                view.show_result(result)

    def set_remote(self, remote: bool) -> None:
        """True while a run trains in the worker (the views wait for its results); False when it ended
        (they draw its final weights here, on all the data)."""
        for view in self.views:
            view.set_remote(remote)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.requests_changed.emit()   # hidden, it asked for nothing

    def hideEvent(self, event) -> None:
        super().hideEvent(event)
        self.requests_changed.emit()

    @Slot()
    def _on_view_requests_changed(self) -> None:
        if not self._quiet and self.sender() is self.currentWidget():
            self.requests_changed.emit()

    @Slot(int)
    def _on_self_current_changed(self, index: int) -> None:
        if not self._quiet:
            self.requests_changed.emit()
