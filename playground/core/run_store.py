"""The run store: every run of a project kept on disk beside it, with its settings, history, final
weights and snapshots of the weights at its epochs, written atomically as the run goes.

Layout (PROJECT.json's store is PROJECT.runs/ beside it, or any folder the user picks):

    PROJECT.runs/
      store.json               {"format": "playground-runs", "version": 1, "budget_bytes": N}
      run-0001/
        run.json               settings (the project), name, note, history, parent, sweep, snapshots
        epoch-0000.pt          the initial weights: a plain state_dict (torch.load(weights_only=True))
        epoch-0003.pt          ... the weights after epoch 3
        final.checkpoint.pt    the run's end: a Playground checkpoint (weights, optimizer, scheduler,
                               data position, history), as `playground train` writes one
        .writing               held (flock) while a process writes the run: a crash lets go of it

What a snapshot holds: the model's state_dict only. A fork from a snapshot starts from exactly those
weights with a fresh optimizer; a fork from the last epoch of a finished run takes the optimizer's
state from the final checkpoint too (when the optimizer did not change, core.resume.carry_over).

Crash consistency: every file is written whole (temp file + rename). After each epoch the snapshot
is written first and run.json after it, so run.json names only files that exist; a crash loses at
most the epoch under way. A run whose writer died is found with its lock free and reads as
"interrupted", its finished epochs there.

The budget bounds the store's size on disk. After each snapshot, while the store is over budget,
the writer thins the run's own snapshots: it keeps the first (the initial weights), the best (lowest
validation loss, else training loss) and the newest, and drops the one whose neighbours lie closest
together, so the rest stay evenly spread. If the store is still over budget the newest snapshot is
dropped too (the final checkpoint still keeps the end). Other runs' files are never touched; the
final checkpoints and run.json files are always written, so a store that is over budget by them
says so (RunStore.over_budget) instead of losing a run.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import PlaygroundError, ProjectError
from .files import FileWriteError, atomic_write_bytes, lock_fd, read_limited, unlock_fd, user_data_dir
from .spec import Project, check_json_values, decode_text, parse_json

STORE_FORMAT, RUN_FORMAT, VERSION = "playground-runs", "playground-run", 1
DEFAULT_BUDGET = 256 * 2**20      # bytes: each epoch of a small network, thinned for a big one
MAX_RUN_JSON = 64 * 2**20         # a run.json larger than this is not one a run wrote
MAX_STEPS = 4000                  # loss points kept per run: halved (every other one) beyond this
RUN_NAME = re.compile(r"run-(\d{4,9})")
SNAPSHOT = re.compile(r"epoch-(\d{4,9})\.pt")
FINAL = "final.checkpoint.pt"
LOCK = ".writing"
STATUSES = ("running", "finished", "stopped", "failed")
INTERRUPTED = "interrupted"       # "running" on disk, but no process writes it any more


class RunStoreError(PlaygroundError):
    """A run store, or one run in it, that cannot be read or written; says which and why."""


def store_for(project_path: str | Path) -> Path:
    """Where a project file's runs live: PROJECT.runs beside PROJECT.json."""
    path = Path(project_path)
    return path.with_name(path.stem + ".runs")


def unsaved_folder() -> Path:
    """$PLAYGROUND_RUNS_DIR, else the platform's data folder (~/.local/share/playground/runs): the
    stores of projects without a file of their own (a new project, a shipped example)."""
    explicit = os.environ.get("PLAYGROUND_RUNS_DIR")
    return Path(explicit) if explicit else user_data_dir() / "runs"


def default_store(project_path: str | Path | None, name: str = "Untitled") -> Path:
    """The store a project's runs go to: beside its file; for a project without one, or a shipped
    example (never written into the installation), a store named after it in unsaved_folder()."""
    if project_path is not None and not _shipped(Path(project_path)):
        return store_for(project_path)
    stem = Path(project_path).stem if project_path is not None else _file_stem(name)
    return unsaved_folder() / f"{stem}.runs"


def _shipped(path: Path) -> bool:
    from ..resources_path import example_path

    try:
        return path.resolve().parent == example_path("").resolve()
    except OSError:
        return False


