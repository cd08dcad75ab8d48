"""The training process a window trains in: it owns the run (data, model, optimizer, the live
views' work) and talks to the window through one pipe of plain records. Qt-free.

The window starts it with torch.multiprocessing's spawn (ui/worker.py) and keeps it warm between
runs. Messages are tuples `(kind, job id, payload...)`; tensors in them travel as shared memory
(torch.multiprocessing's reductions on the pipe's pickler). A reader thread takes commands as
they come, so Stop and Pause reach the Trainer's flags within one step while the main thread
trains; the main thread runs one job at a time.

To the window:   ready(info) · events(id, [StepEvent | EpochEvent | HealthEvent]) · warning(id, text)
                 · weights(id, state_dict) · views(id, [ViewResult]) · held(id, bool)
                 · snapshot(id, epoch, state_dict) · end(id, EndEvent, Checkpoint | None) · lr_steps(id, [LRFinderStep])
                 · lr_end(id, LRFinderResult | None, error) · loaded(key, error)
From the window: run(id, settings) · lr_find(id, settings) · data(DataSpec dict, device) ·
                 stop(id) · pause(id) · resume(id) · weights(id, wanted) · views(id, [ViewRequest]) ·
                 change(id, {setting: value}) · advance(id, "step" | "epoch") · quit
A run's events include ChangeEvent (a live change took effect); `held` follows a HeldEvent once
the pause's weights and pictures are out, so the window shows exactly where the run waits.
"""

from __future__ import annotations

import copy
import gc
import json
import math
import os
import pickle
import queue
import sys
import threading
import time

EVENTS_INTERVAL = 1 / 30    # seconds between event batches: what the eye can use, whatever the pace
WEIGHTS_INTERVAL = 0.5      # seconds between weight copies while the window wants them (the Draw view)
KEEP_INTERVAL = 2.0         # ... and at least this often: what the window keeps if this process dies
VIEWS_INTERVAL = 0.25       # seconds between the live views' pictures: a few a second ...
VIEWS_SHARE = 0.1           # ... but never more than a tenth of the training's time
CONTROL = ("stop", "pause", "resume", "weights", "views", "change", "advance")
USER_FILES = ("table", "image_folder")   # datasets read from files the user may edit between runs


NICENESS = int(os.environ.get("PLAYGROUND_WORKER_NICENESS", "5"))


def _yield_to_the_window() -> None:
    """A little lower priority than the window: when both want a core, the window's short bursts
    (a paint, an answer to the mouse) come first, and training gets every cycle the window leaves.
    On 2 cores LeNet's two OpenMP threads otherwise kept the waking GUI thread waiting."""
    if NICENESS and hasattr(os, "nice"):
        try:
            os.nice(NICENESS)
        except OSError:
            pass   # not allowed here: the same priority as the window, as before


def serve(conn, threads: int | None = None, initializer=None, parent: int | None = None) -> None:
    """The process's main function (spawned). `threads`: torch's intra-op threads, set before any
    kernel runs (OMP_NUM_THREADS was set for it before the process started). `initializer`: a
    picklable function called once before the first job, like multiprocessing.Pool's. `parent`:
    the window's process id."""
    import signal

    # Ctrl-C in the terminal and a SIGTERM to the process group are the window's to handle (it
    # stops the run and keeps the work); this process ends when the window says so, or dies
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with_parent(parent)
    _yield_to_the_window()
    import torch
    import torch.multiprocessing  # noqa: F401 — registers the reductions: tensors go by shared memory

    if threads:
        torch.set_num_threads(threads)
    from .memory import keep_freed_memory

    keep_freed_memory()   # this process trains: every step's buffers are reused, not faulted in again
    _warm_up()
    if initializer is not None:
        initializer()
    _Worker(conn).serve()


