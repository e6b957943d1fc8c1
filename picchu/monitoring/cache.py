"""A bounded, thread-safe TTL cache with an injectable clock: `cachetools.TTLCache` behind a lock.

Why: Picchu asks Prometheus once per `--prometheus-query-ttl` (10 s) per distinct query, however many
Revisions reconcile meanwhile (§13.1). Unlike Picchu's map, this one is bounded (expired entries go first,
then the least recently used) so that one canary query per tag cannot grow memory forever. Only successful
answers are stored: the caller decides what to put in; errors are simply never `put`.

Neighbours: used by `picchu.monitoring.prometheus` and `.datadog`. The clock is a zero-argument callable
returning seconds (default `time.monotonic`) so tests can move time by hand.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from cachetools import TTLCache

V = TypeVar("V")


class TtlCache(Generic[V]):
    def __init__(
        self, ttl_seconds: float, max_entries: int = 256, clock: Callable[[], float] = time.monotonic
    ):
        if ttl_seconds < 0:
            raise ValueError(f"ttl_seconds must be >= 0, got {ttl_seconds}")
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries}")
        self._entries: TTLCache[str, V] = TTLCache(maxsize=max_entries, ttl=ttl_seconds, timer=clock)
        self._lock = threading.Lock()  # cachetools caches are not thread-safe

    def get(self, key: str) -> V | None:
        """The value stored under `key` if it is younger than the TTL, else None."""
        with self._lock:
            return self._entries.get(key)

    def put(self, key: str, value: V) -> None:
        with self._lock:
            self._entries[key] = value

    def __len__(self) -> int:
        with self._lock:
            self._entries.expire()
            return len(self._entries)
