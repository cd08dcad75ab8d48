"""The views dock: a tab per view that applies to the open project, fed with the project and the newest weights."""

from __future__ import annotations

from PySide6.QtWidgets import QTabWidget, QWidget

from ...core.spec import Project
from . import View
from .analysis import NetworkAnalysisView
from .classification import DecisionBoundaryView
from .health import TrainingHealthView
from .images import IMAGE_VIEWS
from .insight import LayerOutputView
from .regression import RegressionView

VIEW_TYPES = (RegressionView, DecisionBoundaryView, *IMAGE_VIEWS, LayerOutputView, TrainingHealthView,
              NetworkAnalysisView)


class ViewsPanel(QTabWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("viewsPanel")
        self.setDocumentMode(True)
        self.views: list[View] = [cls() for cls in VIEW_TYPES]
        self._project: Project | None = None

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

    def set_weights(self, state: dict | None) -> None:
        """New weights for every applicable view (live during a run, or final, or loaded)."""
        for index in range(self.count()):
            self.widget(index).set_weights(state)

    def shown_views(self) -> list[View]:
        return [self.widget(i) for i in range(self.count())]
