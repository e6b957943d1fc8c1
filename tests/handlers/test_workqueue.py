"""The work queue runs each key once per wake, never twice at once, and keeps going after failures."""

from __future__ import annotations

import asyncio
import threading
import time

from picchu.handlers.workqueue import WorkQueue


def _run(queue: WorkQueue, body, seconds: float = 2.0) -> None:
    async def main() -> None:
        task = asyncio.create_task(queue.run())
        await asyncio.sleep(0)
        await body()
        await asyncio.sleep(0)
        task.cancel()

    asyncio.run(asyncio.wait_for(main(), seconds + 5))


def test_a_key_woken_many_times_while_running_reruns_once_and_never_concurrently() -> None:
    active, calls, overlap = [0], [], []
    lock = threading.Lock()

    def reconcile(key):
        with lock:
            active[0] += 1
            if active[0] > 1:
                overlap.append(key)
        calls.append(key)
        time.sleep(0.2)
        with lock:
            active[0] -= 1
        return None

    queue = WorkQueue("t", reconcile, concurrency=4)

    async def body() -> None:
        queue.add("rm")
        await asyncio.sleep(0.05)
        for _ in range(5):
            queue.add("rm")
        await asyncio.sleep(0.8)

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
        await asyncio.sleep(0.5)

    _run(queue, body)
    assert calls.count("good") == 1
    assert calls.count("bad") >= 2


def test_the_returned_delay_brings_the_key_back_periodically() -> None:
    calls: list[float] = []

    def reconcile(key):
        calls.append(time.monotonic())
        return 0.1

    queue = WorkQueue("t", reconcile, concurrency=1)

    async def body() -> None:
        queue.add("k")
        await asyncio.sleep(0.55)

    _run(queue, body)
    assert 3 <= len(calls) <= 7
