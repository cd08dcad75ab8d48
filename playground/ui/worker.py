"""The door between the rooms: the window trains in a worker process (core/worker_loop.py),
started with torch.multiprocessing's spawn and kept warm between runs; its plain records come
back as throttled Qt signals in the GUI thread.

Why a process: a training thread shares the GIL and the cores with painting, and torch's OpenMP
threads spin whenever one of them is descheduled by a repaint; a native crash in training (a heap
corruption, a CUDA device-side assert) would take the window and the unsaved project with it; a
dataset load could not be interrupted; and memory a run used stayed in the window's process.
"""

from __future__ import annotations

import atexit
import copy
import itertools
import os
import pickle
import queue
import signal
import threading

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from ..core.live import apply_to_project
from ..core.progress import ProgressTracker
from ..core.spec import Project
from ..core.training import FAILED, STOPPED, EndEvent, EpochEvent, StepEvent

DELIVERY_INTERVAL_MS = 66   # ~15 deliveries a second: live to the eye, and few wake-ups of the window
                            # (each one takes a core from training on a 2-core machine)
LOAD_GRACE_MS = 3000        # Stop before the first step (loading, downloading): the process ends after this
STEP_GRACE_MS = 30_000      # Stop during training: one step, however long, then the process is ended
SPAWN_TIMEOUT_S = 120       # a worker not ready by then (torch's import on a swapped-out machine) is given up


def training_threads(project: Project | None = None) -> int:
    """torch's intra-op threads for a run of `project` in the worker: PLAYGROUND_TRAINING_THREADS,
    else every core for a network with convolutions and one core fewer for the others (None: the
    most any run gets, the size of the worker's OpenMP pool).

    Measured on 2 cores beside the live window (`make bench` and the same runs taking turns with 1
    and 2 threads, real Fashion-MNIST, medians of 4): the MLP 784-128-10 trains at 57,600 samples/s
    with one thread and 35,000 with two (the small matrices gain nothing from a second thread and
    stall whenever the window takes a core from it); LeNet at 8,800 with one and 9,400 with two (its
    convolutions use both). No 4- or 8-core machine was at hand: there the rule keeps a core for
    the window, which uses about a tenth of one while training."""
    override = int(os.environ.get("PLAYGROUND_TRAINING_THREADS") or 0)
    if override:
        return override
    try:
        cores = len(os.sched_getaffinity(0))   # the cores this process may use, not the machine's
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    if project is None:
        return max(1, cores)
    convolutional = any(layer.type.startswith(("Conv", "LazyConv")) for layer in project.network.layers)
    return max(1, cores if convolutional else cores - 1)


def owned(value):
    """`value` with every tensor in it copied into this process's own memory.

    Tensors come through the pipe as shared memory, and each one kept holds a file descriptor open
    while it lives: the run list keeps every run's result, so a few dozen runs reached the process's
    limit and the next message could not be read. A deep copy holds none (torch copies a shared
    storage into ordinary memory)."""
    return copy.deepcopy(value)


SUPERSEDED = ("weights", "views")
SNAPSHOT_GAP_S = 0.25    # the run store's snapshots at most four a second: a toy set's epochs take milliseconds,
                         # and a state_dict through the pipe, copied and written per epoch held the window   # messages only the newest of which matters


class _Mailbox:
    """Messages posted by a reader thread, collected by the GUI thread on its own schedule: a queued
    signal per message would flood the event queue when epochs take a millisecond."""

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

    def peek(self) -> bool:
        """Whether anything waits."""
        with self._lock:
            return bool(self._items)


# --- one process ----------------------------------------------------------------------------------


