"""Process-wide settings of a long-running operator: fewer malloc arenas, a fixed mmap threshold, import-time
objects out of the GC.

Why: the operator runs one thread per work-queue worker and per cluster request, and glibc gives each
thread that allocates its own malloc arena (up to 8 per core), each keeping freed memory for itself, so
resident memory grew with concurrency rather than with the apps held (see the README's scale section for the
measured figures). Two arenas are what CPython services commonly run with (`MALLOC_ARENA_MAX=2`); the GIL
serialises allocations anyway. glibc also raises its mmap threshold (from 128 KiB up to 32 MiB) each time a
large block is freed, and its trim threshold with it: after the first large responses of a rollout, every
later one was carved out of the heap, whose top was then never given back (fixed at 128 KiB, the resident
heap of an operator with 500 apps grown at once was 33 MiB instead of 37). It is fixed lower still, at 16 KiB,
so that the blocks a burst takes and gives back whole stay out of the heap too: each TLS connection's two
~17 KiB record buffers, response bodies, large dicts' tables. Between the objects that stay, they left free
space the heap could not return (~14 MB after a 500-app burst); mapped, they are returned when freed.
`gc.freeze()` moves the ~200,000 objects created by imports to a generation the collector never scans again, so
each full collection costs in proportion to the apps, not the libraries.
`release_free_memory` gives back the free pages inside the heap (`malloc_trim`): glibc returns only the top
of the heap by itself, and after a burst the memory freed below it stayed resident (~4 MiB at 500 apps).

They are skipped where they do not apply: a `MALLOC_ARENA_MAX` or `MALLOC_MMAP_THRESHOLD_` set by whoever
runs the process wins, and a C library other than glibc (musl images) is left alone.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os

log = logging.getLogger(__name__)
ARENAS = 2
MMAP_THRESHOLD = 16 * 1024  # below a TLS record buffer (glibc starts at 128 KiB, then moves it up)
_M_ARENA_MAX = -8  # mallopt parameter numbers in glibc's malloc.h
_M_MMAP_THRESHOLD = -3


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 (both exist only in glibc)
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _glibc()


def release_free_memory() -> None:
    """Return the free pages inside the malloc heaps to the system (glibc only; elsewhere nothing)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def tune(arenas: int = ARENAS) -> None:
    """Call once, after the imports and before the first thread starts."""
    wanted = [(name, number, value) for name, number, value in (
        ("MALLOC_ARENA_MAX", _M_ARENA_MAX, arenas), ("MALLOC_MMAP_THRESHOLD_", _M_MMAP_THRESHOLD, MMAP_THRESHOLD))
        if not os.environ.get(name)]
    if _LIBC is None:
        log.debug("not glibc: malloc left as it is")
    else:
        for name, number, value in wanted:
            if not _LIBC.mallopt(number, value):
                log.debug("mallopt(%s) refused", name)
    gc.collect()
    gc.freeze()
