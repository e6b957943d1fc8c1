"""A small, bounded, thread-safe TTL cache with an injectable clock.

Why: Picchu asks Prometheus once per `--prometheus-query-ttl` (10 s) per distinct query, however many
Revisions reconcile meanwhile (§13.1). Unlike Picchu's map, this one is bounded (oldest entry evicted first)
so that one canary query per tag cannot grow memory forever. Only successful answers are stored: the caller
decides what to put in; errors are simply never `put`.

Neighbours: used by `picchu.monitoring.prometheus`. The clock is a zero-argument callable returning
seconds (default `time.monotonic`) so tests can move time by hand.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class TtlCache(Generic[V]):
    def __init__(
        self, ttl_seconds: float, max_entries: int = 256, clock: Callable[[], float] = time.monotonic
    ):
        if ttl_seconds < 0:
            raise ValueError(f"ttl_seconds must be >= 0, got {ttl_seconds}")
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries}")
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> V | None:
        """The value stored under `key` if it is younger than the TTL, else None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            stored_at, value = entry
            if self._clock() - stored_at >= self._ttl:
                del self._entries[key]
                return None
            return value

    def put(self, key: str, value: V) -> None:
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = (self._clock(), value)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
