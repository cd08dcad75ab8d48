"""Keeping freed memory while a run trains, and giving it back to the operating system after it.

While training on the CPU, torch allocates every activation and gradient afresh at every step and
frees it at the end of the step. glibc serves a block over its mmap threshold (128 KiB to 32 MiB,
moving with what was freed) straight from the kernel and hands it back when it is freed, and it
trims the top of the heap whenever more than the trim threshold lies free there: every step then
page-faults its biggest buffers in again. A 32/64-channel CNN at batch 128 took 75,000 page
faults per 10 steps and ran 12-15 % slower than with the thresholds raised (2 Zen 4 cores).
`keep_freed_memory` raises them for a process that trains, as PyTorch's CPU tuning guide does
with jemalloc's decay times.

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


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3   # glibc's mallopt parameters (malloc.h)
KEPT_BLOCK = 256 << 20   # blocks up to this size come from the heap and go back to it for reuse
KEPT_BLOCK_OLD = 32 << 20   # the most glibc 2.26-2.35 take (HEAP_MAX_SIZE / 2 on 64-bit)
KEPT_FREE = 1 << 30      # the heap keeps up to this much free at its top between steps


@lru_cache(maxsize=1)
def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim, libc.mallopt   # noqa: B018 — musl has neither: nothing to tune there
        return libc
    except (OSError, AttributeError):
        return None


def keep_freed_memory() -> bool:
    """For a process that trains: freed activations stay in the heap for the next step instead of
    going back to the kernel (the module docstring says why). Fixed thresholds also end glibc's
    own adjustment of them. `release_freed_memory` still returns the pages after a run. True when
    the allocator took both settings."""
    libc = _glibc()
    if libc is None:
        return False
    # a thread's arena holds at most 64 MiB a heap: there a bigger block is mapped whatever this says
    mapped = libc.mallopt(M_MMAP_THRESHOLD, KEPT_BLOCK) or libc.mallopt(M_MMAP_THRESHOLD, KEPT_BLOCK_OLD)
    return bool(mapped) & bool(libc.mallopt(M_TRIM_THRESHOLD, KEPT_FREE))


def release_freed_memory() -> bool:
    """Hand freed heap pages back to the OS; True when the allocator could be asked."""
    libc = _glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
