"""The base of views that draw the model's predictions: the dataset, a predictor, and coalesced redraws."""

from __future__ import annotations

import copy
import json
import sys
import time

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QLabel, QWidget

from .. import theme
from ...core import data as datasets
from ...core.errors import PlaygroundError
from ...core.evaluation import Predictor
from ...core.spec import Project
from ...core.view_jobs import Split, ViewRequest, ViewResult, compute, shown_split
from . import View
from .data_cache import shared_cache

REDRAW_MS = 200      # at most five redraws a second, however often weights arrive
SETTLE_MS = 800      # no new weights for this long: the run ended or paused, draw from all the data
LIVE_GAP_S = 1.0     # weights closer together than this come from a running training
IDLE_SHARE = 4       # wait 4x as long as the last live redraw took before the next: the GUI stays 80 % free
MAX_WAIT_MS = 2000   # ... but show a slow model's progress at least every two seconds
# Okabe-Ito and Tableau hues (as the training plots): apart for colour-blind eyes, on white and dark grey
CLASS_COLORS = theme.CLASSES

__all__ = ["CLASS_COLORS", "PredictionView", "Split", "dataset_info", "shown_split"]   # Split lives in core


def dataset_info(project: Project) -> datasets.DataInfo | None:
    """What the project's data is, or None when its data settings are broken (no view applies then)."""
    try:
        return datasets.dataset_info(project.data)
    except PlaygroundError:
        return None