def _die_with_parent(parent: int | None) -> None:
    """Linux: the kernel kills this process when the window's process dies, even by SIGKILL —
    a reader thread noticing the closed pipe covers every other platform and every other exit."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
        if parent is not None and os.getppid() != parent:   # it died before the line above ran
            os._exit(1)
    except (OSError, AttributeError):
        pass


class _Worker:
    def __init__(self, conn):
        self.conn = conn
        self._send_lock = threading.Lock()   # the main thread and the reader thread both send
        self._jobs: queue.Queue = queue.Queue()
        self._jobs_by_id: dict[int, object] = {}
        self._dataset = None                 # (key, Dataset): the last data loaded, for the next run
        self._wanted_data: tuple | None = None   # (data settings, device) to load ahead of the next run
        self._gone = False

    def send(self, *message) -> None:
        if self._gone:
            return
        try:
            with self._send_lock:
                self.conn.send(message)
        except (OSError, EOFError, ValueError):
            self._parent_gone()

    def serve(self) -> None:
        import torch

        reader = threading.Thread(target=self._read, name="commands", daemon=True)
        reader.start()
        self.send("ready", {"pid": os.getpid(), "threads": torch.get_num_threads(), "torch": torch.__version__})
        while True:
            kind, job = self._jobs.get()
            if kind == "quit":
                break
            if kind == "data":
                self._prefetch()
            else:
                job.run()   # never raises: each job sends its own end, whatever happens
                self._jobs_by_id.pop(job.id, None)
            del job   # the idle process keeps no run: its model, optimizer and data position go now
            _release_memory()
        self.conn.close()

    # --- commands ------------------------------------------------------------------------------

    def _read(self) -> None:
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                self._parent_gone()
                return
            except Exception:  # noqa: BLE001 — a message this process cannot read: the window hears of the end
                self._parent_gone()
                return
            if message[0] == "quit":
                self._stop_all()
                self._jobs.put(("quit", None))
                return
            try:
                self._command(*message)
            except Exception as e:  # noqa: BLE001 — one bad command must not stop the reading of the next
                print(f"playground training process: {message[0]}: {type(e).__name__}: {e}", file=sys.stderr)

    def _command(self, kind: str, *args) -> None:
        if kind in ("run", "lr_find"):
            id, settings = args
            try:
                job = (_Run if kind == "run" else _Finder)(self, id, settings)
            except Exception as e:  # noqa: BLE001 — settings it cannot use: that run failed, said as such
                job = _Refused(self, id, kind, f"the training process could not take this run: "
                                               f"{type(e).__name__}: {e}")
            self._jobs_by_id[job.id] = job
            self._jobs.put((kind, job))
        elif kind in CONTROL:
            job = self._jobs_by_id.get(args[0])
            if job is not None:
                job.control(kind, *args[1:])
        elif kind == "data":
            self._wanted_data = args   # only the newest matters: the loads of earlier edits are skipped
            self._jobs.put(("data", None))

    def _parent_gone(self) -> None:
        """The window closed its end or died: end the job, then the process."""
        if self._gone:
            return
        self._gone = True
        self._stop_all()
        self._jobs.put(("quit", None))
        # a job stuck in a load never reads the queue again: don't outlive the window for it
        threading.Timer(5.0, os._exit, (0,)).start()

    def _stop_all(self) -> None:
        for job in list(self._jobs_by_id.values()):
            job.control("stop")

    # --- jobs ----------------------------------------------------------------------------------

    def dataset_for(self, data: dict, device: str):
        """The cached dataset when it is the one asked for, else None (the run loads it).

        A table or an image folder is the user's own files, which may change between runs: those
        load again each time, and their readers' own caches (by file stamps) skip what is unchanged."""
        if data.get("dataset") in USER_FILES:
            return None
        key = json.dumps([data, device], sort_keys=True)
        if self._dataset is not None and self._dataset[0] == key:
            return self._dataset[1]
        self._dataset = None   # its memory goes before the next dataset comes
        return None

    def keep_dataset(self, data: dict, device: str, dataset) -> None:
        if dataset is not None and data.get("dataset") not in USER_FILES:
            self._dataset = (json.dumps([data, device], sort_keys=True), dataset)

    def _prefetch(self) -> None:
        """Load the open project's data while the window waits for Start: the run then begins at once."""
        from . import data as datasets
        from .errors import PlaygroundError
        from .optim import check_device
        from .spec import DataSpec

        if self._wanted_data is None:
            return
        data, device = self._wanted_data
        if self.dataset_for(data, device) is not None:
            return
        # the features too: they change the tensors that are kept for the run (the key holds them)
        spec = DataSpec(data["dataset"], copy.deepcopy(data["params"]), features=list(data.get("features", [])))
        spec.params["download"] = False   # fetching is a run's job, said in its progress
        try:
            self.keep_dataset(data, device, datasets.load(spec, check_device(device)))
            self.send("loaded", data, "")
        except PlaygroundError as e:
            self.send("loaded", data, str(e))
        except Exception as e:  # noqa: BLE001 — loading ahead is a courtesy: the run says what is wrong
            self.send("loaded", data, f"{type(e).__name__}: {e}")



