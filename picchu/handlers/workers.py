"""A thread pool whose threads exist only while there is work: an idle thread exits after `idle_seconds`.

Why: `concurrent.futures.ThreadPoolExecutor` keeps every thread it ever started. The work queues run up to
Picchu's default 20 Revision and 50 ReleaseManager passes at once, so one burst of changes left 70 threads for
the life of the process, each with the stack its passes touched, its Python frame stack and glibc's per-thread
cache of freed blocks, all resident while the fleet was idle again. Here a thread that found no work for
`idle_seconds` exits; the next burst starts threads again (a few hundred microseconds each).

Threads are added one per `spawn_after` while calls wait and no thread is free: the passes of an idle fleet
come due in waves (every app every sync period) and take milliseconds of CPU each, so the threads already
running finish a wave sooner than new ones would help (the GIL runs one at a time); measured at 500 apps,
starting a thread for every waiting call kept all 70 alive from wave to wave. A burst of passes that wait on
apiservers still gets all `max_workers` within `max_workers * spawn_after`.

A call goes to the thread that became idle last (a stack, not a queue): with a queue, the calls of an idle
fleet went round all the threads of the last burst, so none was ever idle for `idle_seconds` (92 threads
seen 45 s after a 500-app burst); with a stack, the threads the steady flow of calls does not need stay idle
and exit.

Invariant: every submitted call is run: by a free thread, by a running one when it finishes its call, or by
one the spawner starts (at once when the pool has no thread).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

IDLE_SECONDS = 30.0  # twice the default sync period: threads an idle fleet uses every period stay
SPAWN_AFTER_SECONDS = 0.01
_Call = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class _Idle:
    """One idle thread's place in the stack: `submit` puts a call in it and releases `wake`."""

    __slots__ = ("wake", "call")

    def __init__(self) -> None:
        self.wake = threading.Lock()
        self.wake.acquire()
        self.call: _Call | None = None


class ElasticThreadPool(Executor):
    def __init__(self, max_workers: int, *, idle_seconds: float = IDLE_SECONDS,
                 spawn_after: float = SPAWN_AFTER_SECONDS, name: str = "worker") -> None:
        self.max_workers = max(1, max_workers)
        self.idle_seconds = idle_seconds
        self.spawn_after = spawn_after
        self._name = name
        self._numbers = itertools.count()
        lock = threading.Lock()
        self._lock = lock
        self._ended = threading.Condition(lock)  # a thread ended: `shutdown(wait=True)` counts them
        self._short = threading.Condition(lock)  # calls wait with no free thread: the spawner's cue
        self._spawner: threading.Thread | None = None
        self._calls: deque[_Call] = deque()  # never non-empty while a thread is idle
        self._idle: list[_Idle] = []  # the idle threads, the most recently idle last
        self._threads = 0
        self._shut_down = False

    @property
    def threads(self) -> int:
        """How many threads exist now."""
        with self._lock:
            return self._threads

    @property
    def idle_threads(self) -> int:
        """How many threads are waiting for a call."""
        with self._lock:
            return len(self._idle)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            if self._shut_down:
                raise RuntimeError("cannot submit to a pool that was shut down")
            if self._idle:  # the most recently idle thread takes it: the others stay idle and may exit
                idle = self._idle.pop()
                idle.call = (future, fn, args, kwargs)
                idle.wake.release()
                return future
            self._calls.append((future, fn, args, kwargs))
            if self._threads == 0:
                self._start_thread()
            elif self._threads < self.max_workers:
                if self._spawner is None:
                    self._spawner = threading.Thread(target=self._spawn_while_short, name=f"{self._name}_spawner",
                                                     daemon=True)
                    self._spawner.start()
                self._short.notify()
        return future

    def _start_thread(self) -> None:
        self._threads += 1
        threading.Thread(target=self._work, name=f"{self._name}_{next(self._numbers)}").start()

    def _short_of_threads(self) -> bool:
        return bool(self._calls) and self._threads < self.max_workers and not self._shut_down

    def _spawn_while_short(self) -> None:
        with self._short:
            while not self._shut_down:
                if not self._short_of_threads():
                    self._short.wait()
                    continue
                deadline = time.monotonic() + self.spawn_after  # the running threads may take them meanwhile
                while self._short_of_threads() and (left := deadline - time.monotonic()) > 0:
                    self._short.wait(left)
                if self._short_of_threads():
                    self._start_thread()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shut_down = True
            if cancel_futures:
                while self._calls:
                    self._calls.popleft()[0].cancel()
            while self._idle:  # woken without a call: they exit
                self._idle.pop().wake.release()
            self._short.notify_all()
            while wait and self._threads:
                self._ended.wait()

    def _work(self) -> None:
        idle = _Idle()
        while (call := self._next_call(idle)) is not None:
            future, fn, args, kwargs = call
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 (handed to the caller, as ThreadPoolExecutor does)
                future.set_exception(exc)
            else:
                future.set_result(result)
            del future, fn, args, kwargs, call  # nothing of the call outlives it while the thread waits

    def _next_call(self, idle: _Idle) -> _Call | None:
        with self._lock:
            if self._calls:
                return self._calls.popleft()
            if self._shut_down:
                self._end()
                return None
            self._idle.append(idle)
        woken = idle.wake.acquire(timeout=self.idle_seconds)
        with self._lock:
            if not woken:
                if idle in self._idle:  # nothing came for `idle_seconds`
                    self._idle.remove(idle)
                    self._end()
                    return None
                idle.wake.acquire()  # handed a call (or woken by shutdown) just as the wait timed out
            call, idle.call = idle.call, None
            if call is None:
                self._end()
            return call

    def _end(self) -> None:
        """The calling thread ends (the lock is held)."""
        self._threads -= 1
        self._ended.notify_all()  # a `shutdown(wait=True)` counts the threads left
