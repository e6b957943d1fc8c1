"""A small level-triggered work queue: the scheduling half of a controller, which kopf does not provide.

kopf gives us watches and events; it has no "enqueue object X" and its timers/daemons put kopf finalizers on
every object (a Revision could then not be deleted while the operator is down). So kopf's event handlers only
*wake* keys here, and this queue runs the reconcile of each key:

* at most one pass per key at a time; a wake during a pass reruns the key right after it (nothing is lost);
* after a pass the key comes back after the delay the pass returned (the sync period: the level-triggered
  safety net). A pass that raised, or returned `Park` (its object is broken, its clusters unreachable), is
  *parked*: it comes back after an exponential, capped back-off, and a plain `add` (a periodic requeue, a
  status write of our own) does not bring it earlier. Only `wake` (its object changed) or `wake_group`
  (something it depends on changed) resets the back-off and runs it at once;
* fair per app (issue 16, noisy neighbours): keys carry a *group* (namespace, app); due keys are served
  round-robin across groups, so a thousand keys of one app cannot make another app wait a thousand turns, and
  parked keys run only when no healthy key is waiting and on at most half of the workers, so broken objects
  never take the workers healthy apps need;
* one bounded pool per kind (Picchu's `--concurrent-revisions` 20 / `--concurrent-release-managers` 50), and
  passes run in worker threads (the engine is blocking I/O), which exit when idle (`workers`).

With `metrics` (an `OperatorMetrics`) it exports client-go's work-queue series: depth (keys due now or later),
adds, how long a due key waited for a worker, how long its pass took, and back-off retries.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from picchu.handlers.workers import ElasticThreadPool
from picchu.outcome import Park

log = logging.getLogger(__name__)

Reconcile = Callable[[Hashable], float | Park | None]  # the delay before the next periodic pass (None: no requeue)


@dataclass
class _KeyState:
    group: Hashable
    running: bool = False
    dirty: bool = False  # woken while running: rerun right after
    woken: bool = False  # ... and that wake was a change (resets the back-off of the rerun)
    failures: int = 0  # consecutive failed or parked passes; > 0 means parked
    due: float | None = None  # when it is scheduled (in the heap); None when ready, running or idle
    ready: bool = False  # due and waiting for a worker
    parked_until: float = 0.0
    backoff: float = 0.0  # the back-off of the last park (0 when healthy)
    runs_parked: bool = False  # its running pass holds one of the parked slots
    ready_since: float = 0.0  # when it became due (for the queue-latency metric)


class _RoundRobin:
    """Due keys by group, served one group at a time in turn."""

    def __init__(self) -> None:
        self._groups: OrderedDict[Hashable, deque[Hashable]] = OrderedDict()

    def push(self, group: Hashable, key: Hashable) -> None:
        self._groups.setdefault(group, deque()).append(key)

    def pop(self) -> Hashable:
        group, keys = self._groups.popitem(last=False)
        key = keys.popleft()
        if keys:
            self._groups[group] = keys  # back of the line
        return key

    def remove(self, group: Hashable, key: Hashable) -> bool:
        keys = self._groups.get(group)
        if keys is None or key not in keys:
            return False
        keys.remove(key)
        if not keys:
            del self._groups[group]
        return True

    def __len__(self) -> int:
        return sum(len(k) for k in self._groups.values())

    def __bool__(self) -> bool:
        return bool(self._groups)


@dataclass
class WorkQueue:
    name: str
    reconcile: Reconcile
    concurrency: int
    base_backoff: float = 0.5
    max_backoff: float = 300.0
    min_park: float = 5.0  # first back-off of a parked key, however short its sync period: a broken object
    # that is woken by its own changes has nothing to gain from a retry every second
    metrics: Any = None
    _heap: list[tuple[float, int, Hashable]] = field(default_factory=list)
    _keys: dict[Hashable, _KeyState] = field(default_factory=dict)
    _groups: dict[Hashable, set[Hashable]] = field(default_factory=dict)
    _healthy: _RoundRobin = field(default_factory=_RoundRobin)
    _parked: _RoundRobin = field(default_factory=_RoundRobin)
    _running_parked: int = 0
    _counter: itertools.count[int] = field(default_factory=itertools.count)
    _wakeup: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    def __post_init__(self) -> None:
        if self.metrics is not None:  # counted when scraped: counting at every add and pick cost O(keys) each
            self.metrics.queue_depth.labels(self.name).set_function(self._depth)

    def _depth(self) -> int:
        """Keys due now or later. Read from the scrape's thread: `list` copies the values at once, under the GIL."""
        return sum(1 for s in list(self._keys.values()) if s.due is not None or s.ready)

    @property
    def parked_slots(self) -> int:
        """How many workers parked keys may hold at once: half, so healthy keys always find one."""
        return max(1, self.concurrency // 2)

    # --- scheduling (thread-safe entry points) --------------------------------------------------------------
    def add(self, key: Hashable, delay: float = 0.0, group: Hashable | None = None) -> None:
        """Schedule `key` after `delay` (an earlier schedule wins); a running key is marked to rerun.
        A parked key is not brought before the end of its back-off."""
        self._call(self._add, key, delay, group, False)

    def wake(self, key: Hashable, group: Hashable | None = None) -> None:
        """`key`'s object changed: forget its back-off and run it now (or right after its running pass)."""
        self._call(self._add, key, 0.0, group, True)

    def wake_group(self, group: Hashable) -> None:
        """Something the keys of `group` depend on changed: run its parked keys now."""
        self._call(self._wake_group, group)

    def add_group(self, group: Hashable) -> None:
        """Something the keys of `group` read changed: schedule each now (a parked key keeps its back-off)."""
        self._call(self._add_group, group)

    def forget(self, key: Hashable) -> None:
        """Drop a key whose object is gone (no more periodic passes)."""
        self._call(self._forget, key)

    @property
    def depth(self) -> int:
        """Keys that are due, scheduled or running: 0 means the queue has nothing left to do."""
        return len(self._keys)

    @property
    def parked(self) -> int:
        """Keys currently in back-off."""
        return sum(1 for s in self._keys.values() if s.failures)

    def backoff(self, key: Hashable) -> float:
        """The back-off `key` is parked for (0 when it is not parked)."""
        state = self._keys.get(key)
        return state.backoff if state is not None and state.failures else 0.0

    def scheduled_in(self, key: Hashable) -> float | None:
        """Seconds until `key` is due (0 when due now, None when not scheduled)."""
        state = self._keys.get(key)
        if state is None or (state.due is None and not state.ready):
            return None
        return 0.0 if state.ready or state.due is None else max(0.0, state.due - time.monotonic())

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        if self._loop is not None and self._loop.is_running():
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is not self._loop:
                self._loop.call_soon_threadsafe(fn, *args)
                return
        fn(*args)

    # --- event-loop side ----------------------------------------------------------------------------------
    def _state(self, key: Hashable, group: Hashable | None) -> _KeyState:
        state = self._keys.get(key)
        if state is None:
            state = self._keys[key] = _KeyState(group if group is not None else key)
            self._groups.setdefault(state.group, set()).add(key)
        elif group is not None and group != state.group:
            self._unready(key, state)
            self._drop_from_group(key, state)
            state.group = group
            self._groups.setdefault(group, set()).add(key)
        return state

    def _add(self, key: Hashable, delay: float, group: Hashable | None, reset: bool) -> None:
        state = self._state(key, group)
        now = time.monotonic()
        if reset and state.failures:
            state.failures, state.parked_until, state.backoff = 0, 0.0, 0.0
            if self._unready(key, state):  # waiting among the parked: move it to the healthy line
                self._make_ready(key, state, now)
        if state.running and delay <= 0:
            state.dirty = True
            state.woken = state.woken or reset
            return
        if state.ready:
            return
        due = max(now + max(0.0, delay), state.parked_until)
        if state.due is not None and state.due <= due:
            return
        state.due = due
        heapq.heappush(self._heap, (due, next(self._counter), key))
        if self.metrics is not None:
            self.metrics.queue_adds.labels(self.name).inc()
        if self._wakeup is not None:
            self._wakeup.set()

    def _wake_group(self, group: Hashable) -> None:
        for key in list(self._groups.get(group, ())):
            state = self._keys.get(key)
            if state is not None and state.failures:
                self._add(key, 0.0, None, True)

    def _add_group(self, group: Hashable) -> None:
        for key in list(self._groups.get(group, ())):
            self._add(key, 0.0, None, False)

    def _forget(self, key: Hashable) -> None:
        state = self._keys.get(key)
        if state is not None and not state.running:
            self._unready(key, state)
            del self._keys[key]
            self._drop_from_group(key, state)

    def _drop_from_group(self, key: Hashable, state: _KeyState) -> None:
        members = self._groups.get(state.group)
        if members is not None:
            members.discard(key)
            if not members:
                del self._groups[state.group]

    def _unready(self, key: Hashable, state: _KeyState) -> bool:
        if not state.ready:
            return False
        state.ready = False
        if not self._parked.remove(state.group, key):
            self._healthy.remove(state.group, key)
        return True

    def _make_ready(self, key: Hashable, state: _KeyState, due: float) -> None:
        state.ready, state.due, state.ready_since = True, None, due
        (self._parked if state.failures else self._healthy).push(state.group, key)

    def _promote_due(self, now: float) -> None:
        while self._heap:
            due, _, key = self._heap[0]
            state = self._keys.get(key)
            if state is None or state.due != due:
                heapq.heappop(self._heap)  # superseded or forgotten entry
                continue
            if due > now:
                return
            heapq.heappop(self._heap)
            self._make_ready(key, state, due)

    def _pick(self) -> Hashable | None:
        if self._healthy:
            return self._healthy.pop()
        if self._parked and self._running_parked < self.parked_slots:
            return self._parked.pop()
        return None

    async def run(self) -> None:
        """Process keys until cancelled."""
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        executor = ElasticThreadPool(self.concurrency, name=f"picchu-{self.name}")
        slots = asyncio.Semaphore(self.concurrency)
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                await slots.acquire()  # choose the key only once a worker is free: the fairest choice then
                key = await self._next()
                task = asyncio.create_task(self._process(key, executor, slots))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            for task in tasks:
                task.cancel()
            executor.shutdown(wait=False, cancel_futures=True)

    async def _next(self) -> Hashable:
        assert self._wakeup is not None
        while True:
            now = time.monotonic()
            self._promote_due(now)
            key = self._pick()
            if key is not None:
                state = self._keys[key]
                state.ready = False
                state.running = True  # now, not when its task starts: the next pick must count it
                if self.metrics is not None:  # how long it waited for a worker since it was due
                    self.metrics.queue_latency.labels(self.name).observe(max(0.0, now - state.ready_since))
                state.runs_parked = bool(state.failures)
                self._running_parked += state.runs_parked
                return key
            timeout = max(0.0, self._heap[0][0] - now) if self._heap else None
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout)
            except TimeoutError:
                pass

    async def _process(self, key: Hashable, executor: ElasticThreadPool, slots: asyncio.Semaphore) -> None:
        state = self._keys[key]
        was_parked = state.runs_parked  # counted in `_running_parked` when it was picked
        result: float | Park | None
        first_backoff = self.min_park  # a pass that raised may be a transient error: retried sooner
        started = time.monotonic()
        try:
            result = await asyncio.get_running_loop().run_in_executor(executor, self.reconcile, key)
        except Exception as exc:  # one key's failure must never stop the queue
            result, first_backoff = Park(f"{type(exc).__name__}: {exc}"), self.base_backoff
            # The pass reported its own failure; the traceback is for DEBUG only (see engine/dispatch.py).
            log.warning("reconcile of %s %s failed: %s", self.name, key, result.reason)
            log.debug("reconcile of %s %s failed", self.name, key, exc_info=True)
            if self.metrics is not None:
                self.metrics.queue_retries.labels(self.name).inc()
        finally:
            state.running = False
            self._running_parked -= was_parked
            slots.release()
            if self.metrics is not None:
                self.metrics.queue_work_duration.labels(self.name).observe(time.monotonic() - started)
        delay: float | None
        if isinstance(result, Park):
            state.failures += 1
            first = max(first_backoff, min(result.delay, self.max_backoff))
            delay = min(self.max_backoff, first * 2 ** (state.failures - 1))
            state.parked_until, state.backoff = time.monotonic() + delay, delay
            log.debug("%s %s parked for %.1fs: %s", self.name, key, delay, result.reason)
        else:
            state.failures, state.parked_until, state.backoff, delay = 0, 0.0, 0.0, result
        if self._wakeup is not None:
            self._wakeup.set()  # a parked slot may have freed
        if key not in self._keys:
            return
        if state.dirty:
            reset, state.dirty, state.woken = state.woken, False, False
            self._add(key, 0.0, None, reset)
        elif delay is not None:
            self._add(key, delay, None, False)
        elif state.due is None and not state.ready:
            self._forget(key)
