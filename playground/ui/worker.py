"""The door between the rooms: runs a core Trainer in a QThread and turns its events into throttled Qt signals."""

from __future__ import annotations

import copy
import os
import threading
import time

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer, Signal, Slot

from ..core.progress import ProgressTracker
from ..core.spec import Project
from ..core.training import FAILED, EndEvent, EpochEvent, Event, StepEvent, Trainer

DELIVERY_INTERVAL_MS = 33  # ~30 deliveries a second: what the eye can use, whatever the trainer's pace
WEIGHTS_INTERVAL = 0.25    # seconds between weight copies for the live views: a few pictures a second
# torch's intra-op threads for a run in the window: one core fewer than the machine has, so the GUI
# thread keeps one. With a thread per core, every repaint descheduled one of torch's threads and
# the others spun at its barrier: a 2-core machine trained 3x slower with the plots showing.
TRAINING_THREADS = int(os.environ.get("PLAYGROUND_TRAINING_THREADS") or 0) or max(1, (os.cpu_count() or 1) - 1)


class _Weights(dict):
    """A CPU copy of the model's state_dict, posted by the training thread for the live views."""


class _Mailbox:
    """Events posted by the training thread, collected by the GUI thread on its own schedule.

    A queued signal per event would flood the GUI's event queue when epochs take a millisecond;
    a locked list keeps the training thread's cost at one append and lets the GUI take a batch.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._items: list = []

    def post(self, item) -> None:
        with self._lock:
            self._items.append(item)

    def take(self) -> list:
        with self._lock:
            items, self._items = self._items, []
        return items


class TrainerWorker(QObject):
    """Lives in the training thread; runs the Trainer there and never raises out of it."""

    def __init__(self, trainer: Trainer, mailbox: _Mailbox):
        super().__init__()
        self.trainer = trainer
        self.end: EndEvent | None = None
        self._mailbox = mailbox
        self._warnings_sent = False
        self.want_weights = False        # set by the GUI while a view shows the live model
        self._weights_at = 0.0

    def on_event(self, event: Event) -> None:
        """The Trainer's callback, called in the training thread."""
        if not self._warnings_sent and self.trainer.warnings:
            # prepare() sets the warnings before the first event, so the first event carries them
            self._warnings_sent = True
            for text in self.trainer.warnings:
                self._mailbox.post(text)
        self._mailbox.post(event)
        now = time.perf_counter()
        if self.want_weights and event.kind in ("step", "epoch") and now - self._weights_at >= WEIGHTS_INTERVAL:
            self._weights_at = now
            # copied here, between steps, so the GUI never reads a tensor the optimizer is writing
            model = self.trainer.model
            self._mailbox.post(_Weights({k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}))

    @Slot()
    def run(self) -> None:
        import torch

        threads = torch.get_num_threads()   # process-wide in torch: lowered while the run trains, then put back
        try:
            torch.set_num_threads(min(TRAINING_THREADS, threads))
            self.end = self.trainer.run()
        except BaseException as e:  # noqa: BLE001 — an escaping exception would kill the app from a thread
            self.end = EndEvent(FAILED, f"training failed: {type(e).__name__}: {e}", self.trainer.epoch)
        finally:
            torch.set_num_threads(threads)
            # run() is called from started, before the thread's event loop; quit() makes that loop
            # return at once, so the thread ends as soon as the Trainer does
            self.thread().quit()


class _ThreadKeeper(QObject):
    """Holds every started thread (and its worker) until it has stopped, so that deleting a
    TrainingRun, or its parent window, can never destroy a running QThread (a fatal Qt error).
    A child of the application while running, so a test's check for running threads finds it."""

    def __init__(self):
        super().__init__(QCoreApplication.instance())
        self._held: dict[QThread, TrainerWorker] = {}

    def hold(self, thread: QThread, worker: TrainerWorker) -> None:
        self._held[thread] = worker
        thread.setParent(self)
        thread.finished.connect(self._on_thread_finished)

    @Slot()
    def _on_thread_finished(self) -> None:
        thread = self.sender()
        thread.wait()  # finished is emitted just before the thread really ends
        thread.setParent(None)
        self._held.pop(thread, None)

    def running(self) -> int:
        return sum(t.isRunning() for t in self._held)

    def wait_all(self) -> None:
        """Before the application object goes: a thread still loading data must end first."""
        for thread in list(self._held):
            thread.wait()


def wait_for_training_threads() -> None:
    if _keeper is not None:
        _keeper.wait_all()


_keeper: _ThreadKeeper | None = None


def _thread_keeper() -> _ThreadKeeper:
    global _keeper
    if _keeper is None:
        _keeper = _ThreadKeeper()
    return _keeper


