"""A closed stdout or stderr, as Unix tools take it: `playground train … | head -2` is not a failure.

Python ignores SIGPIPE, so a write to a pipe whose reader has gone raises BrokenPipeError; inside
the training loop's progress callback that ended the run as "failed". Here the streams are guarded
for the whole command: once a reader has gone, what would have gone to it is dropped (the file
descriptor is pointed at /dev/null, so the interpreter's last flush cannot fail either).
"""

from __future__ import annotations

import os
import signal
import sys
from contextlib import contextmanager

SIGPIPE_STATUS = 128 + getattr(signal, "SIGPIPE", 13)   # what a shell reports for `seq 1e9 | head`


class _Guarded:
    """A text stream whose writes survive the reader going away."""

    def __init__(self, stream):
        self._stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._silence()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._silence()

    def _silence(self) -> None:
        self.broken = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):   # no file descriptor (a test's StringIO): nothing left to flush
            pass

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextmanager
def closed_pipes_tolerated():
    """Within: sys.stdout and sys.stderr drop output once their reader has gone. Yields a function
    telling whether stdout's reader went away."""
    out, err = _Guarded(sys.stdout), _Guarded(sys.stderr)
    sys.stdout, sys.stderr = out, err
    try:
        yield lambda: out.broken
    finally:
        out.flush()
        err.flush()
        if sys.stdout is out:
            sys.stdout = out._stream
        if sys.stderr is err:
            sys.stderr = err._stream


def run_command(command, argv: list[str]) -> int:
    """`command(argv)` with closed pipes tolerated. A command that only prints (inspect, export's
    report) ends as a Unix tool whose reader left does, with status 128 + SIGPIPE and no message;
    `train` carries on without its output and ends with the run's own status, its checkpoint and
    metrics written, because the run, not its log, is what it is for."""
    with closed_pipes_tolerated() as stdout_closed:
        status = command(argv)
    if stdout_closed() and argv and argv[0] != "train" and status == 0:
        return SIGPIPE_STATUS
    return status
