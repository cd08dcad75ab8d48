"""Recovery files: the open project, autosaved so that a crash loses no work.

Each running window owns one file, `recovery-PID-N.json`, in the recovery folder; a clean exit
removes it. A file whose process is no longer running was left by a crash: the next start
offers to restore it. Only the project is kept (weights can be gigabytes and are saved on
purpose, by the user); writes are atomic, so a crash during an autosave leaves the previous one.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import PlaygroundError
from .files import atomic_write_bytes
from .spec import Project

FORMAT = "playground-recovery"
VERSION = 1
PREFIX = "recovery-"
UNREADABLE = ".unreadable"
_instances = itertools.count(1)


def default_folder() -> Path:
    """$PLAYGROUND_RECOVERY_DIR, else $XDG_DATA_HOME/playground/recovery."""
    explicit = os.environ.get("PLAYGROUND_RECOVERY_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "playground" / "recovery"


@dataclass
class Recovered:
    """A recovery file left by a process that is gone; `project` is None when it cannot be read."""

    path: Path
    project: Project | None
    source: Path | None        # the project file it was opened from, None if never saved
    saved: float               # seconds since the epoch
    error: str | None = None


class RecoveryStore:
    """One window's recovery file, and the files other (crashed) processes left behind."""

    def __init__(self, folder: str | Path | None = None, pid: int | None = None):
        self.folder = Path(folder) if folder is not None else default_folder()
        self.pid = os.getpid() if pid is None else pid
        self.path = self.folder / f"{PREFIX}{self.pid}-{next(_instances)}.json"

    def save(self, project: Project, source: str | Path | None) -> None:
        """Write (atomically) the project as it is now; raises FileWriteError when the folder is unwritable."""
        self.folder.mkdir(parents=True, exist_ok=True)
        record = {
            "format": FORMAT,
            "version": VERSION,
            "pid": self.pid,
            "saved": time.time(),
            "source": str(source) if source else None,
            "project": project.to_dict(),
        }
        atomic_write_bytes(self.path, (json.dumps(record, indent=1) + "\n").encode("utf-8"))

    def discard(self) -> None:
        """A clean exit (or a saved project): nothing to recover. Never fails a close."""
        _remove(self.path)

    def orphans(self) -> list[Recovered]:
        """Files of processes that are no longer running, newest first."""
        if not self.folder.is_dir():
            return []
        found = []
        for path in self.folder.glob(f"{PREFIX}*.json"):
            if path.name.endswith(UNREADABLE + ".json"):
                continue
            pid = _pid_of(path)
            if pid is not None and (pid == self.pid or _running(pid)):
                continue  # its window is open: in this process or another
            found.append(_read(path))
        return sorted(found, key=lambda r: r.saved, reverse=True)

    @staticmethod
    def remove(recovered: Recovered) -> None:
        _remove(recovered.path)

    @staticmethod
    def set_aside(recovered: Recovered) -> Path:
        """Keep an unreadable file for the user, under a name that is not offered again."""
        target = recovered.path.with_name(recovered.path.stem + UNREADABLE + ".json")
        os.replace(recovered.path, target)
        return target


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass  # an unreachable folder holds no file of ours


def _pid_of(path: Path) -> int | None:
    parts = path.stem[len(PREFIX):].split("-")
    try:
        return int(parts[0])
    except (ValueError, IndexError):
        return None


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else
    return True


def _read(path: Path) -> Recovered:
    try:
        saved = path.stat().st_mtime
    except OSError:
        saved = 0.0
    try:
        record = json.loads(path.read_text("utf-8"))
        if not isinstance(record, dict) or record.get("format") != FORMAT:
            raise PlaygroundError("it is not a Playground recovery file")
        if not isinstance(record.get("version"), int) or record["version"] > VERSION:
            raise PlaygroundError(f"it was written by a newer Playground (version {record.get('version')!r})")
        project = Project.from_dict(record.get("project"))
        source = record.get("source")
        saved = float(record.get("saved", saved))
    except (OSError, UnicodeDecodeError, ValueError, TypeError, PlaygroundError) as e:
        reason = e.msg if isinstance(e, json.JSONDecodeError) else str(e)
        return Recovered(path, None, None, saved, error=reason)
    return Recovered(path, project, Path(source) if isinstance(source, str) else None, saved)