def _warm_up() -> None:
    """What a process's first run pays once — the modules a run imports, autograd's and the
    optimizers' first calls — paid here, while the window waits: the first Start on a new
    process spent ~2 s before its first epoch without it. A run that comes meanwhile waits."""
    from . import evaluation, health, lr_finder, resume, view_jobs  # noqa: F401 — imported for their cost
    from .spec import DataSpec, LayerSpec, NetworkSpec, Project, TrainingSpec
    from .training import Trainer

    try:
        layers = [LayerSpec("Linear", {"out_features": 4}), LayerSpec("ReLU", {}),
                  LayerSpec("Linear", {"out_features": 2})]
        project = Project(network=NetworkSpec([2], layers), data=DataSpec("xor", {"samples": 64}),
                          training=TrainingSpec(epochs=1, batch_size=32))
        Trainer(project, health_interval=0.0).run()
    except Exception:  # noqa: BLE001 — a courtesy: the first real run pays instead
        pass


def _release_memory() -> None:
    import torch

    from .memory import release_freed_memory

    gc.collect()
    if torch.cuda.is_initialized():
        torch.cuda.empty_cache()   # what the run held on the GPU goes back to other programs
    release_freed_memory()


class _Refused:
    """A run or search whose settings this process could not take: it ends at once, failed."""

    def __init__(self, worker: _Worker, id: int, kind: str, reason: str):
        self.worker, self.id, self.kind, self.reason = worker, id, kind, reason

    def control(self, kind: str, *args) -> None:
        pass

    def run(self) -> None:
        from .training import FAILED, EndEvent

        if self.kind == "run":
            self.worker.send("end", self.id, EndEvent(FAILED, self.reason, 0), None)
        else:
            self.worker.send("lr_end", self.id, None, self.reason)


