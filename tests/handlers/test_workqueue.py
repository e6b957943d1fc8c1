"""The work queue runs each key once per wake, never twice at once, and keeps going after failures.

Every test waits for what it asserts (a number of calls, an empty queue) with a generous deadline; nothing
depends on how fast the machine is.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable

from picchu.handlers.workqueue import WorkQueue

DEADLINE = 30.0


async def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def _run(queue: WorkQueue, body: Callable[[], Awaitable[None]]) -> None:
    async def main() -> None:
        task = asyncio.create_task(queue.run())
        await asyncio.sleep(0)
        try:
            await body()
        finally:
            task.cancel()

    asyncio.run(main())


def test_a_key_woken_many_times_while_running_reruns_once_and_never_concurrently() -> None:
    active, calls, overlap = [0], [], []
    lock = threading.Lock()
    first_started, release_first = threading.Event(), threading.Event()

    def reconcile(key):
        with lock:
            active[0] += 1
            if active[0] > 1:
                overlap.append(key)
        calls.append(key)
        if len(calls) == 1:
            first_started.set()
            release_first.wait(DEADLINE)
        with lock:
            active[0] -= 1
        return None

    queue = WorkQueue("t", reconcile, concurrency=4)

    async def body() -> None:
        queue.add("rm")
        await asyncio.to_thread(first_started.wait, DEADLINE)
        for _ in range(5):
            queue.add("rm")  # all while the first pass runs
        release_first.set()
        await _until(lambda: len(calls) >= 2 and queue.depth == 0, "the rerun to finish and the queue to drain")

    _run(queue, body)
    assert calls == ["rm", "rm"]
    assert overlap == []


def test_a_failing_key_is_retried_with_backoff_and_other_keys_keep_running() -> None:
    calls: list[str] = []

    def reconcile(key):
        calls.append(key)
        if key == "bad":
            raise RuntimeError("boom")
        return None

    queue = WorkQueue("t", reconcile, concurrency=2, base_backoff=0.1)

    async def body() -> None:
        queue.add("bad")
        queue.add("good")
        await _until(lambda: calls.count("bad") >= 3 and "good" in calls, "retries of the failing key")

    _run(queue, body)
    assert calls.count("good") == 1, "a key that succeeded and asked for no requeue runs once"


def test_the_returned_delay_brings_the_key_back_periodically_and_never_earlier() -> None:
    calls: list[float] = []

    def reconcile(key):
        calls.append(time.monotonic())
        return 0.1

    queue = WorkQueue("t", reconcile, concurrency=1)

    async def body() -> None:
        queue.add("k")
        await _until(lambda: len(calls) >= 4, "four periodic passes")

    _run(queue, body)
    gaps = [b - a for a, b in zip(calls, calls[1:], strict=False)]
    assert all(gap >= 0.1 for gap in gaps), f"a key comes back after its delay, not before: {gaps}"
