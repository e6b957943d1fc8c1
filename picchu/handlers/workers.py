"""A thread pool whose threads exist only while there is work: an idle thread exits after `idle_seconds`.

Why: `concurrent.futures.ThreadPoolExecutor` keeps every thread it ever started. The work queues run up to
Picchu's default 20 Revision and 50 ReleaseManager passes at once, so one burst of changes left 70 threads for
the life of the process, each with the stack its passes touched, its Python frame stack and glibc's per-thread
cache of freed blocks, all resident while the fleet was idle again. Here a thread that found no work for
`idle_seconds` exits; the next burst starts threads again (a few hundred microseconds each).

Invariant: every submitted call has a thread that will run it. `submit` starts a thread unless enough threads
are waiting for work to take every call not yet taken, or `max_workers` are running (then a thread takes it
when it finishes its call).
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


class ElasticThreadPool(Executor):
    def __init__(self, max_workers: int, *, idle_seconds: float = IDLE_SECONDS, name: str = "worker") -> None:
        self.max_workers = max(1, max_workers)
        self.idle_seconds = idle_seconds
        self._name = name
        self._numbers = itertools.count()
        self._changed = threading.Condition()
        self._calls: deque[tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = deque()
        self._threads = 0
        self._waiting = 0  # threads blocked in `_next_call`
        self._shut_down = False

    @property
    def threads(self) -> int:
        """How many threads exist now."""
        with self._changed:
            return self._threads

    @property
    def idle_threads(self) -> int:
        """How many threads are waiting for a call."""
        with self._changed:
            return self._waiting

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        with self._changed:
            if self._shut_down:
                raise RuntimeError("cannot submit to a pool that was shut down")
            self._calls.append((future, fn, args, kwargs))
            if self._waiting >= len(self._calls):
                self._changed.notify()
            elif self._threads < self.max_workers:
                self._threads += 1
                threading.Thread(target=self._work, name=f"{self._name}_{next(self._numbers)}").start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._changed:
            self._shut_down = True
            if cancel_futures:
                while self._calls:
                    self._calls.popleft()[0].cancel()
            self._changed.notify_all()
            while wait and self._threads:
                self._changed.wait()

    def _work(self) -> None:
        while (call := self._next_call()) is not None:
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

    def _next_call(self) -> tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]] | None:
        with self._changed:
            deadline = time.monotonic() + self.idle_seconds
            while not self._calls:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._shut_down:
                    self._threads -= 1
                    self._changed.notify_all()  # a `shutdown(wait=True)` counts the threads left
                    return None
                self._waiting += 1
                try:
                    self._changed.wait(remaining)
                finally:
                    self._waiting -= 1
            return self._calls.popleft()
