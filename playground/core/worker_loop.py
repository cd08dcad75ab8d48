"""The training process a window trains in: it owns the run (data, model, optimizer, the live
views' work) and talks to the window through one pipe of plain records. Qt-free.

The window starts it with torch.multiprocessing's spawn (ui/worker.py) and keeps it warm between
runs. Messages are tuples `(kind, job id, payload...)`; tensors in them travel as shared memory
(torch.multiprocessing's reductions on the pipe's pickler). A reader thread takes commands as
they come, so Stop and Pause reach the Trainer's flags within one step while the main thread
trains; the main thread runs one job at a time.

To the window:   ready(info) · events(id, [StepEvent | EpochEvent | HealthEvent]) · warning(id, text)
                 · weights(id, state_dict) · views(id, [ViewResult]) · held(id, bool)
                 · end(id, EndEvent, Checkpoint | None) · lr_steps(id, [LRFinderStep])
                 · lr_end(id, LRFinderResult | None, error) · loaded(key, error)
From the window: run(id, settings) · lr_find(id, settings) · data(DataSpec dict, device) ·
                 stop(id) · pause(id) · resume(id) · weights(id, wanted) · views(id, [ViewRequest]) · quit
"""

from __future__ import annotations

import copy
import gc
import json
import os
import queue
import sys
import threading
import time

EVENTS_INTERVAL = 1 / 30    # seconds between event batches: what the eye can use, whatever the pace
WEIGHTS_INTERVAL = 0.5      # seconds between weight copies while the window wants them (the Draw view)
KEEP_INTERVAL = 2.0         # ... and at least this often: what the window keeps if this process dies
VIEWS_INTERVAL = 0.25       # seconds between the live views' pictures: a few a second ...
VIEWS_SHARE = 0.1           # ... but never more than a tenth of the training's time
CONTROL = ("stop", "pause", "resume", "weights", "views")


def serve(conn, threads: int | None = None, initializer=None) -> None:
    """The process's main function (spawned). `threads`: torch's intra-op threads, set before any
    kernel runs (OMP_NUM_THREADS was set for it before the process started). `initializer`: a
    picklable function called once before the first job, like multiprocessing.Pool's."""
    _die_with_parent()
    import torch
    import torch.multiprocessing  # noqa: F401 — registers the reductions: tensors go by shared memory

    if threads:
        torch.set_num_threads(threads)
    if initializer is not None:
        initializer()
    _Worker(conn).serve()


def _die_with_parent() -> None:
    """Linux: the kernel kills this process when the window's process dies, even by SIGKILL —
    a reader thread noticing the closed pipe covers every other platform and every other exit."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
        if os.getppid() == 1:            # the parent died before the line above ran
            os._exit(1)
    except (OSError, AttributeError):
        pass


class _Worker:
    def __init__(self, conn):
        self.conn = conn
        self._send_lock = threading.Lock()   # the main thread and the reader thread both send
        self._jobs: queue.Queue = queue.Queue()
        self._current = None                 # the job the main thread runs, or the next one queued
        self._jobs_by_id: dict[int, object] = {}
        self._dataset = None                 # (key, Dataset): the last data loaded, for the next run
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
            message = self._jobs.get()
            kind = message[0]
            if kind == "quit":
                break
            try:
                if kind == "run":
                    self._run(message[1])
                elif kind == "lr_find":
                    self._find_lr(message[1])
                elif kind == "data":
                    self._prefetch(*message[1:])
            finally:
                self._jobs_by_id.pop(getattr(message[1], "id", None), None)
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
            kind = message[0]
            if kind in ("run", "lr_find"):
                job = (_Run if kind == "run" else _Finder)(self, *message[1:])
                self._jobs_by_id[job.id] = job
                self._jobs.put((kind, job))
            elif kind in CONTROL:
                job = self._jobs_by_id.get(message[1])
                if job is not None:
                    job.control(kind, *message[2:])
            elif kind == "quit":
                self._stop_all()
                self._jobs.put(("quit",))
                return
            else:
                self._jobs.put(message)

    def _parent_gone(self) -> None:
        """The window closed its end or died: end the job, then the process."""
        if self._gone:
            return
        self._gone = True
        self._stop_all()
        self._jobs.put(("quit",))
        # a job stuck in a load never reads the queue again: don't outlive the window for it
        threading.Timer(5.0, os._exit, (0,)).start()

    def _stop_all(self) -> None:
        for job in list(self._jobs_by_id.values()):
            job.control("stop")

    # --- jobs ----------------------------------------------------------------------------------

    def dataset_for(self, data: dict, device: str):
        """The cached dataset when it is the one asked for, else None (the run loads it)."""
        key = json.dumps([data, device], sort_keys=True)
        if self._dataset is not None and self._dataset[0] == key:
            return self._dataset[1]
        self._dataset = None   # its memory goes before the next dataset comes
        return None

    def keep_dataset(self, data: dict, device: str, dataset) -> None:
        if dataset is not None:
            self._dataset = (json.dumps([data, device], sort_keys=True), dataset)

    def _prefetch(self, data: dict, device: str) -> None:
        """Load the open project's data while the window waits for Start: the run then begins at once."""
        from . import data as datasets
        from .errors import PlaygroundError
        from .spec import DataSpec

        if self.dataset_for(data, device) is not None:
            return
        spec = DataSpec(data["dataset"], copy.deepcopy(data["params"]))
        spec.params["download"] = False   # fetching is a run's job, said in its progress
        try:
            self.keep_dataset(data, device, datasets.load(spec, device))
            self.send("loaded", data, "")
        except PlaygroundError as e:
            self.send("loaded", data, str(e))
        except Exception as e:  # noqa: BLE001 — loading ahead is a courtesy: the run says what is wrong
            self.send("loaded", data, f"{type(e).__name__}: {e}")

    def _run(self, job: "_Run") -> None:
        job.run()

    def _find_lr(self, job: "_Finder") -> None:
        job.run()