def describe_exit(exitcode: int | None) -> str:
    """How a worker process ended, in words."""
    if exitcode is None:
        return "the training process stopped answering"
    if exitcode < 0:
        number = -exitcode
        words = {
            signal.SIGKILL: "was killed (SIGKILL — often the system running out of memory)",
            signal.SIGSEGV: "crashed (segmentation fault)",
            signal.SIGABRT: "aborted (a native library called abort())",
            signal.SIGBUS: "crashed (bus error)",
            signal.SIGFPE: "crashed (floating-point exception)",
            signal.SIGTERM: "was terminated (SIGTERM)",
        }
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return f"the training process {words.get(number, f'was ended by {name}')}"
    return f"the training process exited with status {exitcode}"


class WorkerProcess:
    """One spawned training process and its pipe. Plain Python: a reader thread posts what the
    process sends into `mailbox`; whoever owns the process at the moment (a run) takes it."""

    def __init__(self, threads: int | None = None, initializer=None):
        import torch.multiprocessing as mp

        from ..core import worker_loop

        context = mp.get_context("spawn")
        self._conn, child = context.Pipe(duplex=True)
        self.threads = threads or training_threads()
        self.process = context.Process(target=worker_loop.serve,
                                       args=(child, self.threads, initializer, os.getpid()),
                                       name="playground-training", daemon=True)
        # OpenMP reads its thread count once, when torch loads in the new process: set it for the child
        saved = os.environ.get("OMP_NUM_THREADS")
        os.environ["OMP_NUM_THREADS"] = str(self.threads)
        try:
            self.process.start()
        finally:
            if saved is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = saved
        child.close()   # only the child holds its end now: its death closes the pipe
        self.mailbox = _Mailbox()
        self.ready = threading.Event()
        self.gone = threading.Event()      # the pipe closed: the process died or quit
        self.info: dict = {}
        self._ids = itertools.count(1)
        self._ended: set[int] = set()       # jobs whose last message has been read
        self._ended_changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="training-pipe", daemon=True)
        self._reader.start()
        # sends go through a thread: a large message to a process still importing torch fills the
        # pipe, and the GUI thread must not wait for it
        self._outbox: queue.Queue = queue.Queue()
        self._sender = threading.Thread(target=self._send_all, name="training-pipe-out", daemon=True)
        self._sender.start()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def next_id(self) -> int:
        return next(self._ids)

    def _read(self) -> None:
        while True:
            try:
                message = self._conn.recv()
                if message[0] == "views":   # pickled by value in the worker: unpickled here, off the GUI thread
                    message = (*message[:2], pickle.loads(message[2]))
            except (EOFError, OSError):
                break
            except Exception as e:  # noqa: BLE001 — a message that cannot be read: the process is no use
                self.mailbox.post(("broken", f"a message from the training process could not be read "
                                             f"({type(e).__name__}: {e}), so the process was ended"))
                self.kill()
                break
            if message[0] == "ready":
                self.info = message[1]
                self.ready.set()
                continue
            self.mailbox.post(message)
            if message[0] in ("end", "lr_end"):
                with self._ended_changed:
                    self._ended.add(message[1])
                    self._ended_changed.notify_all()
        self.gone.set()
        self.mailbox.post(("gone",))
        with self._ended_changed:
            self._ended_changed.notify_all()

    def wait_for(self, job_id: int, timeout: float | None) -> bool:
        """Block until the job's last message has arrived or the process is gone; False on timeout."""
        with self._ended_changed:
            return self._ended_changed.wait_for(lambda: job_id in self._ended or self.gone.is_set(), timeout)

    @property
    def alive(self) -> bool:
        return not self.gone.is_set() and self.process.is_alive()

    def send(self, *message) -> None:
        """Queue a message for the process; returns at once. A process that cannot be reached is
        noticed by the reader (the pipe closes)."""
        self._outbox.put(message)

    def _send_all(self) -> None:
        while True:
            message = self._outbox.get()
            if message is None:
                return
            try:
                self._conn.send(message)
            except Exception:  # noqa: BLE001 — a closed pipe, or a message that cannot be pickled
                self.kill()   # the reader sees the pipe close: the job hears that its process is gone
                return

    def exit_description(self) -> str:
        self.process.join(1.0)   # the pipe closes a moment before the process is reaped
        return describe_exit(self.process.exitcode)

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()

    def close(self, grace: float = 2.0) -> None:
        """Ask the process to quit, and end it if it has not within `grace` seconds."""
        if self.process.is_alive():
            self.send("quit")
            self.process.join(grace)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(grace)
        self._outbox.put(None)
        self._sender.join(grace)
        try:
            self._conn.close()
        except OSError:
            pass


