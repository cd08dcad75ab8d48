"""Runs of the open project: start, pause, stop, a queue for comparisons, and the weights they leave."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QMessageBox

from ..core.checkpoint import Checkpoint
from ..core.live import live_changes
from ..core.memory import release_freed_memory
from ..core.resume import carry_over, resume_arguments
from ..core.spec import ComponentSpec, NetworkSpec, Project
from .runs import settings_summary
from .worker import TrainingRun

RELEASE_DELAY_MS = 500   # after a run: once its objects are gone, give their memory back
HEALTH_INTERVAL = 0.5  # seconds between gradient/activation health measurements of one step

# The seed tutorial's comparison: one network, one learning rate, four optimizers.
OPTIMIZER_COMPARISON = (
    ("SGD", ComponentSpec("SGD", {"lr": 0.01})),
    ("Momentum", ComponentSpec("SGD", {"lr": 0.01, "momentum": 0.8})),
    ("RMSprop", ComponentSpec("RMSprop", {"lr": 0.01, "alpha": 0.9})),
    ("Adam", ComponentSpec("Adam", {"lr": 0.01, "betas": [0.9, 0.99]})),
)


@dataclass
class TrainedWeights:
    """Weights the app holds between runs: everything the run that left them leaves (core.resume),
    or bare weights loaded into the open project's network."""

    state: Checkpoint   # its project: the settings of the run that left it
    # the files these weights were written to; shared by reference with copies (dataclasses.replace),
    # so exporting the editor's copy of a run's weights counts for the run too
    saved_to: list = field(default_factory=list)

    @classmethod
    def bare(cls, project: Project, model: dict) -> "TrainedWeights":
        return cls(Checkpoint(project=copy.deepcopy(project), model=model))

    @property
    def network(self) -> NetworkSpec:
        return self.state.project.network

    @property
    def model(self) -> dict:
        return self.state.model

    @property
    def epoch(self) -> int:
        return self.state.epoch

    @property
    def history(self) -> dict:
        return self.state.history

    def fits(self, network: NetworkSpec) -> bool:
        return self.network == network


