"""Giving freed memory back to the operating system after a run.

A run allocates its data, model and optimizer state in its own thread; glibc serves each thread
from its own arena and keeps what was freed there for reuse, so after many runs the process
looks tens of MiB larger than what it holds. `malloc_trim` returns those pages. Elsewhere
(macOS, Windows, musl) there is nothing to do.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import lru_cache


@lru_cache(maxsize=1)
def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


def release_freed_memory() -> bool:
    """Hand freed heap pages back to the OS; True when the allocator could be asked."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
