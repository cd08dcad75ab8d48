"""Atomic file writes: a temporary file in the same folder, flushed, then renamed over the target."""

from __future__ import annotations

import glob
import os
import tempfile
import time
from pathlib import Path
from typing import Callable, BinaryIO

from .errors import PlaygroundError


class FileWriteError(PlaygroundError, OSError):
    """A file could not be written; the previous file, if any, is untouched."""


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> None:
    """Call `write(f)` on a temporary file beside `path`, then replace `path` with it.

    The rename is atomic on POSIX and Windows, so readers see the old file or the
    new one, never half of either; on any failure the temporary file is removed.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileWriteError(f"cannot save {path}: the folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise FileWriteError(f"cannot save {path}: {_reason(e)}") from None
    try:
        # mkstemp creates the file owner-only; give it the mode a plain open() would have.
        os.chmod(tmp, _mode_for(path))
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        cause = _os_error_in(e)
        if cause is not None:
            raise FileWriteError(f"cannot save {path}: {_reason(cause)}") from None
        raise
    _sweep_stale(folder, path.name)


STALE_AFTER_S = 600  # a temporary file this old belongs to a write that was killed, not a slow one


def _sweep_stale(folder: Path, name: str) -> None:
    """Remove what writes of `name` killed mid-way (power loss, SIGKILL) left beside it."""
    cutoff = time.time() - STALE_AFTER_S
    for stale in folder.glob(f".{glob.escape(name)}.*.tmp"):
        try:
            if stale.stat().st_mtime < cutoff:
                stale.unlink()
        except OSError:
            pass  # gone already, or not ours to remove: never fail a save that succeeded


def user_data_dir() -> Path:
    """Where Playground keeps its own files: $XDG_DATA_HOME/playground (~/.local/share/playground),
    %LOCALAPPDATA%\\playground on Windows, ~/Library/Application Support/playground on macOS."""
    import sys

    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        base = Path(os.environ["LOCALAPPDATA"])
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "playground"


def _read_umask() -> int:
    # os.umask can only be read by setting it; do that once, at import, before any thread runs
    umask = os.umask(0)
    os.umask(umask)
    return umask


_UMASK = _read_umask()


def _mode_for(path: Path) -> int:
    """The existing file's permissions, or 0o666 less the umask for a new file."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_UMASK


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    atomic_write(path, lambda f: f.write(data))


def _os_error_in(e: BaseException) -> OSError | None:
    """The OSError behind `e`: itself, or one a writer wrapped (torch.save turns a failed write
    into "RuntimeError: unexpected pos ..." raised while the OSError is being handled)."""
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, OSError):
            return e
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return None


def _reason(e: OSError) -> str:
    import errno

    if e.errno == errno.ENOSPC:
        return "the disk is full (the previous file, if any, is unchanged)"
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "no permission to write in that folder"
    return e.strerror or str(e)