def _file_stem(text: str) -> str:
    return "_".join("".join(c if c.isalnum() else " " for c in text.lower()).split()) or "untitled"


@dataclass
class RunRecord:
    """One stored run, as read from its run.json."""

    id: str                        # its folder's name: "run-0001"
    folder: Path
    project: Project
    name: str = ""
    note: str = ""
    created: float = 0.0           # time.time() when it began
    status: str = "running"        # running | finished | stopped | failed | interrupted
    reason: str = ""
    epochs: list = field(default_factory=list)     # the epoch records of the history (EpochEvent fields)
    steps: list = field(default_factory=list)      # [global step, loss] pairs, at most MAX_STEPS
    test_accuracy: float | None = None
    steps_per_epoch: int = 0
    start_epoch: int = 0           # epochs done before this run (a fork's or a continued run's)
    snapshots: list = field(default_factory=list)  # epochs whose weights are on disk, ascending
    final: bool = False            # final.checkpoint.pt is written
    parent: dict | None = None     # {"run": "run-0003", "epoch": 4}: forked from that snapshot
    sweep: dict | None = None      # {"id": "...", "values": {"lr": 0.01}}: one of a sweep's runs

    @property
    def history(self) -> dict:
        return {"status": self.status, "reason": self.reason, "epochs": list(self.epochs),
                "test_accuracy": self.test_accuracy, "steps": list(self.steps)}

    @property
    def last_epoch(self) -> int:
        return self.epochs[-1]["epoch"] if self.epochs else self.start_epoch

    @property
    def seconds(self) -> float:
        return float(sum(e.get("seconds") or 0.0 for e in self.epochs))

    def best(self, metric: str = "val_loss") -> tuple[int, float] | None:
        """(epoch, value) of the best epoch by `metric` (lowest loss, highest accuracy)."""
        scored = [(e["epoch"], e.get(metric)) for e in self.epochs
                  if isinstance(e.get(metric), (int, float)) and math.isfinite(e[metric])]
        if not scored:
            return None
        pick = max if metric.endswith("accuracy") else min
        return pick(scored, key=lambda ev: ev[1])

    def to_dict(self) -> dict:
        return {
            "format": RUN_FORMAT, "version": VERSION, "name": self.name, "note": self.note,
            "created": self.created, "project": self.project.to_dict(), "status": self.status,
            "reason": self.reason, "epochs": self.epochs, "steps": self.steps,
            "test_accuracy": self.test_accuracy, "steps_per_epoch": self.steps_per_epoch,
            "start_epoch": self.start_epoch, "snapshots": self.snapshots, "final": self.final,
            "parent": self.parent, "sweep": self.sweep,
        }


# --- parsing run.json -----------------------------------------------------------------------------

_EPOCH_KEYS = ("epoch", "epochs", "train_loss", "val_loss", "val_accuracy", "samples_per_second", "seconds",
               "lr", "train_accuracy", "penalty")