class PredictionView(View):
    """A view that shows the dataset at once and the model's predictions once weights arrive.

    What a view needs from the model is its `requests(full)`: jobs of core.view_jobs, which
    `show_result` paints. On its own the view runs them on the weights it is given: they may arrive
    many times a second; a single-shot timer coalesces them into at most five redraws a second, and
    a hidden view waits until it is shown. While weights keep coming (a run) the requests may ask for
    a sample of the data (`full` False); when they stop, one more redraw uses all of it.

    Remote (`set_remote(True)`, a run trains in a worker process): the worker runs the requests on
    its live model and the results come to `show_result`; weights that arrive are only kept, for the
    local redraw on all the data once remote ends.
    """

    redrawn = Signal()  # the predictions of the newest weights are drawn (or cleared without weights)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.project: Project | None = None
        self.dataset: datasets.Dataset | None = None
        self.predictor: Predictor | None = None
        self._state: dict | None = None
        self._state_loaded = False       # the predictor holds self._state
        self.weights_serial = 0          # counts set_weights calls: tells results of older weights apart
        self._model_key = ""             # what the predictor was built from
        self._live = False
        self._remote = False             # results come from the worker: weights are kept, not evaluated
        self._full = True                # what the result being painted covers: all the data, or a sample
        self._weights_at = -1e9
        self._dirty = False
        self._reported: set[str] = set()   # failures of this view already sent to the error dialog
        self.bg, self.fg = theme.canvas_colors(self)

        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.setInterval(REDRAW_MS)
        self._redraw_timer.timeout.connect(self._on_redraw_timer_timeout)
        self._settle_timer = QTimer(self)
        self._settle_timer.setSingleShot(True)
        self._settle_timer.setInterval(SETTLE_MS)
        self._settle_timer.timeout.connect(self._on_settle_timer_timeout)

        self.message = QLabel()
        self.message.setObjectName("viewMessage")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.PlainText)
        self.message.setStyleSheet(f"{self.muted_style()} padding: 2px 4px;")
        self.message.hide()

    def muted_style(self) -> str:
        """A style sheet for secondary text: the text colour, faded (palette(mid) vanishes in some styles)."""
        return f"color: rgba({self.fg.red()}, {self.fg.green()}, {self.fg.blue()}, 165);"

    # --- the View protocol ------------------------------------------------------------------------

    def set_project(self, project: Project) -> None:
        project = copy.deepcopy(project)   # the editor goes on changing its own
        old, self.project = self.project, project
        if old is None or old.data.to_dict() != project.data.to_dict():
            try:
                self.dataset = shared_cache.get(project.data)
            except PlaygroundError as e:
                self.dataset = None
                self._show_message(f"The data cannot be shown: {e}")
            self.data_changed()
            self.requests_changed.emit()
        self._schedule()

    def set_weights(self, state: dict | None) -> None:
        if self._remote:   # the worker's results draw the run; these weights draw its end
            self._state, self._state_loaded = state, False
            self.weights_serial += 1
            self._dirty = True
            return
        now = time.monotonic()
        self._live = state is not None and now - self._weights_at < LIVE_GAP_S
        self._weights_at = now
        self._state, self._state_loaded = state, False
        self.weights_serial += 1
        if self._live:
            self._settle_timer.start()   # restarted by every arrival: fires once they stop
        self._schedule()

    # --- redrawing ----------------------------------------------------------------------------------

    def refresh(self, full: bool | None = None) -> None:
        """Draw the newest weights now (the timer does this at most five times a second).
        `full` None: all the data unless weights are still streaming in."""
        self._redraw_timer.stop()
        if self._remote:
            return        # the worker's results draw; the newest weights wait for the run's end
        self._dirty = False
        if full is None:
            full = not self._live
        if self.dataset is None or self.project is None:
            self.redrawn.emit()
            return
        start = time.perf_counter()
        try:
            predictor = self._current_predictor()
            if predictor is None:
                self.clear_predictions()
            else:
                self._full = full
                self.draw_predictions(predictor, full)
        except Exception as e:  # noqa: BLE001 — a bug in one view must not bring a dialog back on every redraw
            self._failed(e)
        took_ms = (time.perf_counter() - start) * 1000
        wait = min(MAX_WAIT_MS, round(IDLE_SHARE * took_ms)) if not full else 0
        self._redraw_timer.setInterval(max(REDRAW_MS, wait))
        self.redrawn.emit()

    def _current_predictor(self) -> Predictor | None:
        if self._state is None:
            self.predictor = None
            self._show_message(self.hint)
            return None
        info = self.dataset.info
        key = json.dumps([self.project.network.to_dict(), self.project.training.loss.to_dict(), info.n_classes],
                         sort_keys=True)
        try:
            if self.predictor is None or key != self._model_key:
                self.predictor = Predictor.from_project(self.project, self._state, info.n_classes)
                self._model_key = key
            elif not self._state_loaded:
                self.predictor.load_state(self._state)
        except PlaygroundError as e:
            self.predictor = None
            self._show_message(f"The model cannot be evaluated: {e}")
            return None
        self._state_loaded = True
        self.message.hide()
        return self.predictor

    def _failed(self, error: Exception) -> None:
        """Say in the view that it cannot draw, and report the traceback (the error dialog) once per
        distinct failure, not five times a second for the rest of the run."""
        what = f"{type(error).__name__}: {error}".splitlines()[0]
        self._failed_as(what, lambda: sys.excepthook(type(error), error, error.__traceback__))

    def _job_failed(self, result: ViewResult) -> None:
        """A job that raised (here or in the worker): the same words, and its traceback reported once."""
        error = ViewJobFailed(f"{result.error}\n\n{result.trace}".strip())
        self._failed_as(result.error, lambda: sys.excepthook(ViewJobFailed, error, None))

    def _failed_as(self, what: str, report) -> None:
        self._show_message(f"This view cannot draw these predictions ({what}). That is a bug in Playground; "
                           "the other views and the training are not affected.")
        if what not in self._reported:
            self._reported.add(what)
            report()

    def _schedule(self) -> None:
        self._dirty = True
        if self.isVisible() and not self._remote and not self._redraw_timer.isActive():
            self._redraw_timer.start()

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.show()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._dirty and not self._remote and not self._redraw_timer.isActive():
            self._redraw_timer.start(0)   # at once; refresh() sets the interval back

    @Slot()
    def _on_redraw_timer_timeout(self) -> None:
        self.refresh()

    @Slot()
    def _on_settle_timer_timeout(self) -> None:
        self._live = False
        self._schedule()

    # --- remote: results from the worker ----------------------------------------------------------

    def set_remote(self, remote: bool) -> None:
        """True while a run trains in the worker: draw its results only. False (the run ended): draw
        the newest weights here, on all the data."""
        if remote == self._remote:
            return
        self._remote = remote
        if remote:
            self._redraw_timer.stop()
            self._settle_timer.stop()
        else:
            self._live = False
            self._weights_at = -1e9
            self._schedule()

    @property
    def remote(self) -> bool:
        return self._remote

    def show_result(self, result: ViewResult) -> None:
        """Paint a result computed elsewhere (the worker's, of this view's requests with full False)."""
        if self.dataset is None or self.project is None:
            return
        if result.error:
            self._job_failed(result)
            self.redrawn.emit()
            return
        try:
            self._full = False
            self.message.hide()
            self.paint_result(result)
        except Exception as e:  # noqa: BLE001 — as in refresh: say so in the view, report once
            self._failed(e)
        self.redrawn.emit()

    # --- for subclasses -----------------------------------------------------------------------------

    hint = "Train the model or load weights to see its predictions."

    def data_changed(self) -> None:
        """Draw what needs no model (the data points); self.dataset may be None."""

    def requests(self, full: bool) -> list[ViewRequest]:
        """What this view needs from the model now (core.view_jobs), [] when nothing applies; `full`
        on all the data, else the sample a running training leaves time for."""
        return []

    def paint_result(self, result: ViewResult) -> None:
        """Every live view implements this (the abstract hook, not unfinished work): paint the data of
        one of its requests' results (result.error is handled before)."""
        raise NotImplementedError

    def draw_predictions(self, predictor: Predictor, full: bool) -> None:
        """The local path: run this view's requests on `predictor` with the jobs the worker runs, and
        paint each result."""
        for request in self.requests(full):
            result = compute(request, predictor, self.dataset)
            if result.error:
                self._job_failed(result)
                return
            self.paint_result(result)

    def clear_predictions(self) -> None:
        """Remove what the previous weights drew."""


class ViewJobFailed(RuntimeError):
    """A view job that raised, reported with the traceback it came with (maybe from the worker)."""
