"""Atomic file writes: a temporary file in the same folder, flushed, then renamed over the target."""

from __future__ import annotations

import errno
import glob
import os
import stat
import sys
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
    folder = check_target(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path.name), suffix=".tmp", dir=folder)
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


NAME_MAX = 255       # bytes in one file name on ext4, xfs, btrfs, APFS and NTFS (pathconf where it can say)
_TEMP_EXTRA = 14     # mkstemp's 8 random characters, ".tmp", and the dots around the name


def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (AttributeError, OSError, ValueError):
        return NAME_MAX


def _temp_prefix(name: str) -> str:
    """'.NAME.' for the temporary file, the name cut so the whole stays within NAME_MAX bytes (a valid
    254-byte name must still save); the cut is by characters, so UTF-8 is never split."""
    room = NAME_MAX - _TEMP_EXTRA
    while len(os.fsencode(name)) > room:
        name = name[:-1]
    return f".{name}."


def check_target(path: str | Path) -> Path:
    """Refuse, before any work, an output that the write would fail on or must not replace: a missing
    folder, a folder as the target, a name too long, a FIFO or device, a read-only file. Returns the folder.

    The target's own permission counts, not only the folder's: a file the user made read-only
    (chmod 444) is one the shell refuses to write, and a rename would replace it anyway."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileWriteError(f"cannot save {path}: the folder {folder} does not exist")
    length, limit = len(os.fsencode(path.name)), _name_max(folder)
    if length > limit:
        raise FileWriteError(f"cannot save {path}: its name is {length} bytes long, and this file system "
                             f"allows at most {limit}")
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return folder
    except OSError as e:
        raise FileWriteError(f"cannot save {path}: {_reason(e)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise FileWriteError(f"cannot save {path}: it is a folder — name a file inside it")
    if not stat.S_ISREG(info.st_mode):
        raise FileWriteError(f"cannot save {path}: it is {_special(info.st_mode)}, not a regular file")
    if not info.st_mode & 0o222 or not os.access(path, os.W_OK):
        raise FileWriteError(f"cannot save {path}: the file is read-only — make it writable "
                             "(chmod u+w) or choose another name")
    return folder


def check_distinct(outputs: dict[str, str | Path], inputs: dict[str, str | Path | None]) -> None:
    """Refuse outputs that would replace a file being read, or each other: {label: path} both."""
    seen: list[tuple[str, Path]] = []
    for label, out in outputs.items():
        out = Path(out)
        for source_label, source in inputs.items():
            if source is not None and same_file(out, Path(source)):
                raise FileWriteError(f"cannot save {out}: it is {source_label}, which this command reads "
                                     f"— writing {label} there would replace it; choose another name")
        for other_label, other in seen:
            if same_file(out, other):
                raise FileWriteError(f"{other_label} and {label} both name {out}: one would replace the other "
                                     "— give them different names")
        seen.append((label, out))


def same_file(a: Path, b: Path) -> bool:
    """One file under two names (a link, ./x and x), or one path not yet written."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def _special(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_limited(path: str | Path, limit: int, what: str, error: type[Exception]) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; `error` (a PlaygroundError class) with one
    sentence otherwise. A FIFO would block forever and /dev/zero never ends: neither is opened, and
    no read takes more than `limit` + 1 bytes whatever the file claims about itself."""
    path = Path(path)
    info = check_regular(path, what, error)
    if info.st_size > limit:
        raise error(f"{path} is {_size(info.st_size)}, too large for {what} (at most {_size(limit)})")
    try:
        # O_NONBLOCK: if the path was swapped for a FIFO since the stat, open must not wait for a writer
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise error(f"{path} is not a regular file, not {what}")
            data = f.read(limit + 1)
    except OSError as e:
        raise error(f"{path} cannot be read ({e.strerror or e})") from None
    if len(data) > limit:
        raise error(f"{path} is larger than {_size(limit)}, too large for {what}")
    return data


def check_regular(path: str | Path, what: str, error: type[Exception]) -> os.stat_result:
    """stat of a regular file, or `error` saying what it is instead (before anything opens it)."""
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except OSError as e:
        raise error(f"{path} cannot be read ({e.strerror or e})") from None
    if stat.S_ISDIR(info.st_mode):
        raise error(f"{path} is a folder, not {what}")
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{path} is {_special(info.st_mode)}, not {what}")
    return info


def _size(n: int) -> str:
    for unit, scale in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


STALE_AFTER_S = 600  # a temporary file this old belongs to a write that was killed, not a slow one


def _sweep_stale(folder: Path, name: str) -> None:
    """Remove what writes of `name` killed mid-way (power loss, SIGKILL) left beside it."""
    cutoff = time.time() - STALE_AFTER_S
    for stale in folder.glob(f"{glob.escape(_temp_prefix(name))}*.tmp"):
        try:
            if stale.stat().st_mtime < cutoff:
                stale.unlink()
        except OSError:
            pass  # gone already, or not ours to remove: never fail a save that succeeded


if sys.platform == "win32":
    import msvcrt

    def lock_fd(fd: int) -> None:
        """Take a lock on the open file without waiting; OSError when another process holds it."""
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def unlock_fd(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def lock_fd(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def unlock_fd(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


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
    if e.errno == errno.ENOSPC:
        return "the disk is full (the previous file, if any, is unchanged)"
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "no permission to write in that folder"
    return e.strerror or str(e)


class OutputLock:
    """An exclusive lock on the outputs of one run (`.NAME.lock` beside each), so a second run onto
    the same files is refused before it trains instead of both saying "wrote" over each other.

    flock belongs to the open file and the system drops it when the process dies however it dies;
    the lock file is removed on release, and a lock taken on a file that was removed meanwhile is
    retried, so two runs can never both hold one."""

    def __init__(self, *targets: str | Path):
        self._targets = [Path(t) for t in targets]
        self._paths = [_lock_path(t) for t in self._targets]
        self._fds: list[int] = []

    def acquire(self) -> None:

        try:
            for path, target in zip(self._paths, self._targets):
                for _ in range(100):             # each retry means another run released it meanwhile
                    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
                    try:
                        lock_fd(fd)
                    except OSError:
                        os.close(fd)
                        raise FileWriteError(
                            f"cannot write {target}: another run is writing it now (it holds {path.name}) "
                            "— wait for it to finish or choose another name") from None
                    if _same_inode(fd, path):
                        self._fds.append(fd)
                        break
                    os.close(fd)
        except OSError as e:
            self.release()
            if isinstance(e, FileWriteError):
                raise
            raise FileWriteError(f"cannot lock {path}: {_reason(e)}") from None
        except BaseException:
            self.release()
            raise

    def release(self) -> None:

        for path, fd in zip(self._paths, self._fds):
            try:
                os.unlink(path)                  # while still locked: a waiting run retries on the new file
            except OSError:
                pass
            try:
                unlock_fd(fd)
            except OSError:
                pass
            os.close(fd)
        self._fds = []

    def __enter__(self) -> "OutputLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _lock_path(target: Path) -> Path:
    folder = target.parent if str(target.parent) else Path(".")
    return folder / (_temp_prefix(target.name) + "lock")


def _same_inode(fd: int, path: Path) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_ino, a.st_dev) == (b.st_ino, b.st_dev)