def parse_run(raw: Any, run_id: str = "run", folder: Path | None = None) -> RunRecord:
    """A RunRecord from run.json's parsed JSON; RunStoreError with one sentence for anything else."""
    where = f"{run_id}/run.json"
    try:
        check_json_values(raw, where)
    except ProjectError as e:
        raise RunStoreError(f"{where}: {e}") from None
    if not isinstance(raw, dict):
        raise RunStoreError(f"{where} is not a run record: it holds {_kind(raw)}, not an object")
    if raw.get("format") != RUN_FORMAT:
        raise RunStoreError(f"{where} is not a Playground run record (its format is {_short(raw.get('format'))})")
    version = raw.get("version")
    if type(version) is not int or not 1 <= version <= VERSION:
        raise RunStoreError(f"{where} has version {_short(version)}; this Playground reads version {VERSION} "
                            "— a newer Playground wrote it")
    try:
        project = Project.from_dict(raw.get("project"))
    except ProjectError as e:
        raise RunStoreError(f"{where}: its settings cannot be used: {e}") from None
    text = {k: raw.get(k, "") for k in ("name", "note", "reason")}
    for key, value in text.items():
        if not isinstance(value, str):
            raise RunStoreError(f"{where}: {key!r} is {_kind(value)}, not text")
    status = raw.get("status")
    if status not in STATUSES:
        raise RunStoreError(f"{where}: the status {_short(status)} is not one of {', '.join(STATUSES)}")
    epochs = _list(raw, "epochs", where)
    for i, record in enumerate(epochs):
        if not isinstance(record, dict):
            raise RunStoreError(f"{where}: epochs[{i}] is {_kind(record)}, not an epoch's record")
        if type(record.get("epoch")) is not int or record["epoch"] < 1:
            raise RunStoreError(f"{where}: epochs[{i}] has no epoch number")
        if i and record["epoch"] <= epochs[i - 1]["epoch"]:
            raise RunStoreError(f"{where}: epochs[{i}] is epoch {record['epoch']}, not after epoch "
                                f"{epochs[i - 1]['epoch']}")
        for key in _EPOCH_KEYS:
            value = record.get(key)
            if key == "train_loss" and not _number(value) or value is not None and not _number(value):
                raise RunStoreError(f"{where}: epochs[{i}][{key!r}] is {_short(value)}, not a number")
    steps = _list(raw, "steps", where)
    for i, step in enumerate(steps):
        if not (isinstance(step, list) and len(step) == 2 and type(step[0]) is int and _number(step[1])):
            raise RunStoreError(f"{where}: steps[{i}] is {_short(step)}, not a [step, loss] pair")
    snapshots = _list(raw, "snapshots", where)
    if any(type(e) is not int or e < 0 for e in snapshots) or snapshots != sorted(set(snapshots)):
        raise RunStoreError(f"{where}: 'snapshots' must be ascending epoch numbers")
    counts = {}
    for key in ("steps_per_epoch", "start_epoch"):
        value = raw.get(key, 0)
        if type(value) is not int or value < 0:
            raise RunStoreError(f"{where}: {key!r} is {_short(value)}, not a count")
        counts[key] = value
    accuracy, created = raw.get("test_accuracy"), raw.get("created", 0.0)
    if accuracy is not None and not _number(accuracy):
        raise RunStoreError(f"{where}: 'test_accuracy' is {_short(accuracy)}, not a number")
    if not _number(created):
        raise RunStoreError(f"{where}: 'created' is {_short(created)}, not a time")
    if type(raw.get("final", False)) is not bool:
        raise RunStoreError(f"{where}: 'final' must be true or false")
    parent = raw.get("parent")
    if parent is not None and not (isinstance(parent, dict) and isinstance(parent.get("run"), str)
                                   and type(parent.get("epoch")) is int and parent["epoch"] >= 0):
        raise RunStoreError(f"{where}: 'parent' must be null or {{\"run\": name, \"epoch\": number}}")
    sweep = raw.get("sweep")
    if sweep is not None and not (isinstance(sweep, dict) and isinstance(sweep.get("id"), str)
                                  and isinstance(sweep.get("values"), dict)):
        raise RunStoreError(f"{where}: 'sweep' must be null or {{\"id\": text, \"values\": {{...}}}}")
    return RunRecord(
        id=run_id, folder=folder or Path(run_id), project=project, name=text["name"], note=text["note"],
        created=float(created), status=status, reason=text["reason"], epochs=epochs, steps=steps,
        test_accuracy=accuracy, snapshots=snapshots, final=raw.get("final", False), parent=parent,
        sweep=sweep, **counts,
    )