class WorkerPool:
    """The window's training processes: one kept warm (started in the background after the window
    paints and reused between runs, so Start reaches its first step at once), and those in use."""

    def __init__(self):
        self.initializer = None            # tests: a function every new worker calls first
        self.threads: int | None = None
        self._idle: WorkerProcess | None = None
        self._busy: set[WorkerProcess] = set()
        self._data: tuple[dict, str] | None = None   # the open project's data, loaded ahead in the idle one

    def warm_up(self) -> WorkerProcess:
        """The idle worker, started now if there is none (returns at once; it gets ready by itself)."""
        if self._idle is not None and not self._idle.alive:
            self._idle.close(0)
            self._idle = None
        if self._idle is None:
            self._idle = WorkerProcess(self.threads, self.initializer)
            if self._data is not None:
                self._idle.send("data", *self._data)
        return self._idle

    def prefetch(self, data: dict, device: str) -> None:
        """Load this data in the idle worker while the user looks at the project."""
        if self._data == (data, device):
            return
        self._data = (copy.deepcopy(data), device)
        if self._idle is not None and self._idle.alive:
            self._idle.send("data", *self._data)

    def take(self) -> WorkerProcess:
        """A worker for a run: the warm one (its leftover messages dropped), else a new one."""
        worker = self.warm_up()
        self._idle = None
        worker.mailbox.take()
        self._busy.add(worker)
        return worker

    def give_back(self, worker: WorkerProcess) -> None:
        """A run is over: keep its worker warm if it is healthy and none is, else end it."""
        self._busy.discard(worker)
        if worker.alive and (self._idle is None or not self._idle.alive):
            if self._idle is not None:
                self._idle.close(0)
            self._idle = worker
            if self._data is not None:
                worker.send("data", *self._data)
        else:
            worker.close()

    def retire(self, worker: WorkerProcess) -> None:
        """A worker that must not be reused (it was ended, or its run was abandoned)."""
        self._busy.discard(worker)
        worker.close(0.5)

    def restart(self) -> None:
        """Replace the idle worker with a new one (new threads or initializer)."""
        if self._idle is not None:
            self._idle.close()
            self._idle = None

    def shutdown(self) -> None:
        """Closing the window: end every worker."""
        for worker in [*self._busy, *([self._idle] if self._idle else [])]:
            worker.close()
        self._busy.clear()
        self._idle = None

    def processes(self) -> list[WorkerProcess]:
        return [*self._busy, *([self._idle] if self._idle else [])]


_pool: WorkerPool | None = None


def worker_pool() -> WorkerPool:
    global _pool
    if _pool is None:
        _pool = WorkerPool()
    return _pool


def wait_for_training_threads() -> None:
    """Before the application object goes: no training process outlives the window."""
    if _pool is not None:
        _pool.shutdown()


# At exit, before multiprocessing's own handler (atexit runs the later registered first): it would
# SIGTERM the workers, which leave SIGTERM to the window, and then wait for them for ever
atexit.register(wait_for_training_threads)


# --- one run ----------------------------------------------------------------------------------


class _Link:
    """Deleted while running (its window went), a job's process ends: it may not be reused."""

    worker: WorkerProcess | None = None
    id = 0

    def abandon(self) -> None:
        if self.worker is not None:
            self.worker.send("stop", self.id)
            worker_pool().retire(self.worker)
            self.worker = None