def _release_memory() -> None:
    from .memory import release_freed_memory

    gc.collect()
    release_freed_memory()


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
        self.want_weights = bool(settings.get("want_weights"))
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
        if kind == "stop":
            t.stop()
        elif kind == "pause":
            t.pause()
            threading.Thread(target=self._report_hold, daemon=True).start()
        elif kind == "resume":
            t.resume()
        elif kind == "weights":
            self.want_weights = bool(args[0])
        elif kind == "views":
            self.requests = list(args[0])
            self._views_at = 0.0   # a new request (another tab) is answered at the next step

    def _report_hold(self) -> None:
        """Say once the loop has reached the pause (or the run went on or ended without it)."""
        t = self.trainer
        while t.paused and not self.done:
            if t.wait_held(0.05):
                self.worker.send("held", self.id, True)
                return

    done = False

    def run(self) -> None:
        from .resume import run_state
        from .training import FAILED, STOPPED, EndEvent

        data, device = self.data_key
        cached = self.worker.dataset_for(data, device)
        if cached is not None:
            self.trainer.use_dataset(cached)
        try:
            if self.trainer.stopping:   # Stop came with Start: nothing to load
                end = EndEvent(STOPPED, "stopped by the user before the first step", self.trainer.epoch)
            else:
                end = self.trainer.run()
        except BaseException as e:  # noqa: BLE001 — whatever happens, the window hears how the run ended
            end = EndEvent(FAILED, f"training failed: {type(e).__name__}: {e}", self.trainer.epoch)
        self.done = True
        self._flush()
        t = self.trainer
        result = None
        if t.model is not None and t.optimizer is not None:
            try:
                result = run_state(t)
            except Exception as e:  # noqa: BLE001
                end = EndEvent(FAILED, f"the run's weights could not be copied: {type(e).__name__}: {e}",
                               end.epochs_completed, end.test_accuracy)
        self.worker.keep_dataset(data, device, t.dataset)
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
        self._events.append(event)
        now = time.perf_counter()
        if now - self._sent_at >= EVENTS_INTERVAL:
            self._flush(now)
        if event.kind not in ("step", "epoch") or t.model is None:
            return
        if (self.want_weights and now - self._weights_at >= WEIGHTS_INTERVAL) or now - self._kept_at >= KEEP_INTERVAL:
            self._weights_at = self._kept_at = now
            # copied here, between steps: no tensor the optimizer is writing
            state = {k: v.detach().to("cpu", copy=True) for k, v in t.model.state_dict().items()}
            self.worker.send("weights", self.id, state, event.epoch if event.kind == "epoch" else event.epoch - 1)
        if self.requests and now >= self._views_at:
            self._compute_views(now)

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
        self.worker.send("views", self.id, results)
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