class _Run:
    """One training run in this process: a Trainer whose callback batches events for the pipe and
    computes the live views' pictures between steps."""

    def __init__(self, worker: _Worker, id: int, settings: dict):
        from .spec import Project
        from .training import Trainer

        self.worker = worker
        self.id = id
        self.project = Project.from_dict(settings["project"])
        self.data_key = (self.project.data.to_dict(), self.project.training.device)
        resume = dict(settings.get("resume") or {})
        self.trainer = Trainer(self.project, self.on_event, report_interval=settings.get("report_interval", 1 / 30),
                               health_interval=settings.get("health_interval"), **resume)
        self.threads = settings.get("threads")
        if settings.get("advance"):   # Step / Epoch with no run: the run holds after that much
            self._advance(settings["advance"])
        self.want_weights = bool(settings.get("want_weights"))
        # the run store keeps the weights after every epoch (and the initial ones): a snapshot message each
        self.want_snapshots = bool(settings.get("snapshots"))
        # epochs closer together than this share a snapshot (the newest; the last epoch always has one)
        self.snapshot_gap = float(settings.get("snapshot_gap") or 0.0)
        self._snapshot_at = -math.inf
        self.requests: list = list(settings.get("requests") or ())
        self._events: list = []
        self._sent_at = 0.0
        self._weights_at = 0.0
        self._kept_at = time.perf_counter()
        self._views_at = 0.0
        self._warned = False
        self._predictor = None

    def control(self, kind: str, *args) -> None:
        """From the reader thread: the Trainer's flags are thread-safe Events."""
        t = self.trainer
        if t is None:
            return   # the run is over
        if kind == "stop":
            t.stop()
        elif kind == "pause":
            t.pause()   # the loop's HeldEvent says when it waits (on_event)
        elif kind == "resume":
            t.resume()
        elif kind == "advance":
            self._advance(args[0])
        elif kind == "change":
            try:
                t.change(**args[0])
            except Exception as e:  # noqa: BLE001 — a value the run cannot take: said, and the run goes on
                self.worker.send("warning", self.id, f"not changed: {e}")
        elif kind == "weights":
            self.want_weights = bool(args[0])
        elif kind == "views":
            self.requests = list(args[0])
            self._views_at = 0.0   # a new request (another tab) is answered at the next step

    def _advance(self, how: str) -> None:
        if how == "epoch":
            self.trainer.train_epoch()
        else:
            self.trainer.train_steps(1)

    done = False

    def run(self) -> None:
        from .training import FAILED, EndEvent

        try:
            self._train()
        except BaseException as e:  # noqa: BLE001 — whatever happens, the window hears how the run ended
            self.done = True
            self.worker.send("end", self.id, EndEvent(FAILED, f"training failed: {type(e).__name__}: {e}",
                                                     self.trainer.epoch), None)
        finally:
            self.trainer = self._predictor = None   # nothing of the run stays in the idle process

    def _train(self) -> None:
        from .resume import run_state
        from .training import FAILED, STOPPED, EndEvent

        import torch

        self.worker.send("began", self.id)   # this process is on it (loading, then training)
        if self.threads:
            torch.set_num_threads(self.threads)   # per run: within the pool the process started with
        data, device = self.data_key
        cached = self.worker.dataset_for(data, device)
        if cached is not None:
            self.trainer.use_dataset(cached)
        t = self.trainer
        if t.stopping:   # Stop came with Start: nothing to load
            end = EndEvent(STOPPED, "stopped by the user before the first step", t.epoch)
        else:
            try:
                t.prepare()
            except Exception:  # noqa: BLE001 — run() prepares again and says what is wrong in its words
                pass
            else:
                self.worker.send("prepared", self.id)   # past the load: a Stop now waits for a step
                if self.want_snapshots:
                    self._send_snapshot(t.epoch)   # the initial weights: what a fork from here starts with
            try:
                end = t.run()
            except BaseException as e:  # noqa: BLE001
                end = EndEvent(FAILED, f"training failed: {type(e).__name__}: {e}", t.epoch)
        self.done = True
        self._flush()
        result = None
        if t.model is not None and t.optimizer is not None:
            try:
                result = run_state(t)
            except Exception as e:  # noqa: BLE001
                end = EndEvent(FAILED, f"the run's weights could not be copied: {type(e).__name__}: {e}",
                               end.epochs_completed, end.test_accuracy)
        # under the data settings it has now: a live change of the noise regenerated it
        self.worker.keep_dataset(t.project.data.to_dict(), device, t.dataset)
        self.worker.send("end", self.id, end, result)

    # --- in the training loop -----------------------------------------------------------------

    def on_event(self, event) -> None:
        t = self.trainer
        if not self._warned and t.warnings:
            self._warned = True   # prepare() sets them before the first event
            for text in t.warnings:
                self.worker.send("warning", self.id, text)
        if event.kind == "end":
            return   # it goes with the run's result
        if event.kind == "held":
            self._held(event)
            return
        self._events.append(event)
        now = time.perf_counter()
        if now - self._sent_at >= EVENTS_INTERVAL:
            self._flush(now)
        if event.kind not in ("step", "epoch") or t.model is None:
            return
        if event.kind == "epoch" and self.want_snapshots and (
                now - self._snapshot_at >= self.snapshot_gap or event.epoch >= event.epochs):
            self._flush(now)   # the epoch's record goes before its weights
            self._send_snapshot(event.epoch)
            self._snapshot_at = now
        if (self.want_weights and now - self._weights_at >= WEIGHTS_INTERVAL) or now - self._kept_at >= KEEP_INTERVAL:
            self._weights_at = self._kept_at = now
            # copied here, between steps: no tensor the optimizer is writing
            state = {k: v.detach().to("cpu", copy=True) for k, v in t.model.state_dict().items()}
            self.worker.send("weights", self.id, state, event.epoch if event.kind == "epoch" else event.epoch - 1)
        if self.requests and now >= self._views_at:
            self._flush(now)   # what happened so far goes out before the pictures take their time
            self._compute_views(now)

    def _held(self, event) -> None:
        """The loop waits: what it trained so far, its weights and the views' pictures go out now,
        then `held` (a Step's result is on screen when the window hears it is done)."""
        t = self.trainer
        now = time.perf_counter()
        self._flush(now)
        if t.model is not None:
            state = {k: v.detach().to("cpu", copy=True) for k, v in t.model.state_dict().items()}
            self.worker.send("weights", self.id, state, t.epoch)
            self._weights_at = self._kept_at = now
            if self.requests:
                self._compute_views(now)
        self.worker.send("held", self.id, True)

    def _send_snapshot(self, epoch: int) -> None:
        state = {k: v.detach().to("cpu", copy=True) for k, v in self.trainer.model.state_dict().items()}
        self.worker.send("snapshot", self.id, epoch, state)

    def _flush(self, now: float | None = None) -> None:
        if self._events:
            events, self._events = self._events, []
            self.worker.send("events", self.id, events)
        self._sent_at = now if now is not None else time.perf_counter()

    def _compute_views(self, now: float) -> None:
        from .evaluation import Predictor
        from .view_jobs import compute

        t = self.trainer
        dataset = t.dataset
        if self._predictor is None:
            self._predictor = Predictor.live(t.model, self.project, dataset.info.n_classes)
        results = []
        with self._predictor.evaluating():
            for request in self.requests:
                results.append(compute(request, self._predictor, dataset))
        # pickled here, by value: torch would pass each of the pictures' dozens of small tensors as its
        # own shared-memory file, which the window then had to open, map and copy in its GUI thread
        self.worker.send("views", self.id, pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL))
        took = time.perf_counter() - now
        self._views_at = time.perf_counter() + max(VIEWS_INTERVAL, took * (1 - VIEWS_SHARE) / VIEWS_SHARE)


