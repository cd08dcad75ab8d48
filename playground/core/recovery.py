"""Recovery files: the open project, autosaved so that a crash loses no work.

Each window owns one file, `recovery-TOKEN.json`, in the recovery folder, and holds an exclusive
lock on `recovery-TOKEN.lock` for as long as it lives; a clean exit removes both. The operating
system drops the lock when a process dies however it dies, so a file whose lock can be taken was
left by a crash: the next start offers to restore it. (Process ids are not used: they are reused,
after a reboot or in a container, and cannot be probed the same way on every platform.) Only the
project is kept (weights can be gigabytes and are saved on purpose, by the user); writes are
atomic, so a crash during an autosave leaves the previous one.
"""

from __future__ import annotations

import json
import math
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from .errors import PlaygroundError
from .files import atomic_write_bytes, lock_fd, read_limited, unlock_fd, user_data_dir
from .spec import MAX_PROJECT_BYTES, Project

FORMAT = "playground-recovery"
VERSION = 1
PREFIX = "recovery-"
UNREADABLE = ".unreadable"


def default_folder() -> Path:
    """$PLAYGROUND_RECOVERY_DIR, else the platform's data folder (~/.local/share/playground/recovery)."""
    explicit = os.environ.get("PLAYGROUND_RECOVERY_DIR")
    return Path(explicit) if explicit else user_data_dir() / "recovery"


@dataclass
class Recovered:
    """A recovery file left by a process that is gone; `project` is None when it cannot be read."""

    path: Path
    project: Project | None
    source: Path | None        # the project file it was opened from, None if never saved
    saved: float               # seconds since the epoch
    error: str | None = None


class RecoveryStore:
    """One window's recovery file, and the files crashed Playgrounds left behind."""

    def __init__(self, folder: str | Path | None = None):
        self.folder = Path(folder) if folder is not None else default_folder()
        token = uuid.uuid4().hex[:16]
        self.path = self.folder / f"{PREFIX}{token}.json"
        self._lock = _Lock(self.path.with_suffix(".lock"))
        self._claimed: dict[Path, _Lock] = {}  # orphans being offered: no other start offers them too

    def save(self, project: Project, source: str | Path | None) -> None:
        """Write (atomically) the project as it is now; raises OSError / FileWriteError when it cannot."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if not self._lock.held and not self._lock.acquire():
            raise PlaygroundError(f"cannot lock {self._lock.path}")
        record = {
            "format": FORMAT,
            "version": VERSION,
            "pid": os.getpid(),  # for people reading the file; liveness is the lock's business
            "saved": time.time(),
            "source": str(source) if source else None,
            "project": project.to_dict(),
        }
        atomic_write_bytes(self.path, (json.dumps(record, indent=1) + "\n").encode("utf-8"))

    def discard(self) -> None:
        """The project is saved (or was never changed): nothing to recover. Never fails."""
        _remove(self.path)

    def close(self) -> None:
        """A clean exit: the file and the lock go."""
        self.discard()
        self._lock.release(remove=True)
        self.release_claims()

    def orphans(self) -> list[Recovered]:
        """Files whose Playground is gone, newest first; they stay claimed by this store until
        `remove`, `set_aside` or `release_claims`."""
        if not self.folder.is_dir():
            return []
        found = []
        for path in self.folder.glob(f"{PREFIX}*.json"):
            if path.name.endswith(UNREADABLE + ".json") or path == self.path:
                continue
            lock = self._claimed.get(path) or _Lock(path.with_suffix(".lock"))
            if not lock.held and not lock.acquire():
                continue  # its window is open, in this process or another
            self._claimed[path] = lock
            found.append(_read(path))
        self._sweep_stale_locks()
        return sorted(found, key=lambda r: r.saved, reverse=True)

    def remove(self, recovered: Recovered) -> None:
        _remove(recovered.path)
        self._unclaim(recovered.path, remove=True)

    def set_aside(self, recovered: Recovered) -> Path:
        """Keep an unreadable file for the user, under a name that is not offered again."""
        target = recovered.path.with_name(recovered.path.stem + UNREADABLE + ".json")
        os.replace(recovered.path, target)
        self._unclaim(recovered.path, remove=True)
        return target

    def release_claims(self) -> None:
        """Leave the orphans not dealt with for the next start."""
        for path in list(self._claimed):
            self._unclaim(path, remove=False)

    def _unclaim(self, path: Path, remove: bool) -> None:
        lock = self._claimed.pop(path, None)
        if lock is not None:
            lock.release(remove=remove)

    def _sweep_stale_locks(self) -> None:
        """Lock files of windows that closed without an autosave on disk, or crashed before one."""
        for lock_path in self.folder.glob(f"{PREFIX}*.lock"):
            if lock_path.with_suffix(".json").exists() or lock_path == self._lock.path:
                continue
            lock = _Lock(lock_path)
            if lock.acquire():
                lock.release(remove=True)


class _Lock:
    """An exclusive, non-blocking lock on a file, held until released or until the process ends.

    flock (and LockFileEx on Windows) belongs to the open file, so a second window in the same
    process cannot take a lock the first one holds."""

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return False
        try:
            lock_fd(fd)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self, remove: bool = False) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            unlock_fd(fd)
        except OSError:
            pass
        os.close(fd)
        if remove:
            _remove(self.path)


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass  # an unreachable folder holds no file of ours


def _read(path: Path) -> Recovered:
    try:
        modified = path.stat().st_mtime
    except OSError:
        modified = 0.0
    try:
        # bounded, regular files only (a FIFO here would hang every start), and JSON within the limits
        # (the project inside gets the project's own limits from Project.from_dict)
        record = json.loads(read_limited(path, MAX_PROJECT_BYTES + 2**16, "a recovery file", PlaygroundError))
        if not isinstance(record, dict) or record.get("format") != FORMAT:
            raise PlaygroundError("it is not a Playground recovery file")
        if not isinstance(record.get("version"), int) or record["version"] > VERSION:
            raise PlaygroundError(f"it was written by a newer Playground (version {record.get('version')!r})")
        project = Project.from_dict(record.get("project"))
        source = record.get("source")
    except (OSError, UnicodeDecodeError, ValueError, TypeError, RecursionError, MemoryError, PlaygroundError) as e:
        # one bad file is set aside with its reason; it never hides the good ones beside it
        reason = (e.msg if isinstance(e, json.JSONDecodeError) else
                  "it is nested too deeply to be a recovery file" if isinstance(e, RecursionError) else str(e))
        return Recovered(path, None, None, modified, error=reason)
    saved = record.get("saved")
    if not isinstance(saved, (int, float)) or not math.isfinite(saved) or not 0 < saved < 2**33:
        saved = modified  # a time that cannot be shown: the file's own is as good
    return Recovered(path, project, Path(source) if isinstance(source, str) else None, float(saved))