class _Job(QObject):
    """A job in a worker process whose messages arrive here in the GUI thread, a batch per delivery.

    Stop is a message the job acts on within one step; a job that has not reached its first step
    (loading data, a first download) may never read it, so the process is ended after a grace."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.worker: WorkerProcess | None = None
        self.id = 0
        self._active = False
        self.began = False              # the process has taken the job (it loads, then trains)
        self._prepared = False          # past its load: a Stop now waits for the step under way
        self._stopped_by_kill = False
        self._closing = False           # shut down with its window: no fresh worker is started for it
        self._grace_wanted = 0
        self._link = _Link()   # what a deleted job leaves to stop its process
        self._delivery = QTimer(self)
        self._delivery.setInterval(DELIVERY_INTERVAL_MS)
        self._delivery.timeout.connect(self._on_delivery_timeout)
        self._grace = QTimer(self)
        self._grace.setSingleShot(True)
        self._grace.timeout.connect(self._on_grace_timeout)
        self.destroyed.connect(self._link.abandon)

    def _begin(self, kind: str, settings: dict) -> None:
        self._active = True
        try:
            self.worker = worker_pool().take()
            self.id = self.worker.next_id()
            self._link.worker, self._link.id = self.worker, self.id
            self.worker.send(kind, self.id, settings)
        except Exception as e:  # noqa: BLE001 — no process could be started: the job fails, in words
            detail = f"the training process could not be started ({type(e).__name__}: {e})"
            QTimer.singleShot(0, lambda: self._died(detail))   # after start() returns: `finished` after `started`
            return
        self._delivery.start()

    def _send(self, *message) -> None:
        if self._active and self.worker is not None:
            self.worker.send(message[0], self.id, *message[1:])

    def is_running(self) -> bool:
        return self._active

    def wait(self, ms: int = -1) -> bool:
        """Block until the job's end has arrived (or `ms` passed); True if it has. The signals still
        come through the event loop."""
        if not self._active or self.worker is None:
            return True
        return self.worker.wait_for(self.id, None if ms < 0 else ms / 1000)

    def _stop(self) -> None:
        self._send("stop")
        self._grace_wanted = STEP_GRACE_MS if self._prepared else LOAD_GRACE_MS
        self._start_grace()

    def _start_grace(self) -> None:
        """The grace counts from when the process is up: one still importing torch reads the stop
        before it loads anything."""
        if self._grace_wanted and not self._grace.isActive() and self.worker is not None and self.worker.ready.is_set():
            self._grace.start(self._grace_wanted)

    def _shutdown(self, timeout_ms: int) -> bool:
        """Stop and wait for the end (for closing); the process is ended if it does not come in
        time — before the first step, in the load's grace. True if it ended by itself."""
        if not self._active:
            return True
        self._closing = True
        self._stop()
        limit = timeout_ms if self._prepared else min(timeout_ms, LOAD_GRACE_MS)
        ended = self.wait(limit)
        if not ended:
            self._stopped_by_kill = True
            self._end_now()
            self.wait(2000)
        self._deliver()
        if self._active:   # no word came at all: the process is ended, said as such
            self._died()
        return ended

    @Slot()
    def _on_delivery_timeout(self) -> None:
        self._deliver()

    def _deliver(self) -> None:
        worker = self.worker
        if worker is None:
            return
        self._start_grace()
        events: list = []   # the batches of events in this delivery go out as one: a signal per delivery
        messages = worker.mailbox.take()
        # newer weights and pictures replace older ones in the same delivery: copying and painting each
        # of a toy set's dozens a second took the GUI thread longer than a frame
        newest = {m[0]: i for i, m in enumerate(messages) if m[0] in SUPERSEDED and m[1] == self.id}
        for i, message in enumerate(messages):
            kind = message[0]
            if len(message) > 1 and kind not in ("gone", "broken") and message[1] != self.id:
                continue   # an earlier job's late words
            if kind in newest and newest[kind] != i:
                continue
            if kind == "events":
                events.extend(message[2])
                continue
            if events:
                self._handle("events", events)
                events = []
            if kind in ("gone", "broken"):
                if self._active:
                    self._died(message[1] if kind == "broken" else "")
                return
            if kind == "prepared":
                self._prepared = True
                continue
            if kind == "began":
                self.began = True
                continue
            self._handle(kind, *message[2:])
            if self.worker is None:
                return   # the job ended with this message
        if events:
            self._handle("events", events)
        if self._active and worker.gone.is_set() and not worker.mailbox.peek():
            self._died()   # its "gone" was taken with an earlier job's leftovers

    def _done(self, healthy: bool = True) -> None:
        """The job's end has been handled: the worker goes back to the pool (or is ended, when the
        job left it unfit to be trusted with another)."""
        self._active = False
        self._link.worker = None
        self._delivery.stop()
        self._grace.stop()
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.mailbox.take()
            if healthy:
                worker_pool().give_back(worker)
            else:
                worker_pool().retire(worker)

    def _died(self, detail: str = "") -> None:
        if not self._active:
            return
        worker = self.worker
        if detail.startswith("a message from the training process"):
            why = detail   # the window ended it: its exit code says nothing more
        else:
            why = worker.exit_description() if worker is not None else "the training process is gone"
            if detail:
                why = f"{why} ({detail})"
        self._active = False
        self._link.worker = None
        self._delivery.stop()
        self._grace.stop()
        self.worker = None
        if worker is not None:
            worker_pool().retire(worker)
        if not self._closing:
            QTimer.singleShot(0, worker_pool().warm_up)   # the next Start finds a fresh one
        self._on_died(why)

    def _end_now(self) -> None:
        """Stop did not reach the job in time: end its process."""
        if self.worker is not None:
            self.worker.kill()

    @Slot()
    def _on_grace_timeout(self) -> None:
        if self._active:
            self._stopped_by_kill = True
            self._end_now()

    def _stopped_words(self) -> str:
        where = "while it was loading data" if not self._prepared else "within the grace time"
        return f"the training process did not stop {where}, so it was ended"

    def _handle(self, kind: str, *payload) -> None:
        raise NotImplementedError   # the abstract hook each job kind implements

    def _on_died(self, why: str) -> None:
        raise NotImplementedError   # the abstract hook each job kind implements


