"""A small level-triggered work queue: the scheduling half of a controller, which kopf does not provide.

kopf gives us watches and events; it has no "enqueue object X" and its timers/daemons put kopf finalizers on
every object (a Revision could then not be deleted while the operator is down). So kopf's event handlers only
*wake* keys here, and this queue runs the reconcile of each key:

* at most one pass per key at a time; a wake during a pass reruns the key right after it (nothing is lost);
* after a pass the key comes back after the delay the pass returned (the sync period: the level-triggered
  safety net), or after an exponential back-off when the pass raised;
* one bounded pool per kind (Picchu's `--concurrent-revisions` 20 / `--concurrent-release-managers` 50), so a
  slow app never starves the others, and passes run in worker threads (the engine is blocking I/O).

With `metrics` (an `OperatorMetrics`) it exports client-go's work-queue series: depth (keys due now or later),
adds, how long a due key waited for a worker, how long its pass took, and back-off retries.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

Reconcile = Callable[[Hashable], float | None]  # returns the delay before the next periodic pass (None: no requeue)


@dataclass
class _KeyState:
    running: bool = False
    dirty: bool = False
    failures: int = 0
    due: float | None = None


@dataclass
class WorkQueue:
    name: str
    reconcile: Reconcile
    concurrency: int
    base_backoff: float = 0.5
    max_backoff: float = 300.0
    metrics: Any = None
    _heap: list[tuple[float, int, Hashable]] = field(default_factory=list)
    _keys: dict[Hashable, _KeyState] = field(default_factory=dict)
    _counter: itertools.count[int] = field(default_factory=itertools.count)
    _wakeup: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    def add(self, key: Hashable, delay: float = 0.0) -> None:
        """Schedule `key` (thread-safe). An earlier schedule wins; a running key is marked to rerun."""
        if self._loop is not None and self._loop.is_running():
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is not self._loop:
                self._loop.call_soon_threadsafe(self._add, key, delay)
                return
        self._add(key, delay)

    @property
    def depth(self) -> int:
        """Keys that are due, scheduled or running: 0 means the queue has nothing left to do."""
        return len(self._keys)

    def forget(self, key: Hashable) -> None:
        """Drop a key whose object is gone (no more periodic passes)."""
        state = self._keys.get(key)
        if state is not None and not state.running:
            del self._keys[key]

    def _add(self, key: Hashable, delay: float) -> None:
        state = self._keys.setdefault(key, _KeyState())
        if state.running and delay <= 0:
            state.dirty = True
            return
        due = time.monotonic() + max(0.0, delay)
        if state.due is not None and state.due <= due:
            return
        state.due = due
        heapq.heappush(self._heap, (due, next(self._counter), key))
        if self.metrics is not None:
            self.metrics.queue_adds.labels(self.name).inc()
            self._export_depth()
        if self._wakeup is not None:
            self._wakeup.set()

    async def run(self) -> None:
        """Process keys until cancelled."""
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        executor = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix=f"picchu-{self.name}")
        slots = asyncio.Semaphore(self.concurrency)
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                key = await self._next_due()
                await slots.acquire()
                task = asyncio.create_task(self._process(key, executor, slots))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            for task in tasks:
                task.cancel()
            executor.shutdown(wait=False, cancel_futures=True)

    async def _next_due(self) -> Hashable:
        assert self._wakeup is not None
        while True:
            now = time.monotonic()
            while self._heap:
                due, _, key = self._heap[0]
                state = self._keys.get(key)
                if state is None or state.due != due:
                    heapq.heappop(self._heap)  # superseded or forgotten entry
                    continue
                if due <= now:
                    heapq.heappop(self._heap)
                    state.due = None
                    if self.metrics is not None:
                        self.metrics.queue_latency.labels(self.name).observe(now - due)
                        self._export_depth()
                    return key
                break
            timeout = self._heap[0][0] - now if self._heap else None
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout)
            except TimeoutError:
                pass

    async def _process(self, key: Hashable, executor: ThreadPoolExecutor, slots: asyncio.Semaphore) -> None:
        state = self._keys.setdefault(key, _KeyState())
        state.running = True
        delay: float | None
        started = time.monotonic()
        try:
            delay = await asyncio.get_running_loop().run_in_executor(executor, self.reconcile, key)
            state.failures = 0
        except Exception:  # one key's failure must never stop the queue
            state.failures += 1
            delay = min(self.max_backoff, self.base_backoff * 2 ** (state.failures - 1))
            # The pass reported its own failure; the traceback is for DEBUG only (see engine/dispatch.py).
            log.warning("reconcile of %s %s failed; retrying in %.1fs", self.name, key, delay)
            log.debug("reconcile of %s %s failed", self.name, key, exc_info=True)
            if self.metrics is not None:
                self.metrics.queue_retries.labels(self.name).inc()
        finally:
            state.running = False
            slots.release()
            if self.metrics is not None:
                self.metrics.queue_work_duration.labels(self.name).observe(time.monotonic() - started)
        if state.dirty:
            state.dirty = False
            self._add(key, 0.0)
        elif delay is not None:
            self._add(key, delay)
        elif key in self._keys and self._keys[key].due is None:
            del self._keys[key]

    def _export_depth(self) -> None:
        self.metrics.queue_depth.labels(self.name).set(sum(1 for s in self._keys.values() if s.due is not None))
