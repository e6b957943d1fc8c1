"""Process-wide settings of a long-running operator: fewer malloc arenas, import-time objects out of the GC.

Why: the operator runs one thread per work-queue worker and per cluster request, and glibc gives each
thread that allocates its own malloc arena (up to 8 per core), each keeping freed memory for itself, so
resident memory grew with concurrency rather than with the apps held (see the README's scale section for the
measured figures). Two arenas are what CPython services commonly run with (`MALLOC_ARENA_MAX=2`); the GIL
serialises allocations anyway. `gc.freeze()` moves the ~200,000 objects created by imports to a generation
the collector never scans again, so each full collection costs in proportion to the apps, not the libraries.

Both are skipped where they do not apply: a `MALLOC_ARENA_MAX` set by whoever runs the process wins, and a
C library other than glibc (musl images) is left alone.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os

log = logging.getLogger(__name__)
ARENAS = 2
_M_ARENA_MAX = -8  # mallopt parameter number in glibc's malloc.h


def tune(arenas: int = ARENAS) -> None:
    """Call once, after the imports and before the first thread starts."""
    if not os.environ.get("MALLOC_ARENA_MAX"):
        try:
            libc = ctypes.CDLL("libc.so.6")
            if not libc.mallopt(_M_ARENA_MAX, arenas):
                log.debug("mallopt(M_ARENA_MAX) refused")
        except (OSError, AttributeError):
            log.debug("not glibc: malloc arenas left as they are")
    gc.collect()
    gc.freeze()