class TrainingRun(QObject):
    """One training run of a project in its own thread; signals arrive in the GUI thread."""

    step_reported = Signal(object)   # list[StepEvent]: every step reported since the last delivery, in order
    epoch_finished = Signal(object)  # EpochEvent; a delivery sends its steps first, then its epochs
    progressed = Signal(object)      # core.progress.Progress, once per delivery that moved it
    finished = Signal(object)        # EndEvent, after the training thread has stopped
    warned = Signal(str)             # a setting works but probably not as meant
    weights_reported = Signal(object)  # dict state_dict (CPU copy), at most 4 a second, while wanted
    health_reported = Signal(object)   # core.health.HealthEvent: per-layer gradient and activation health

    def __init__(self, project: Project, resume: dict | None = None, parent: QObject | None = None,
                 health_interval: float | None = None):
        super().__init__(parent)
        resume = dict(resume or {})  # Trainer keywords: model_state, optimizer_state, ..., history
        resume["health_interval"] = health_interval  # None: no measuring, the loop untouched
        # the run trains a copy: the user may keep editing the project while it trains
        self.project = copy.deepcopy(project)
        self._mailbox = _Mailbox()
        self.trainer = Trainer(self.project, None, report_interval=1 / 30, **resume)
        self._worker = TrainerWorker(self.trainer, self._mailbox)
        self.trainer.callback = self._worker.on_event
        self._tracker = ProgressTracker(resume.get("start_epoch", 0), self.project.training.epochs)
        self.end: EndEvent | None = None
        self._active = False

        self._thread = QThread()  # not our child: the keeper, not our destructor, decides its end
        self._thread.setObjectName("TrainingRun")
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._thread.finished.connect(self._on_thread_finished)
        # a run deleted while training stops its loop; the keeper lets the thread end in its own time
        self.destroyed.connect(self.trainer.stop)

        self._delivery = QTimer(self)
        self._delivery.setInterval(DELIVERY_INTERVAL_MS)
        self._delivery.timeout.connect(self._on_delivery_timeout)

    # --- control ---------------------------------------------------------------------------------

    def start(self) -> None:
        if self._active or self.end is not None:
            raise RuntimeError("a TrainingRun starts once; make a new one to train again")
        self._active = True
        self._tracker = ProgressTracker(self._tracker.first_epoch, self._tracker.epochs)
        _thread_keeper().hold(self._thread, self._worker)
        self._thread.start()
        self._delivery.start()

    def stop(self) -> None:
        """Ask the loop to stop; returns at once, the loop stops within one step and `finished` follows."""
        self.trainer.stop()
        self._tracker.resume()

    def pause(self) -> None:
        self.trainer.pause()
        self._tracker.pause()

    def resume(self) -> None:
        self.trainer.resume()
        self._tracker.resume()

    def is_running(self) -> bool:
        """True from start() until `finished` is emitted."""
        return self._active

    def is_paused(self) -> bool:
        return self._active and self.trainer.paused

    def wait(self, ms: int = -1) -> bool:
        """Block until the training thread has stopped (or `ms` passed); True if it has stopped.
        `finished` still comes through the event loop."""
        if not self._thread.isRunning():
            return True
        return self._thread.wait(ms) if ms >= 0 else self._thread.wait()

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Stop and wait for the thread, for closing windows; True if it has stopped in time."""
        self.stop()
        return self.wait(timeout_ms)

    def set_weights_wanted(self, wanted: bool) -> None:
        """Live views ask for weight copies only while they are on screen: copies cost the loop time."""
        self._worker.want_weights = wanted

    @property
    def thread_running(self) -> bool:
        return self._thread.isRunning()

    # --- delivery ------------------------------------------------------------------------------

    @Slot()
    def _on_delivery_timeout(self) -> None:
        self._deliver()

    @Slot()
    def _on_thread_finished(self) -> None:
        self._thread.wait()  # finished is emitted just before the thread ends: "after" means after
        self._delivery.stop()
        self._deliver()
        if not self._active:
            return
        self._active = False
        self.end = self._worker.end or EndEvent(FAILED, "training ended without a result", self.trainer.epoch)
        self.finished.emit(self.end)

    def _deliver(self) -> None:
        steps: list[StepEvent] = []
        epochs: list[EpochEvent] = []
        warnings: list[str] = []
        weights = None
        for item in self._mailbox.take():
            if isinstance(item, _Weights):
                weights = item  # only the newest picture matters
            elif getattr(item, "kind", None) == "health":
                self.health_reported.emit(item)
            elif isinstance(item, StepEvent):
                steps.append(item)
            elif isinstance(item, EpochEvent):
                epochs.append(item)
            elif isinstance(item, str):
                warnings.append(item)
            # the EndEvent is the worker's result; it goes out with finished
            if isinstance(item, (StepEvent, EpochEvent)):
                self._tracker.update(item)
        for text in warnings:
            self.warned.emit(text)
        if steps:
            self.step_reported.emit(steps)
        for epoch in epochs:
            self.epoch_finished.emit(epoch)
        if steps or epochs:
            self.progressed.emit(self._tracker.progress)
        if weights is not None:
            self.weights_reported.emit(dict(weights))