def _list(raw: dict, key: str, where: str) -> list:
    value = raw.get(key, [])
    if not isinstance(value, list):
        raise RunStoreError(f"{where}: {key!r} is {_kind(value)}, not a list")
    return value


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _kind(obj: Any) -> str:
    name = {dict: "an object", list: "a list", str: "text", type(None): "null", bool: "true/false"}.get(type(obj))
    return name or ("a number" if _number(obj) else f"a {type(obj).__name__}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --- the store -------------------------------------------------------------------------------------


class RunStore:
    """The runs of one project on disk. Reading never changes a file; writing goes through RunWriter."""

    def __init__(self, root: str | Path, create: bool = True):
        self.root = Path(root)
        self._budget = DEFAULT_BUDGET
        self._last = 0    # the highest run number ever given out (store.json keeps it)
        meta = self.root / "store.json"
        if self.root.exists() and not self.root.is_dir():
            raise RunStoreError(f"{self.root} is a file, not a run store folder")
        if meta.exists():
            raw = _read_json(meta, "a run store's store.json")
            if not isinstance(raw, dict) or raw.get("format") != STORE_FORMAT:
                raise RunStoreError(f"{meta} is not a Playground run store's store.json")
            budget = raw.get("budget_bytes")
            if type(budget) is not int or budget < 0:
                raise RunStoreError(f"{meta}: 'budget_bytes' must be a whole number of bytes")
            self._budget = budget
            last = raw.get("last_run", 0)
            self._last = last if type(last) is int and last >= 0 else 0
        elif create:
            self._write_meta()

    def _write_meta(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RunStoreError(f"cannot make the run store {self.root}: {e.strerror or e}") from None
        text = parse_json_dump({"format": STORE_FORMAT, "version": VERSION, "budget_bytes": self._budget,
                                "last_run": self._last})
        atomic_write_bytes(self.root / "store.json", text)

    # --- the budget --------------------------------------------------------------------------------

    @property
    def budget(self) -> int:
        return self._budget

    def set_budget(self, budget: int) -> None:
        """The most bytes the store should take on disk (new snapshots are thinned to fit)."""
        if type(budget) is not int or budget < 0:
            raise RunStoreError(f"the budget must be a whole number of bytes, not {budget!r}")
        self._budget = budget
        self._write_meta()

    def size(self) -> int:
        """Bytes the store's files take (their sizes, as `du --apparent-size` counts)."""
        total = 0
        for dirpath, _, files in os.walk(self.root):
            for name in files:
                try:
                    total += os.lstat(os.path.join(dirpath, name)).st_size
                except OSError:
                    pass
        return total

    def over_budget(self) -> int:
        """Bytes beyond the budget (0 when within it)."""
        return max(0, self.size() - self._budget)

    # --- reading -----------------------------------------------------------------------------------

    def run_ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if RUN_NAME.fullmatch(p.name) and p.is_dir())

    def runs(self) -> tuple[list[RunRecord], list[str]]:
        """Every run that reads, oldest first, and one sentence per run that does not."""
        runs, problems = [], []
        for run_id in self.run_ids():
            try:
                runs.append(self.run(run_id))
            except RunStoreError as e:
                problems.append(str(e))
        return runs, problems

    def run(self, run_id: str) -> RunRecord:
        folder = self._folder(run_id)
        raw = _read_json(folder / "run.json", "a run's record (run.json)")
        record = parse_run(raw, run_id, folder)
        if record.status == "running" and not writing(folder):
            record.status = INTERRUPTED
            record.reason = record.reason or (f"the process writing it ended during epoch {record.last_epoch + 1}; "
                                              "the finished epochs are kept")
        return record

    def _folder(self, run_id: str) -> Path:
        if not RUN_NAME.fullmatch(run_id):
            raise RunStoreError(f"{run_id!r} is not a run of the store (runs are named run-0001, run-0002, ...)")
        folder = self.root / run_id
        if not folder.is_dir():
            raise RunStoreError(f"{run_id} is not in the run store {self.root}")
        return folder

    def snapshot(self, run_id: str, epoch: int) -> dict:
        """The weights after `epoch` (0: the initial weights), checked against the run's network."""
        from .checkpoint import _check_fits_own_project, load_state_dict
        from .errors import CheckpointError

        record = self.run(run_id)
        if epoch not in record.snapshots:
            kept = ", ".join(map(str, record.snapshots)) or "none"
            raise RunStoreError(f"{run_id} kept no weights of epoch {epoch} (kept: {kept})")
        path = record.folder / snapshot_name(epoch)
        try:
            state = load_state_dict(path)
            _check_fits_own_project(state, record.project, path)
        except CheckpointError as e:
            raise RunStoreError(str(e)) from None
        return state

    def final(self, run_id: str):
        """The run's final checkpoint (core.checkpoint.Checkpoint)."""
        from .checkpoint import load_checkpoint
        from .errors import CheckpointError

        record = self.run(run_id)
        if not record.final:
            raise RunStoreError(f"{run_id} has no final weights ({record.status} before it ended)")
        try:
            return load_checkpoint(record.folder / FINAL)
        except CheckpointError as e:
            raise RunStoreError(str(e)) from None

    def fork_state(self, run_id: str, epoch: int):
        """What a fork from `epoch` of the run starts from: a Checkpoint with the snapshot's weights,
        the run's history up to that epoch, and (at the final epoch) the optimizer's state."""
        from .checkpoint import Checkpoint

        record = self.run(run_id)
        if record.final and epoch == record.last_epoch:
            state = self.final(run_id)
        else:
            state = Checkpoint(project=record.project, model=self.snapshot(run_id, epoch), epoch=epoch)
        history = record.history
        history["epochs"] = [e for e in record.epochs if e["epoch"] <= epoch]
        last_step = epoch * record.steps_per_epoch if record.steps_per_epoch else None
        history["steps"] = [s for s in record.steps if last_step is None or s[0] <= last_step]
        state.history, state.epoch = history, epoch
        return state

    # --- changing ----------------------------------------------------------------------------------

    def rename(self, run_id: str, name: str) -> None:
        self._edit(run_id, name=name)

    def annotate(self, run_id: str, note: str) -> None:
        self._edit(run_id, note=note)

    def _edit(self, run_id: str, **changes) -> None:
        for key, value in changes.items():
            if not isinstance(value, str):
                raise RunStoreError(f"a run's {key} must be text")
        writer = _WRITERS.get(self._folder(run_id).resolve())
        if writer is not None:   # it is written here: the writer keeps the edit in its next run.json too
            for key, value in changes.items():
                setattr(writer.record, key, value)
            writer.save()
            return
        folder = self._folder(run_id)
        if writing(folder):
            raise RunStoreError(f"{run_id} is being written by another Playground; rename it there or when it ends")
        record = self.run(run_id)
        if record.status == INTERRUPTED:
            record.status = "stopped"   # writing it again: say what happened instead of "running"
        for key, value in changes.items():
            setattr(record, key, value)
        _save_record(record)

    def delete(self, run_id: str) -> None:
        """The run and every file of it."""
        folder = self._folder(run_id)
        if folder.resolve() in _WRITERS or writing(folder):
            raise RunStoreError(f"{run_id} is still training; stop it before deleting it")
        trash = folder.with_name(f".deleted-{run_id}-{os.getpid()}")
        try:
            os.replace(folder, trash)   # gone from the list at once, even if removing its files fails midway
            shutil.rmtree(trash)
        except OSError as e:
            raise RunStoreError(f"cannot delete {run_id}: {e.strerror or e}") from None

    def export(self, run_id: str, path: str | Path, epoch: int | None = None) -> None:
        """A checkpoint of the run (its end, or the snapshot of `epoch`) that `playground train --resume`
        and File > Open weights read."""
        from .checkpoint import save_checkpoint

        record = self.run(run_id)
        state = self.fork_state(run_id, record.last_epoch if epoch is None else epoch)
        state.project = record.project
        save_checkpoint(state, path)

    def new_run(self, project: Project, name: str = "", *, parent: dict | None = None,
                sweep: dict | None = None, start_epoch: int = 0, history: dict | None = None) -> "RunWriter":
        """A new run folder, locked for writing; its number is one past the highest in the store."""
        if not self.root.is_dir():
            self._write_meta()
        for _ in range(1000):
            # never a deleted run's number again: a fork's parent names its run by number
            highest = max((int(RUN_NAME.fullmatch(i).group(1)) for i in self.run_ids()), default=0)
            number = max(highest, self._last) + 1
            folder = self.root / f"run-{number:04d}"
            try:
                folder.mkdir()   # atomic: two writers never take the same number
            except FileExistsError:
                self._last = number
                continue
            except OSError as e:
                raise RunStoreError(f"cannot add a run to {self.root}: {e.strerror or e}") from None
            self._last = number
            self._write_meta()
            return RunWriter(self, folder, project, name or f"Run {number}", parent=parent, sweep=sweep,
                             start_epoch=start_epoch, history=history)
        raise RunStoreError(f"cannot add a run to {self.root}: no free run number")


def snapshot_name(epoch: int) -> str:
    return f"epoch-{epoch:04d}.pt"


def writing(folder: Path) -> bool:
    """Whether a live process holds the run's lock (its lock file exists and cannot be taken)."""
    path = folder / LOCK
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        lock_fd(fd)
    except OSError:
        return True
    else:
        unlock_fd(fd)
        return False
    finally:
        os.close(fd)


def parse_json_dump(raw: dict) -> bytes:
    import json

    return (json.dumps(raw, indent=1) + "\n").encode("utf-8")


def _read_json(path: Path, what: str) -> Any:
    try:
        data = read_limited(path, MAX_RUN_JSON, what, RunStoreError)
        return parse_json(decode_text(data), what)
    except UnicodeDecodeError:
        raise RunStoreError(f"{path} is not text (JSON)") from None
    except ProjectError as e:
        raise RunStoreError(f"{path}: {e}") from None


def _save_record(record: RunRecord) -> None:
    atomic_write_bytes(record.folder / "run.json", parse_json_dump(record.to_dict()))


_WRITERS: dict[Path, "RunWriter"] = {}   # run folders written by this process: edits go through them


RECORD_INTERVAL_S = 1.0   # run.json is written at most once a second: a toy set's epochs take milliseconds,
                          # and rewriting the whole history after each (json + fsync) held the GIL, so the
                          # window froze (spiral: ~30 epochs a second, the GUI timer 400 ms late)


class RunWriter:
    """Writes one run as it goes: `epoch` after each epoch, `finish` at the end. Holds the run's lock."""

    def __init__(self, store: RunStore, folder: Path, project: Project, name: str, *, parent=None, sweep=None,
                 start_epoch: int = 0, history: dict | None = None):
        self.store = store
        self._fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        lock_fd(self._fd)
        history = history or {}
        self.record = RunRecord(
            id=folder.name, folder=folder, project=project, name=name, created=time.time(),
            parent=parent, sweep=sweep, start_epoch=start_epoch,
            epochs=[dict(e) for e in history.get("epochs", [])],
            steps=[list(s) for s in history.get("steps", [])],
        )
        self._json_size = 0
        self._size = store.size()   # the store's bytes, kept up to date by this writer's own writes
        self._saved_at = -math.inf  # when run.json was last written (time.monotonic)
        self._unlink_later: list[Path] = []   # snapshots thinned out since, still named by run.json on disk
        _WRITERS[folder.resolve()] = self
        self.save()
        self._saved_at = -math.inf   # the first epoch is written at once, whatever its length

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def store_size(self) -> int:
        """The store's bytes as this writer counts them (its own writes added to the size it found)."""
        return self._size

    def save(self) -> None:
        data = parse_json_dump(self.record.to_dict())
        atomic_write_bytes(self.record.folder / "run.json", data)
        self._size += len(data) - self._json_size
        self._json_size = len(data)
        self._saved_at = time.monotonic()

    def _projected(self) -> int:
        """The store's size, run.json as last written (dumping the whole history to measure it at every
        epoch cost as much as writing it); flush() thins again once the new size is known."""
        return self._size

    def snapshot(self, epoch: int, weights: dict) -> None:
        """Keep the weights after `epoch` (0 or the start epoch: the initial ones), within the budget."""
        from .checkpoint import save_weights

        r = self.record
        if epoch in r.snapshots:
            return
        path = r.folder / snapshot_name(epoch)
        save_weights(weights, path)
        self._size += path.stat().st_size
        r.snapshots = sorted(r.snapshots + [epoch])
        self._thin(newest=epoch)

    def epoch(self, record: dict, weights: dict | None = None, steps: list | None = None,
              steps_per_epoch: int | None = None) -> bool:
        """After an epoch: its record (EpochEvent's fields), the steps reported since the last call,
        and the weights (a snapshot when given); the snapshot is on disk before run.json names it.
        Epochs closer together than RECORD_INTERVAL_S share one write of run.json; True when written."""
        r = self.record
        r.epochs.append({k: v for k, v in record.items() if k != "kind"})
        self.add_steps(steps or [], steps_per_epoch)
        if weights is not None:
            self._unlink_later += self._snapshot_deferred(record["epoch"], weights)
        if time.monotonic() - self._saved_at < RECORD_INTERVAL_S:
            return False   # the next write names it: a crash loses at most the last second's epochs
        self.flush()
        return True

    def flush(self, thin: bool = True) -> None:
        """run.json as the record stands, then the snapshot files it no longer names go; `thin`: within
        the budget now that run.json's size is known (not at the end: the final checkpoint is no snapshot)."""
        self.save()
        removed, self._unlink_later = self._unlink_later, []
        self._unlink(removed)
        if thin and self._size > self.store.budget and self.record.snapshots:
            self._thin(newest=self.record.snapshots[-1])

    def add_steps(self, steps: list, steps_per_epoch: int | None = None) -> None:
        r = self.record
        r.steps.extend([int(g), float(loss)] for g, loss in steps)
        while len(r.steps) > MAX_STEPS:
            r.steps = r.steps[::2] if len(r.steps) % 2 else r.steps[::2][:-1] + [r.steps[-1]]
        if steps_per_epoch:
            r.steps_per_epoch = int(steps_per_epoch)

    def finish(self, status: str, reason: str, test_accuracy: float | None = None, checkpoint=None) -> None:
        """The run's end: its final checkpoint (when it left one), then run.json, then the lock goes."""
        from .checkpoint import save_checkpoint

        r = self.record
        try:
            if checkpoint is not None:
                save_checkpoint(checkpoint, r.folder / FINAL)
                self._size += (r.folder / FINAL).stat().st_size
                r.final = True
            r.status, r.reason, r.test_accuracy = status, reason, test_accuracy
            self.flush(thin=False)
        finally:
            self.close()

    def close(self) -> None:
        if self._fd is None:
            return
        _WRITERS.pop(self.record.folder.resolve(), None)
        try:
            os.unlink(self.record.folder / LOCK)
        except OSError:
            pass
        unlock_fd(self._fd)
        os.close(self._fd)
        self._fd = None

    # --- the budget --------------------------------------------------------------------------------

    def _snapshot_deferred(self, epoch: int, weights: dict) -> list[Path]:
        """Write the snapshot; the files thinning drops are removed only after run.json stops naming them."""
        from .checkpoint import save_weights

        r = self.record
        path = r.folder / snapshot_name(epoch)
        save_weights(weights, path)
        self._size += path.stat().st_size
        r.snapshots = sorted(set(r.snapshots) | {epoch})
        return self._thin(newest=epoch, defer=True)

    def _thin(self, newest: int, defer: bool = False) -> list[Path]:
        r = self.record
        removed: list[Path] = []
        best = self._best_epoch()
        while self._projected() > self.store.budget:
            keep = {r.snapshots[0], newest, best}
            candidates = [e for e in r.snapshots if e not in keep]
            if not candidates:
                if newest in r.snapshots and newest not in (r.snapshots[0], best):
                    candidates = [newest]
                else:
                    break
            victim = min(candidates, key=lambda e: (self._gap(e), e))
            path = r.folder / snapshot_name(victim)
            r.snapshots.remove(victim)
            try:
                self._size -= path.stat().st_size
            except OSError:
                pass
            removed.append(path)
        if not defer:
            self.save()
            self._unlink(removed)
        return removed

    def _gap(self, epoch: int) -> int:
        """How far apart the neighbours of `epoch` lie: dropping the one with the nearest keeps the spread."""
        s = self.record.snapshots
        i = s.index(epoch)
        before = s[i - 1] if i > 0 else epoch
        after = s[i + 1] if i + 1 < len(s) else epoch
        return after - before

    def _best_epoch(self) -> int | None:
        for metric in ("val_loss", "train_loss"):
            best = self.record.best(metric)
            if best is not None:
                return best[0]
        return None

    def _unlink(self, paths: list[Path]) -> None:
        for path in paths:
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as e:
                raise FileWriteError(f"cannot remove {path}: {e.strerror or e}") from None
