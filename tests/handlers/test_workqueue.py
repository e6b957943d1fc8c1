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
from picchu.outcome import Park

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


def test_a_parked_key_backs_off_exponentially_up_to_the_cap() -> None:
    backoffs: list[float] = []
    queue: WorkQueue

    def reconcile(key):
        backoffs.append(queue.backoff(key))  # the back-off that brought it here (0 on the first pass)
        return Park("cluster unreachable", 0.01)

    queue = WorkQueue("t", reconcile, concurrency=1, base_backoff=0.01, max_backoff=0.08, min_park=0.01)

    async def body() -> None:
        queue.add("k")
        await _until(lambda: len(backoffs) >= 6, "six parked passes")

    _run(queue, body)
    assert backoffs[:6] == [0.0, 0.01, 0.02, 0.04, 0.08, 0.08]


def test_add_does_not_unpark_but_a_wake_resets_the_backoff_and_runs_at_once() -> None:
    calls: list[str] = []

    def reconcile(key):
        calls.append(key)
        return Park("invalid spec", 1000.0)

    queue = WorkQueue("t", reconcile, concurrency=1, max_backoff=3600)

    async def body() -> None:
        queue.add("k")
        await _until(lambda: queue.backoff("k") == 1000.0, "the key to park")
        queue.add("k")  # a periodic requeue or a status write of our own
        queue.add("k", 0.0)
        await asyncio.sleep(0)
        assert (queue.scheduled_in("k") or 0) > 900, "an add must not bring a parked key before its back-off"
        queue.wake("k")  # its object changed
        await _until(lambda: len(calls) == 2, "the woken key to run")
        await _until(lambda: queue.backoff("k") == 1000.0, "the woken key to park again from the first step")

    _run(queue, body)
    assert calls == ["k", "k"]


def _grouped(calls: list[str], first: list[tuple[str, str]], touch: Callable[[WorkQueue], None],
             then: int) -> None:
    """Run `first` (key, group) once each (keys named parked-* park), call `touch`, wait for `then` passes and a
    marker added afterwards (so anything `touch` scheduled has run)."""
    def reconcile(key):
        calls.append(key)
        return Park("holding", 1000.0) if key.startswith("parked") else 1000.0

    queue = WorkQueue("t", reconcile, concurrency=1, max_backoff=3600)
    parked = sum(key.startswith("parked") for key, _ in first)

    async def body() -> None:
        for key, group in first:
            queue.add(key, group=group)
        await _until(lambda: len(calls) == len(first) and queue.parked == parked, "the first passes")
        touch(queue)
        await _until(lambda: len(calls) == then, "the touched group's key to run")
        queue.add("marker", group="m")
        await _until(lambda: "marker" in calls, "the marker")

    _run(queue, body)


def test_wake_group_runs_only_the_parked_keys_of_that_group() -> None:
    calls: list[str] = []
    _grouped(calls, [("parked-a", "app-a"), ("healthy-a", "app-a"), ("parked-b", "app-b")],
             lambda q: q.wake_group("app-a"), 4)
    assert calls[3] == "parked-a" and calls.count("parked-b") == 1 and calls.count("healthy-a") == 1


def test_a_flood_of_keys_from_one_app_does_not_make_another_app_wait_its_turn() -> None:
    order: list[str] = []
    gate = threading.Event()

    def reconcile(key):
        if key == "first":
            gate.wait(DEADLINE)
        order.append(key)
        return None

    queue = WorkQueue("t", reconcile, concurrency=1)

    async def body() -> None:
        queue.add("first", group="noisy")
        await _until(lambda: queue.scheduled_in("first") is None, "the first pass to start")
        for i in range(200):
            queue.add(f"noisy-{i}", group="noisy")
        queue.add("legit", group="legit")  # due after all 200
        gate.set()
        await _until(lambda: queue.depth == 0, "the queue to drain")

    _run(queue, body)
    assert order.index("legit") <= 2, f"the other app waited {order.index('legit')} turns"


def test_parked_keys_use_at_most_half_the_workers_and_never_delay_healthy_ones() -> None:
    lock = threading.Lock()
    running_parked, most = [0], [0]
    healthy_passes, parked_passes = [0], [0]

    queue: WorkQueue

    def reconcile(key):
        if key.startswith("broken"):
            parked = queue.backoff(key) > 0  # first passes are not parked yet and may use every worker
            with lock:
                running_parked[0] += parked
                parked_passes[0] += parked
                most[0] = max(most[0], running_parked[0])
            time.sleep(0.02)  # a slow failure
            with lock:
                running_parked[0] -= parked
            return Park("unreachable", 0.001)
        healthy_passes[0] += 1
        return 0.0

    queue = WorkQueue("t", reconcile, concurrency=4, base_backoff=0.001, max_backoff=0.002, min_park=0.001)

    async def body() -> None:
        for i in range(20):
            queue.add(f"broken-{i}", group=f"team-{i}")
        await _until(lambda: queue.parked >= 10, "broken keys to park")
        queue.add("healthy", group="legit")
        # Both kinds keep running on a loaded machine too: wait for passes of each, not for a time.
        await _until(lambda: healthy_passes[0] >= 50 and parked_passes[0] >= 10, "fifty healthy, ten parked passes")

    _run(queue, body)
    assert 1 <= most[0] <= queue.parked_slots == 2


def test_a_key_woken_while_it_waits_for_a_worker_never_runs_twice_at_once() -> None:
    """The kill -9 run's two passes 130 ms apart that both stepped 40 → 50 (an older queue picked a key, then
    waited for a worker; a wake meanwhile queued it again, and both picks ran side by side)."""
    active: dict[str, int] = {}
    overlap: list[str] = []
    calls: list[str] = []
    lock = threading.Lock()
    started = {k: threading.Event() for k in ("x", "y", "rm")}
    release = {k: threading.Event() for k in ("x", "y", "rm")}

    def reconcile(key):
        with lock:
            active[key] = active.get(key, 0) + 1
            if active[key] > 1:
                overlap.append(key)
            calls.append(key)
        started[key].set()
        release[key].wait(DEADLINE)
        with lock:
            active[key] -= 1
        return None

    queue = WorkQueue("t", reconcile, concurrency=2)

    async def body() -> None:
        queue.add("x")
        queue.add("y")
        await asyncio.to_thread(started["x"].wait, DEADLINE)
        await asyncio.to_thread(started["y"].wait, DEADLINE)
        queue.add("rm")  # due, but both workers are busy
        await asyncio.sleep(0.05)
        for _ in range(3):
            queue.wake("rm")  # while it waits for a worker
            await asyncio.sleep(0.01)
        release["x"].set()  # rm gets x's worker ...
        await asyncio.to_thread(started["rm"].wait, DEADLINE)
        queue.wake("rm")  # ... and a wake while it runs asks for one rerun after it
        release["y"].set()  # a free worker must not start rm a second time meanwhile
        await asyncio.sleep(0.2)
        release["rm"].set()
        await _until(lambda: queue.depth == 0, "the queue to drain")

    _run(queue, body)
    assert overlap == []
    assert calls.count("rm") == 2


def test_add_group_schedules_every_key_of_that_group_now_but_leaves_parked_keys_parked() -> None:
    calls: list[str] = []
    _grouped(calls, [("parked-a", "app-a"), ("healthy-a", "app-a"), ("healthy-b", "app-b")],
             lambda q: q.add_group("app-a"), 4)
    assert calls[3] == "healthy-a" and calls.count("parked-a") == 1 and calls.count("healthy-b") == 1
