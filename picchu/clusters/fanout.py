"""Run one function per cluster concurrently, each with its own time budget, and return every outcome as data.

Why: multi-cluster work is a fan-out of single-cluster code (architecture principle 3); one slow or broken
cluster must degrade only its own entry. Neighbours: the applier and the observer.

Invariants: `fan_out` never raises because of one cluster; it returns within about ``timeout`` seconds plus
a small grace (the per-request timeouts derived from the same `Deadline` make the worker itself stop soon
after); a worker still running after that is left to finish on its own, its entry reported as timed out.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from picchu.clusters.connection import ClusterConnection
from picchu.clusters.transport import Deadline

T = TypeVar("T")
_GRACE_SECONDS = 1.0
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClusterError:
    """Why one cluster produced no result (the message is redacted)."""

    cluster: str
    reason: str


@dataclass(frozen=True)
class Outcome(Generic[T]):
    cluster: str
    value: T | None = None
    error: ClusterError | None = None


def fan_out(connections: Sequence[ClusterConnection], work: Callable[[ClusterConnection, Deadline], T],
            timeout: float) -> dict[str, Outcome[T]]:
    """``work(connection, deadline)`` for every connection at once; outcomes keyed by cluster name."""
    if not connections:
        return {}
    # A fresh executor per call: concurrent callers (kopf executor threads) never queue behind each other,
    # so a cluster's budget is spent on its own requests only.
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=len(connections),
                                                     thread_name_prefix="picchu-cluster")
    try:
        futures = {executor.submit(work, c, Deadline(timeout)): c for c in connections}
        done, _ = concurrent.futures.wait(futures, timeout=timeout + _GRACE_SECONDS)
        outcomes: dict[str, Outcome[T]] = {}
        for future, connection in futures.items():
            outcomes[connection.name] = _outcome(future, connection, done, timeout)
        return outcomes
    finally:
        executor.shutdown(wait=False)


def _outcome(future: concurrent.futures.Future[T], connection: ClusterConnection,
             done: set[concurrent.futures.Future[T]], timeout: float) -> Outcome[T]:
    if future not in done:
        return Outcome(connection.name, error=ClusterError(connection.name, f"timed out after {timeout:g}s"))
    error = future.exception()
    if error is None:
        return Outcome(connection.name, value=future.result())
    reason = connection.redact(f"{type(error).__name__}: {error}")
    log.warning("cluster %s failed: %s", connection.name, reason, extra={"cluster": connection.name})
    return Outcome(connection.name, error=ClusterError(connection.name, reason))