class TrainingRun(_Job):
    """One training run of a project in the worker process; its signals arrive in the GUI thread."""

    step_reported = Signal(object)     # list[StepEvent]: every step reported since the last delivery, in order
    epoch_finished = Signal(object)    # EpochEvent; a delivery sends its steps first, then its epochs
    progressed = Signal(object)        # core.progress.Progress, once per delivery that moved it
    finished = Signal(object)          # EndEvent, once the worker has ended the run (or died)
    warned = Signal(str)               # a setting works but probably not as meant
    weights_reported = Signal(object)  # dict state_dict (CPU tensors): while wanted, and every few seconds
    health_reported = Signal(object)   # core.health.HealthEvent: per-layer gradient and activation health
    views_computed = Signal(object)    # list[core.view_jobs.ViewResult]: the live views' pictures
    held = Signal()                    # the loop reached the pause and waits
    changed = Signal(object)           # list[ChangeEvent]: live changes that took effect, in order
    snapshot_taken = Signal(int, object)   # epoch, state_dict (CPU tensors): the weights after it (snapshots=True)

    def __init__(self, project: Project, resume: dict | None = None, parent: QObject | None = None,
                 health_interval: float | None = None, snapshots: bool = False):
        super().__init__(parent)
        self._snapshots = snapshots   # the initial weights and those after every epoch, for the run store
        # the run trains a copy: the user may keep editing the project while it trains
        self.project = copy.deepcopy(project)
        self._resume = dict(resume or {})   # Trainer keywords: model_state, optimizer_state, ..., history
        self._health_interval = health_interval
        self._tracker = ProgressTracker(self._resume.get("start_epoch", 0), self.project.training.epochs)
        self.end: EndEvent | None = None
        self.result = None                  # core.checkpoint.Checkpoint: everything the run left (resume.run_state)
        self.last_weights: dict | None = None   # the newest weights received, kept if the worker dies
        self.last_weights_epoch = self._resume.get("start_epoch", 0)
        self.epoch = self._resume.get("start_epoch", 0)   # the last epoch finished, as reported
        self.steps_reported = 0
        self.steps_done = 0                 # the global step of the newest report
        self.holding = False
        self._paused = False
        self._want_weights = False
        self._requests: list = []
        self._advance: str | None = None   # "step" | "epoch": the run starts, trains that much, holds

    # --- control ---------------------------------------------------------------------------------

    def start(self) -> None:
        if self._active or self.end is not None:
            raise RuntimeError("a TrainingRun starts once; make a new one to train again")
        self._tracker = ProgressTracker(self._tracker.first_epoch, self._tracker.epochs)
        self._begin("run", {
            "project": self.project.to_dict(),
            "resume": self._resume,
            "health_interval": self._health_interval,
            "want_weights": self._want_weights,
            "snapshots": self._snapshots,
            "snapshot_gap": SNAPSHOT_GAP_S,
            "requests": self._requests,
            "report_interval": 1 / 30,
            "threads": training_threads(self.project),
            "advance": self._advance,
        })

    def start_paused_after(self, how: str) -> None:
        """Start, train one step ("step") or one epoch ("epoch"), and hold there (`held` says so)."""
        self._advance = how
        self._paused = True
        self.start()

    def advance(self, how: str) -> None:
        """From a pause: train one more step ("step") or to the end of the epoch ("epoch"), then hold."""
        if how not in ("step", "epoch"):
            raise ValueError(f"advance by 'step' or 'epoch', not {how!r}")
        self._paused = True
        self.holding = False
        self._tracker.resume()
        self._send("advance", how)

    def change(self, settings: dict) -> None:
        """Live settings (core/live.py) for the next step; `changed` says when they took effect, and a
        value the run refuses comes back through `warned`."""
        if settings:
            self._send("change", dict(settings))

    def stop(self) -> None:
        """Ask the loop to stop; returns at once, the loop stops within one step and `finished` follows.
        Before the first step (a load, a download) the process is ended after a short grace."""
        if not self._active:
            return
        self._paused = False
        self._tracker.resume()
        self._stop()

    def pause(self) -> None:
        self._paused = True
        self._send("pause")
        self._tracker.pause()

    def resume(self) -> None:
        self._paused = False
        self.holding = False
        self._send("resume")
        self._tracker.resume()

    def is_paused(self) -> bool:
        return self._active and self._paused

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Stop and wait for the end, for closing windows; True if it ended in time (else the
        process is ended). `finished` has been emitted when this returns."""
        return self._shutdown(timeout_ms)

    def set_weights_wanted(self, wanted: bool) -> None:
        """A view on screen that draws from weights (Draw) asks for copies a couple of times a second."""
        self._want_weights = bool(wanted)
        self._send("weights", self._want_weights)

    def set_view_requests(self, requests: list) -> None:
        """What the live views on screen need from the model (core.view_jobs.ViewRequest); the worker
        computes them a few times a second and `views_computed` brings the results."""
        self._requests = list(requests)
        self._send("views", self._requests)

    @property
    def pid(self) -> int | None:
        return self.worker.pid if self.worker is not None else None

    @property
    def history(self) -> dict:
        return self.result.history if self.result is not None else {}

    # --- delivery ----------------------------------------------------------------------------------

    def _handle(self, kind: str, *payload) -> None:
        if kind == "events":
            self._events(payload[0])
        elif kind == "warning":
            self.warned.emit(payload[0])
        elif kind == "weights":
            self.last_weights, self.last_weights_epoch = owned(payload[0]), payload[1]
            self.weights_reported.emit(dict(self.last_weights))
        elif kind == "views":
            self.views_computed.emit(payload[0])   # ordinary memory already: no shared files to copy out of
        elif kind == "snapshot":
            self.snapshot_taken.emit(payload[0], owned(payload[1]))
        elif kind == "held":
            if self._paused:
                self.holding = True
                self._tracker.pause()
                self.held.emit()
        elif kind == "end":
            end, result = payload
            self.result = owned(result)
            self._finish(end)

    def _events(self, events: list) -> None:
        steps: list[StepEvent] = []
        epochs: list[EpochEvent] = []
        changes: list = []
        for event in events:
            if event.kind == "health":
                self.health_reported.emit(event)
                continue
            if event.kind == "change":
                apply_to_project(self.project, {event.setting: event.new})   # what the run trains with now
                changes.append(event)
                continue
            self._tracker.update(event)
            if event.kind == "step":
                steps.append(event)
            elif event.kind == "epoch":
                epochs.append(event)
                self.epoch = event.epoch
        if changes:
            self.changed.emit(changes)
        if steps:
            self._prepared = True
            self.steps_reported += len(steps)
            self.steps_done = steps[-1].global_step
            self.step_reported.emit(steps)
        for epoch in epochs:
            self.epoch_finished.emit(epoch)
        if steps or epochs:
            self.progressed.emit(self._tracker.progress)

    def _finish(self, end: EndEvent) -> None:
        self.end = end
        self.holding = False
        # a failed run on a GPU may have left its CUDA context unusable (a device-side assert
        # poisons it for the whole process): that process trains nothing more
        self._done(healthy=end.status != FAILED or self.project.training.device == "cpu")
        self.finished.emit(end)

    def _on_died(self, why: str) -> None:
        if self._stopped_by_kill:
            end = EndEvent(STOPPED, f"stopped by the user: {self._stopped_words()}", self.epoch)
        else:
            kept = (f" The last weights received (epoch {self.last_weights_epoch}) are kept."
                    if self.last_weights is not None else "")
            when = f"during epoch {self.epoch + 1}" if self._prepared else "before the first step"
            end = EndEvent(FAILED, f"{why[0].upper()}{why[1:]} {when}; the window and the project are "
                                   f"unaffected, and the next Start uses a fresh process.{kept}", self.epoch)
        self.end = end
        self.holding = False
        self.finished.emit(end)


class FinderRun(_Job):
    """The learning-rate finder in the worker process."""

    stepped = Signal(object)            # list[LRFinderStep] since the last delivery
    finished = Signal(object, str)      # LRFinderResult or None, and an error in words ("" when none)

    def start(self, project: Project, model_state: dict | None, start_lr: float, end_lr: float,
              steps: int) -> None:
        self.project_device = project.training.device
        self._begin("lr_find", {"project": project.to_dict(), "model_state": model_state,
                                "start_lr": start_lr, "end_lr": end_lr, "steps": steps})

    def stop(self) -> None:
        if self._active:
            self._stop()

    def shutdown(self, timeout_ms: int = 5000) -> None:
        self._shutdown(timeout_ms)

    def _handle(self, kind: str, *payload) -> None:
        if kind == "lr_steps":
            self._prepared = True
            self.stepped.emit(payload[0])
        elif kind == "lr_end":
            result, error = payload
            self._done(healthy=not error or self.project_device == "cpu")
            self.finished.emit(owned(result), error)

    project_device = "cpu"

    def _on_died(self, why: str) -> None:
        if self._stopped_by_kill:
            self.finished.emit(None, f"Stopped: {self._stopped_words()}.")
        else:
            self.finished.emit(None, f"{why[0].upper()}{why[1:]}; the window is unaffected.")