class _Finder:
    """The learning-rate finder on a throwaway copy of the model, in this process."""

    def __init__(self, worker: _Worker, id: int, settings: dict):
        from .spec import Project

        self.worker = worker
        self.id = id
        self.project = Project.from_dict(settings["project"])
        self.args = {k: settings[k] for k in ("model_state", "start_lr", "end_lr", "steps")}
        self._stop = threading.Event()
        self._steps: list = []
        self._sent_at = 0.0

    def control(self, kind: str, *args) -> None:
        if kind == "stop":
            self._stop.set()

    def _on_step(self, step) -> None:
        self._steps.append(step)
        now = time.perf_counter()
        if now - self._sent_at >= EVENTS_INTERVAL:
            self._flush(now)

    def _flush(self, now: float) -> None:
        if self._steps:
            steps, self._steps = self._steps, []
            self.worker.send("lr_steps", self.id, steps)
        self._sent_at = now

    def run(self) -> None:
        from .errors import PlaygroundError
        from .lr_finder import find_lr

        self.worker.send("began", self.id)
        data = self.project.data.to_dict()
        dataset = self.worker.dataset_for(data, self.project.training.device)
        result, error = None, ""
        try:
            result = find_lr(self.project, dataset=dataset, callback=self._on_step,
                             should_stop=self._stop.is_set, **self.args)
        except BaseException as e:  # noqa: BLE001 — the window says why the search ended
            error = str(e) if isinstance(e, PlaygroundError) else f"{type(e).__name__}: {e}"
        self._flush(time.perf_counter())
        self.worker.send("lr_end", self.id, result, error)
