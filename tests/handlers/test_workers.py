"""The elastic thread pool runs every call, at most `max_workers` at once, and its idle threads exit."""

from __future__ import annotations

import threading
import time

import pytest

from picchu.handlers.workers import ElasticThreadPool

DEADLINE = 30.0  # seconds; generous for a loaded machine: every wait below ends on a condition


def wait_until(condition, message: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.01)


def test_calls_run_concurrently_up_to_the_limit_and_every_one_runs() -> None:
    pool = ElasticThreadPool(3, idle_seconds=DEADLINE, name="t")
    release = threading.Event()
    running, most = [0], [0]
    lock = threading.Lock()

    def call(n: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        release.wait(DEADLINE)
        with lock:
            running[0] -= 1
        return n * n

    futures = [pool.submit(call, n) for n in range(10)]
    wait_until(lambda: running[0] == 3, "three calls running")
    assert pool.threads == 3  # the other seven wait for a thread: no fourth one
    release.set()
    assert [f.result(DEADLINE) for f in futures] == [n * n for n in range(10)]
    assert most[0] == 3
    pool.shutdown()
    assert pool.threads == 0


def test_an_idle_thread_exits_and_the_next_call_starts_one_again() -> None:
    pool = ElasticThreadPool(4, idle_seconds=0.2, name="t")
    assert pool.submit(lambda: "first").result(DEADLINE) == "first"
    wait_until(lambda: pool.threads == 0, "the idle thread exited")
    assert not [t for t in threading.enumerate() if t.name.startswith("t_")]
    assert pool.submit(lambda: "again").result(DEADLINE) == "again"
    pool.shutdown()


def test_a_waiting_thread_takes_the_next_call_instead_of_a_new_thread() -> None:
    pool = ElasticThreadPool(4, idle_seconds=DEADLINE, name="t")
    for n in range(5):
        assert pool.submit(lambda n=n: n).result(DEADLINE) == n  # one at a time
        wait_until(lambda: pool.idle_threads == 1, "the thread waits for the next call")
    assert pool.threads == 1
    pool.shutdown()


def test_errors_reach_the_caller_and_the_thread_keeps_working() -> None:
    pool = ElasticThreadPool(1, idle_seconds=DEADLINE, name="t")

    def fail() -> None:
        raise ValueError("bad object")

    with pytest.raises(ValueError, match="bad object"):
        pool.submit(fail).result(DEADLINE)
    assert pool.submit(lambda: "next").result(DEADLINE) == "next"
    pool.shutdown()


def test_shutdown_cancels_what_did_not_start_and_refuses_more() -> None:
    pool = ElasticThreadPool(1, idle_seconds=DEADLINE, name="t")
    started, release = threading.Event(), threading.Event()

    def block() -> str:
        started.set()
        release.wait(DEADLINE)
        return "done"

    running = pool.submit(block)
    queued = pool.submit(lambda: "never")
    started.wait(DEADLINE)
    pool.shutdown(wait=False, cancel_futures=True)
    assert queued.cancelled()
    with pytest.raises(RuntimeError):
        pool.submit(lambda: None)
    release.set()
    assert running.result(DEADLINE) == "done"
    wait_until(lambda: pool.threads == 0, "the last thread exited after its call")


def test_quick_calls_arriving_together_are_served_by_the_running_threads() -> None:
    pool = ElasticThreadPool(50, idle_seconds=DEADLINE, spawn_after=0.05, name="t")
    futures = [pool.submit(lambda n=n: n) for n in range(200)]  # a wave of passes that take no time
    assert [f.result(DEADLINE) for f in futures] == list(range(200))
    assert pool.threads < 50  # far fewer threads than the limit (one per call would be 50)
    pool.shutdown()


def test_calls_that_wait_get_more_threads_up_to_the_limit() -> None:
    pool = ElasticThreadPool(4, idle_seconds=DEADLINE, spawn_after=0.01, name="t")
    release = threading.Event()
    futures = [pool.submit(release.wait, DEADLINE) for _ in range(6)]
    wait_until(lambda: pool.threads == 4, "the spawner added threads while calls waited")
    release.set()
    assert all(f.result(DEADLINE) for f in futures)
    pool.shutdown()
    assert pool.threads == 0


def test_threads_a_steady_trickle_of_calls_does_not_need_exit() -> None:
    pool = ElasticThreadPool(8, idle_seconds=1.0, spawn_after=0.0, name="t")
    release = threading.Event()
    burst = [pool.submit(release.wait, DEADLINE) for _ in range(8)]
    wait_until(lambda: pool.threads == 8, "a burst started eight threads")
    release.set()
    assert all(f.result(DEADLINE) for f in burst)
    deadline = time.monotonic() + DEADLINE
    while pool.threads > 1:  # one quick call every 20 ms: one thread is enough, the other seven exit
        assert time.monotonic() < deadline, f"{pool.threads} threads kept alive by a trickle of calls"
        assert pool.submit(lambda: "quick").result(DEADLINE) == "quick"
        time.sleep(0.02)
    pool.shutdown()