class TrainingSession(QObject):
    run_started = Signal(int)         # run id
    run_finished = Signal(int, object)  # run id, EndEvent
    weights_changed = Signal()        # `weights` now holds other weights (or None)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.run: TrainingRun | None = None
        self.run_id = 0
        self.weights: TrainedWeights | None = None
        self._queue: list[tuple] = []   # (name, project) or (name, project, sweep): run one after another
        self._names: dict[int, str] = {}
        self.race = None   # ui.race.Race while an A/B race trains: two runs, kept out of `run`'s paths

    @property
    def racing(self) -> bool:
        return self.race is not None and self.race.active

    @property
    def busy(self) -> bool:
        """A run or a race trains: nothing else starts."""
        return self.run is not None or self.racing

    # --- starting --------------------------------------------------------------------------

    def start(self, advance: str | None = None) -> None:
        """Train the open project; `advance` ("step" | "epoch"): only that much, then pause."""
        if self.run is not None:
            return
        if self.racing:
            self.window.statusBar().showMessage("An A/B race is training — Stop ends it", 6000)
            return
        reason = self.window.start_blocker()
        if reason:
            self.window.statusBar().showMessage(f"Cannot train yet: {reason}", 6000)
            return
        resume = None
        panel = self.window.panel
        project = self.window.document.project
        if panel.continue_requested and self.weights and self.weights.fits(project.network):
            state, notes = carry_over(self.weights.state, project)
            resume = resume_arguments(state)
            for note in notes:
                self.window.statusBar().showMessage(f"Continuing: {note}", 8000)
        self._launch(project, None, resume, advance)

    def step(self, how: str = "step") -> None:
        """Train one step ("step") or to the end of the epoch ("epoch"), then pause: a run starts
        paused after it if none is on, a paused one goes on by that much, a running one pauses there."""
        if self.run is None:
            self.start(advance=how)
            return
        self.run.advance(how)
        self.window.panel.set_state("running")
        name = self._names.get(self.run_id, f"Run {self.run_id}")
        self.window.statusBar().showMessage(f"{name}: training {'one step' if how == 'step' else 'to the end of the epoch'}")

    def compare_optimizers(self) -> None:
        """Train the current network once per optimizer of the seed tutorial, one after another."""
        if self.busy or self.window.start_blocker():
            self.start()  # shows why it cannot
            return
        base = self.window.document.project
        for name, optimizer in OPTIMIZER_COMPARISON:
            project = copy.deepcopy(base)
            project.training.optimizer = copy.deepcopy(optimizer)
            project.training.scheduler = None
            self._queue.append((name, project))
        self._next_in_queue()

    def run_queue(self, runs: list[tuple]) -> bool:
        """Train (name, project, sweep) one after another (a sweep); False when a run is training."""
        if self.busy:
            return False
        self._queue.extend(runs)
        self._next_in_queue()
        return True

    @property
    def queued(self) -> int:
        """Runs waiting to start after this one (a sweep's, a comparison's)."""
        return len(self._queue)

    def fork(self, run_id: int, epoch: int) -> bool:
        """A new run from the stored weights of `epoch` of run `run_id`, with the editor's settings."""
        archive = self.window.archive
        if self.busy or self.window.start_blocker():
            self.start()   # says why it cannot
            return False
        try:
            state = archive.fork_state(run_id, epoch)
        except Exception as e:  # noqa: BLE001 — RunStoreError, or the run's files gone: said, nothing starts
            self.window.statusBar().showMessage(f"Cannot fork: {e}", 10000)
            return False
        project = self.window.document.project
        if not TrainedWeights(state).fits(project.network):
            self.window.statusBar().showMessage(
                "Cannot fork: the network in the editor is not the run's — load the run first", 10000)
            return False
        state, notes = carry_over(state, project)
        for note in notes:
            self.window.statusBar().showMessage(f"Fork: {note}", 8000)
        parent_name = self.window.runs.run_name(run_id)
        self._launch(project, f"{parent_name} → fork@{epoch}", resume_arguments(state),
                     parent={"run": archive.stored_id(run_id), "epoch": epoch})
        return True

    def start_race(self, b: Project, changes: dict) -> str | None:
        """An A/B race of the open project (A) against `b` (A with `changes`); why not, in words, or None."""
        from .race import Race, race_name

        if self.busy:
            return "a run is training"
        reason = self.window.start_blocker()
        if reason:
            return reason
        a = self.window.document.project
        names = (race_name("A", a, changes), race_name("B", b, changes))
        self.race = Race(self, a, b, names)
        self.race.finished.connect(self._on_race_finished)
        self.race.start()
        return None

    def _on_race_finished(self) -> None:
        race, self.race = self.race, None
        if race is not None:
            race.deleteLater()

    def _next_in_queue(self) -> None:
        if self._queue:
            name, project, *sweep = self._queue.pop(0)
            self._launch(project, name, None, sweep=sweep[0] if sweep else None)

    def _launch(self, project: Project, name: str | None, resume: dict | None, advance: str | None = None, *,
                parent: dict | None = None, sweep: dict | None = None) -> None:
        w = self.window
        self.run_id += 1
        run_id = self.run_id
        name = name or f"Run {run_id}"
        self._names[run_id] = name
        summary = settings_summary(project)
        color = w.plots.begin_run(run_id, name, summary)
        w.runs.add_run(run_id, name, summary, color, task=project.data.dataset)
        views = w.views
        archive = getattr(w, "archive", None)
        keep = archive is not None and archive.enabled
        run = TrainingRun(project, resume, parent=self, health_interval=HEALTH_INTERVAL, snapshots=keep)
        if keep:
            archive.record(run_id, run, project, name, parent=parent, sweep=sweep, resume=resume)
        views.health.clear()
        run.health_reported.connect(views.health.add_health)
        # the worker computes what the views on screen show from its live model; they only paint
        views.set_remote(True)
        run.set_view_requests(views.live_requests())
        views.requests_changed.connect(self._on_views_requests_changed)
        run.views_computed.connect(views.show_results)
        run.weights_reported.connect(views.set_weights)   # the Draw view answers the user's drawing here
        run.set_weights_wanted(w.views_dock.isVisible())
        w.views_dock.visibilityChanged.connect(run.set_weights_wanted)
        run.step_reported.connect(lambda steps, rid=run_id: w.plots.add_steps(rid, steps))
        run.epoch_finished.connect(lambda event, rid=run_id: w.plots.add_epoch(rid, event))
        run.progressed.connect(w.panel.show_progress)
        run.warned.connect(lambda text: w.statusBar().showMessage(f"Warning: {text}", 8000))
        run.finished.connect(lambda end, rid=run_id: self._on_run_finished(rid, end))
        run.changed.connect(lambda changes, rid=run_id: w.plots.add_changes(rid, changes))
        run.held.connect(self._on_run_held)
        self.run = run
        self._live_base = w.document.project   # what the run was told: later live edits go as changes
        w.document.settings_changed.connect(self._on_document_settings_changed)
        w.document.set_locked(True)
        w.panel.reset_progress()
        w.panel.set_state("running")
        if advance:
            run.start_paused_after(advance)
        else:
            run.start()
        cold = run.worker is not None and not run.worker.ready.is_set()
        starting = " (starting the training process: PyTorch loads in it once)" if cold else ""
        w.statusBar().showMessage(f"{name}: training{starting} — {summary}")
        self.run_started.emit(run_id)

    def _on_document_settings_changed(self) -> None:
        """A live setting edited during the run (the document allows no other edit then): send it."""
        if self.run is None:
            return
        project = self.window.document.project
        changes = live_changes(self._live_base, project)
        self._live_base = project
        if changes:
            self.run.change(changes)
            name = self._names.get(self.run_id, f"Run {self.run_id}")
            said = ", ".join(f"{k} {_short(v)}" for k, v in changes.items())
            self.window.statusBar().showMessage(f"{name}: {said} from the next step", 6000)

    def _on_run_held(self) -> None:
        if self.run is None:
            return
        self.window.panel.set_state("paused")
        name = self._names.get(self.run_id, f"Run {self.run_id}")
        self.window.statusBar().showMessage(f"{name} paused after step {self.run.steps_done:,} — Step, Epoch or "
                                            "Resume go on from here, Stop keeps the weights")

    def _on_views_requests_changed(self) -> None:
        if self.run is not None:
            self.run.set_view_requests(self.window.views.live_requests())

    # --- controls --------------------------------------------------------------------------

    def set_paused(self, paused: bool) -> None:
        if self.racing:
            self.race.set_paused(paused)
            return
        if self.run is None:
            return
        name = self._names.get(self.run_id, f"Run {self.run_id}")
        if paused:
            self.run.pause()
            self.window.panel.set_state("paused")
            self.window.statusBar().showMessage(f"{name} paused — Resume goes on from here, Stop keeps the weights")
        else:
            self.run.resume()
            self.window.panel.set_state("running")
            self.window.statusBar().showMessage(f"{name}: training again")

    def stop(self) -> None:
        self._queue.clear()
        if self.racing:
            self.race.stop()
        if self.run is not None:
            self.run.stop()

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Closing the window: stop the run and wait for its thread."""
        self._queue.clear()
        if self.racing:
            self.race.shutdown(timeout_ms)
        if self.run is not None:
            self.run.shutdown(timeout_ms)

    def set_weights(self, weights: TrainedWeights | None) -> None:
        self.weights = weights
        self.update_continue()
        self.weights_changed.emit()

    def update_continue(self) -> None:
        panel = self.window.panel
        if self.weights is None:
            panel.set_can_continue(False, "no trained or loaded weights yet")
        elif not self.weights.fits(self.window.document.network):
            panel.set_can_continue(False, "the network changed since these weights were trained")
        else:
            panel.set_can_continue(True, f"continue after epoch {self.weights.epoch}")

    # --- finishing -------------------------------------------------------------------------

    def _on_run_finished(self, run_id: int, end) -> None:
        w = self.window
        run, self.run = self.run, None
        try:
            if self._adopt_weights(run):   # the run list keeps each run's own final weights
                w.runs.keep_weights(run_id, copy.deepcopy(run.project), self.weights)
            if getattr(w, "archive", None) is not None:
                w.archive.finish(run_id, run, end)   # its final checkpoint and status, into the store
        finally:  # whatever happened, the app leaves the training state
            w.document.set_locked(False)
            w.panel.set_state("idle")
            w.views.set_remote(False)   # the final weights are drawn here, on all the data
            if run is not None:  # its worker is back in the pool: let the run go with what it holds
                w.views_dock.visibilityChanged.disconnect(run.set_weights_wanted)
                w.views.requests_changed.disconnect(self._on_views_requests_changed)
                w.document.settings_changed.disconnect(self._on_document_settings_changed)
                run.deleteLater()
                QTimer.singleShot(RELEASE_DELAY_MS, release_freed_memory)
        self._finish(run_id, end, run)

    def _adopt_weights(self, run) -> bool:
        """Make the run's final weights the current ones; False when it left none."""
        if run is None:
            return False
        if run.result is not None:   # CPU copies: a continued run trains its own
            self.set_weights(TrainedWeights(run.result))
            return True
        if run.last_weights is not None:
            # the worker died: what it sent last, with the project, is what can be kept
            state = Checkpoint(project=copy.deepcopy(run.project), model=run.last_weights,
                               epoch=run.last_weights_epoch)
            self.set_weights(TrainedWeights(state))
            return True
        return False   # a run that failed in setup: keep the weights we had

    def _finish(self, run_id: int, end, run) -> None:
        w = self.window
        w.plots.end_run(run_id, end)
        w.runs.update_run(run_id, status=end.status, metrics=_final_metrics(run, end))
        name = self._names.get(run_id, f"Run {run_id}")
        w.statusBar().showMessage(f"{name} {end.status}: {end.reason}")
        self.run_finished.emit(run_id, end)
        if end.status == "failed":
            self._queue.clear()
            box = QMessageBox(QMessageBox.Warning, "Training failed", end.reason, QMessageBox.Ok, w)
            box.setObjectName("trainingFailedBox")
            box.open()  # window-modal, not blocking: the app keeps running
            self.failure_box = box
        elif end.status == "finished":
            self._next_in_queue()
        else:
            self._queue.clear()


def _short(value) -> str:
    return "[" + ", ".join(f"{v:g}" for v in value) + "]" if isinstance(value, list) else f"{value:g}"


def _final_metrics(run, end) -> dict:
    epochs = run.history.get("epochs") if run is not None else None
    metrics = dict(epochs[-1]) if epochs else {}
    metrics["test_accuracy"] = end.test_accuracy
    return metrics
