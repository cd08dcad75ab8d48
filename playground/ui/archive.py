"""The window's run store (core.run_store): every run recorded as it trains, a project's runs brought
back into the run list and the plots when it opens, and the weights of any stored epoch on request.

Files are written by one background thread, in order: an epoch's snapshot and run.json cost a few
fsyncs, and the GUI thread paints meanwhile. Reads (a snapshot for the timeline) are files written
whole, safe from any thread."""

from __future__ import annotations

import copy
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot

from ..core.checkpoint import Checkpoint
from ..core.errors import PlaygroundError
from ..core.run_store import RunRecord, RunStore, default_store
from ..core.training import EndEvent, EpochEvent, StepEvent, epoch_record


class RunArchive(QObject):
    """Between the session and the run store; run ids are the window's (ints), stored ones "run-0001"."""

    recorded = Signal(int)       # window run id: its record on disk changed (an epoch, its end, a rename)
    failed = Signal(str)         # a write that did not happen, in words (the run goes on unrecorded)
    store_changed = Signal()     # another store (a project opened or saved under a new name)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.enabled = True
        self.store: RunStore | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="run-store")
        self._stored: dict[int, tuple[RunStore, str]] = {}   # window run id -> its store and stored id
        self._writers: dict[int, object] = {}                # window run id -> RunWriter while it trains
        self._pending: dict[int, dict] = {}                  # window run id -> {epoch: record} awaiting weights
        self._steps: dict[int, list] = {}
        self._steps_per_epoch: dict[int, int] = {}
        self.failed.connect(self._on_self_failed, Qt.QueuedConnection)   # emitted in the writing thread

    # --- which store ---------------------------------------------------------------------------

    def open_for_document(self) -> list[int]:
        """The open project's store, and its runs that are not listed yet into the run list and plots."""
        doc = self.window.document
        path = default_store(doc.path, doc.name)
        try:
            self.store = RunStore(path, create=False)
        except PlaygroundError as e:
            self.store = None
            self.window.statusBar().showMessage(f"Runs are not kept: {e}", 10000)
            return []
        self.store_changed.emit()
        return self.load_runs()

    def use_store(self, path: str | Path) -> list[int]:
        """Another folder as the store (the user picked it); its runs come into the list."""
        self.store = RunStore(path, create=True)
        self.store_changed.emit()
        return self.load_runs()

    def load_runs(self) -> list[int]:
        if self.store is None:
            return []
        listed = {(s.root.resolve(), rid) for s, rid in self._stored.values()}
        records, problems = self.store.runs()
        added = []
        for record in records:
            if (self.store.root.resolve(), record.id) not in listed:
                added.append(self._list(record))
        if problems:
            self.window.statusBar().showMessage(
                f"{len(problems)} stored run{'s' if len(problems) != 1 else ''} could not be read: {problems[0]}", 15000)
        return added

    def _list(self, record: RunRecord) -> int:
        from .runs import settings_summary

        w = self.window
        w.session.run_id += 1
        run_id = w.session.run_id
        summary = settings_summary(record.project)
        w.plots.begin_run(run_id, record.name, summary)
        w.runs.add_run(run_id, record.name, summary, w.plots.run_color(run_id), task=record.project.data.dataset)
        self._stored[run_id] = (self.store, record.id)
        feed_plots(w.plots, run_id, record)
        final = dict(record.epochs[-1]) if record.epochs else {}
        final["test_accuracy"] = record.test_accuracy
        w.runs.update_run(run_id, status=record.status, metrics=final, reason=record.reason)
        w.runs.set_note(run_id, record.note)
        return run_id

    # --- recording a run -------------------------------------------------------------------------

    def record(self, run_id: int, run, project, name: str, *, parent: dict | None = None,
               sweep: dict | None = None, resume: dict | None = None) -> bool:
        """Start recording `run` (a TrainingRun made with snapshots=True); False when runs are not kept."""
        if not self.enabled:
            return False
        if self.store is None:
            doc = self.window.document
            self.store = RunStore(default_store(doc.path, doc.name), create=False)
        resume = resume or {}
        try:
            writer = self.store.new_run(copy.deepcopy(project), name, parent=parent, sweep=sweep,
                                        start_epoch=resume.get("start_epoch", 0), history=resume.get("history"))
        except (PlaygroundError, OSError) as e:
            self.failed.emit(f"{name} is not recorded: {e}")
            return False
        self._writers[run_id] = writer
        self._stored[run_id] = (self.store, writer.id)
        self._pending[run_id], self._steps[run_id] = {}, []
        run.step_reported.connect(lambda steps, rid=run_id: self._on_steps(rid, steps))
        run.epoch_finished.connect(lambda event, rid=run_id: self._on_epoch(rid, event))
        run.snapshot_taken.connect(lambda epoch, state, rid=run_id: self._on_snapshot(rid, epoch, state))
        return True

    def _on_steps(self, run_id: int, steps: list) -> None:
        self._steps[run_id].extend((s.global_step, s.loss) for s in steps)
        self._steps_per_epoch[run_id] = steps[-1].steps

    def _on_epoch(self, run_id: int, event: EpochEvent) -> None:
        self._pending[run_id][event.epoch] = epoch_record(event)

    def _on_snapshot(self, run_id: int, epoch: int, state: dict) -> None:
        writer = self._writers.get(run_id)
        if writer is None:
            return
        pending = self._pending[run_id]
        record = pending.pop(epoch, None)
        if record is None:   # the initial weights
            self._submit(run_id, writer.snapshot, epoch, state)
            return
        # the epochs since the last snapshot (epochs closer together share one: worker.SNAPSHOT_GAP_S)
        earlier = [pending.pop(e) for e in sorted(e for e in pending if e < epoch)]
        steps, self._steps[run_id] = self._steps[run_id], []
        spe = self._steps_per_epoch.get(run_id)

        def write():
            for older in earlier:
                writer.epoch(older, None)
            return writer.epoch(record, state, steps, spe)

        self._submit(run_id, write)

    def finish(self, run_id: int, run, end: EndEvent) -> None:
        """The run ended: epochs whose weights never came, then its final checkpoint and status."""
        writer = self._writers.pop(run_id, None)
        if writer is None:
            return
        orphans = [record for _, record in sorted(self._pending.pop(run_id, {}).items())]   # weights never came
        steps = self._steps.pop(run_id, [])
        state = run.result if run is not None else None
        if state is None and run is not None and run.last_weights is not None:
            state = Checkpoint(project=copy.deepcopy(run.project), model=run.last_weights, epoch=run.last_weights_epoch)

        def write():
            for record in orphans:
                writer.epoch(record, None)
            writer.add_steps(steps, self._steps_per_epoch.get(run_id))
            writer.finish(end.status, end.reason, end.test_accuracy, state)

        self._submit(run_id, write)

    def _submit(self, run_id: int, fn, *args) -> None:
        def job():
            try:
                written = fn(*args)
            except Exception as e:  # noqa: BLE001 — a write that failed is said; the run goes on
                self.failed.emit(f"the run store could not write {self._stored[run_id][1]}: {e}")
            else:
                if written is not False:   # False: an epoch kept for the next write of run.json
                    self.recorded.emit(run_id)

        self._executor.submit(job)

    def wait(self) -> None:
        """Block until every write asked for so far is on disk (tests, and closing the window)."""
        if threading.current_thread().name.startswith("run-store"):
            return   # asked from a write itself: everything before it is done
        self._executor.submit(lambda: None).result()

    def shutdown(self) -> None:
        """Closing the window: every write done and the writing thread ended (a window closed mid-run
        left it idling on). A later write, should one come, starts a thread of its own again."""
        self.wait()
        self._executor.shutdown(wait=True)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="run-store")

    @Slot(str)
    def _on_self_failed(self, message: str) -> None:
        self.window.statusBar().showMessage(message, 15000)

    # --- what is stored ----------------------------------------------------------------------------

    def stored_id(self, run_id: int) -> str | None:
        entry = self._stored.get(run_id)
        return entry[1] if entry else None

    def is_training(self, run_id: int) -> bool:
        return run_id in self._writers

    def record_of(self, run_id: int) -> RunRecord | None:
        entry = self._stored.get(run_id)
        if entry is None:
            return None
        writer = self._writers.get(run_id)
        if writer is not None:
            return writer.record
        self.wait()   # its last writes (the end) on disk first: a few milliseconds at most
        try:
            return entry[0].run(entry[1])
        except PlaygroundError:
            return None

    def has_final(self, run_id: int) -> bool:
        record = self.record_of(run_id)
        return record is not None and record.final

    def final_weights(self, run_id: int):
        """The run's final checkpoint as TrainedWeights (saved: it is in the store), or None."""
        from .session import TrainedWeights

        store, stored = self._stored[run_id]
        try:
            state = store.final(stored)
        except PlaygroundError as e:
            self.window.statusBar().showMessage(str(e), 10000)
            return None
        return TrainedWeights(state, saved_to=[str(store.root / stored)])

    def snapshot(self, run_id: int, epoch: int) -> dict:
        store, stored = self._stored[run_id]
        return store.snapshot(stored, epoch)

    def fork_state(self, run_id: int, epoch: int) -> Checkpoint:
        store, stored = self._stored[run_id]
        return store.fork_state(stored, epoch)

    def rename(self, run_id: int, name: str) -> None:
        self._edit(run_id, "rename", name)

    def annotate(self, run_id: int, note: str) -> None:
        self._edit(run_id, "annotate", note)

    def _edit(self, run_id: int, how: str, text: str) -> None:
        store, stored = self._stored[run_id]
        # through the writing thread: a run that trains has its run.json written there
        future = self._executor.submit(getattr(store, how), stored, text)
        future.result()

    def delete(self, run_id: int) -> None:
        store, stored = self._stored[run_id]
        self.wait()
        store.delete(stored)
        del self._stored[run_id]

    def forget(self, run_id: int) -> None:
        """The run left the list (its files stay in the store; reopening brings it back)."""
        if run_id not in self._writers:
            self._stored.pop(run_id, None)

    def export(self, run_id: int, path: str | Path, epoch: int | None = None) -> None:
        store, stored = self._stored[run_id]
        self.wait()
        store.export(stored, path, epoch)

    def size_text(self) -> str:
        from ..core.shapes import format_bytes

        if self.store is None:
            return "Runs are not kept"
        writing = [w for w in self._writers.values() if w.store is self.store]
        if writing:   # a run trains: its writer keeps the count (walking thousands of snapshots each time held the window)
            size = max(w.store_size for w in writing)
        else:
            size = self.store.size() if self.store.root.is_dir() else 0
        over = " — over budget: the newest snapshots are thinned" if size > self.store.budget else ""
        return f"Run store: {format_bytes(size)} of {format_bytes(self.store.budget)}{over}"


def feed_plots(plots, run_id: int, record: RunRecord) -> None:
    """A stored run's curves: its reported steps, its epochs and its end, as they came when it trained."""
    spe = record.steps_per_epoch
    lrs = {e["epoch"]: e.get("lr") or 0.0 for e in record.epochs}
    steps = []
    for global_step, loss in record.steps:
        epoch = (global_step - 1) // spe + 1 if spe else 1
        steps.append(StepEvent(epoch, global_step - (epoch - 1) * spe if spe else global_step, spe or 1,
                               global_step, loss, lrs.get(epoch, 0.0), 0.0))
    plots.add_steps(run_id, steps)
    for e in record.epochs:
        plots.add_epoch(run_id, EpochEvent(**{k: e.get(k) for k in EpochEvent.__dataclass_fields__ if k != "kind"}))
    if record.status != "running":
        plots.end_run(run_id, EndEvent(record.status, record.reason, record.last_epoch, record.test_accuracy))
