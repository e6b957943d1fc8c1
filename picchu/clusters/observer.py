"""What the ReplicaSets of one app/target look like on every cluster right now (§12), errors as data.

Why: the release decisions need, per tag, how many replicas each cluster wants and has available. Picchu's
concurrent observer failed as a whole on the first unreachable cluster; here an unreachable cluster is an
entry in `Observation.errors` and the others are still reported (the pure core treats it as "unknown").

Two observers with one interface: `Observer` LISTs per call (one request per cluster: the CLI's one-shot
reads), `WatchingObserver` reads a cache fed by one watch per cluster (`reflector`; the operator, whose
reads then do not grow with the number of apps). Neighbours: `transport`, `fanout` (concurrency and the
per-cluster time budget); the engine calls `observe` once per pass and aggregates per tag in the pure core.

Invariants: read-only; only ReplicaSets labelled `picchu.medium.engineering/tag` in namespace
«app»-«target» are reported; a cluster that cannot be read (LIST failed, watch down) is an error entry.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from picchu import keys
from picchu.clusters.connection import ClusterConnection
from picchu.clusters.fanout import fan_out
from picchu.clusters.reflector import NotSynced, Reflector
from picchu.clusters.transport import Deadline, RequestFailed, send


@dataclass(frozen=True)
class ReplicaSetState:
    """One tagged ReplicaSet on one cluster: ``desired`` = spec.replicas, ``available`` = availableReplicas."""

    cluster: str
    live: bool
    tag: str
    desired: int
    available: int


@dataclass(frozen=True)
class Observation:
    """Every tagged ReplicaSet seen, plus why each cluster that could not be read was not."""

    replicasets: tuple[ReplicaSetState, ...] = ()
    errors: dict[str, str] = field(default_factory=dict)

    def by_tag(self) -> dict[str, list[ReplicaSetState]]:
        grouped: dict[str, list[ReplicaSetState]] = {}
        for state in self.replicasets:
            grouped.setdefault(state.tag, []).append(state)
        return grouped

    @property
    def complete(self) -> bool:
        """True when every cluster answered."""
        return not self.errors


class Observer:
    """Lists tagged ReplicaSets on all clusters at once, each within ``timeout`` seconds."""

    def __init__(self, *, timeout: float = 10.0) -> None:
        self.timeout = timeout

    def observe(self, connections: Sequence[ClusterConnection], namespace: str) -> Observation:
        """Observe ``namespace`` (the app's «app»-«target» namespace) on every connection."""
        outcomes = fan_out(connections, lambda c, deadline: _observe_one(c, namespace, deadline), self.timeout)
        states: list[ReplicaSetState] = []
        errors: dict[str, str] = {}
        for connection in connections:
            outcome = outcomes[connection.name]
            if outcome.value is not None:
                states.extend(outcome.value)
            else:
                errors[connection.name] = outcome.error.reason if outcome.error else "no result"
        return Observation(tuple(states), errors)


def _observe_one(connection: ClusterConnection, namespace: str, deadline: Deadline) -> list[ReplicaSetState]:
    response = send(connection, "GET", f"/apis/apps/v1/namespaces/{namespace}/replicasets", deadline,
                    query=(("labelSelector", keys.LABEL_TAG),))
    if not response.ok:
        raise RequestFailed(f"listing ReplicaSets in {namespace}: {response.reason()}")
    states = []
    for item in response.body.get("items") or []:
        tag = ((item.get("metadata") or {}).get("labels") or {}).get(keys.LABEL_TAG)
        if not tag:
            continue
        states.append(ReplicaSetState(
            cluster=connection.name, live=connection.live, tag=tag,
            desired=int((item.get("spec") or {}).get("replicas") or 0),
            available=int((item.get("status") or {}).get("availableReplicas") or 0)))
    return states


def _project(item: Mapping[str, Any]) -> tuple[str, int, int]:
    """What a pass needs of a ReplicaSet: (tag, spec.replicas, status.availableReplicas)."""
    tag = ((item.get("metadata") or {}).get("labels") or {}).get(keys.LABEL_TAG) or ""
    return (str(tag), int((item.get("spec") or {}).get("replicas") or 0),
            int((item.get("status") or {}).get("availableReplicas") or 0))


class WatchingObserver(Observer):
    """The operator's observer: one cluster-wide watch of tagged ReplicaSets per target cluster feeds a cache,
    and `observe` reads the cache (no request per pass). A cluster whose watch is down (or not yet listed
    within ``timeout``) is an error entry, exactly like a cluster whose LIST failed: unknown, so ramps hold.

    ``on_change(cluster, namespace)`` is told of every ReplicaSet change, so a pass can be woken by it."""

    def __init__(self, *, timeout: float = 10.0, watch_seconds: int = 120,
                 on_change: Callable[[str, str], None] | None = None,
                 backoff: Sequence[float] = (0.5, 1, 2, 4, 8)) -> None:
        super().__init__(timeout=timeout)
        self.watch_seconds, self.backoff = watch_seconds, tuple(backoff)
        self.on_change = on_change
        self._reflectors: dict[str, tuple[str, Reflector]] = {}  # cluster name -> (connection identity, reflector)
        self._lock = threading.Lock()

    def observe(self, connections: Sequence[ClusterConnection], namespace: str) -> Observation:
        deadline = time.monotonic() + self.timeout
        reflectors = [(c, self._reflector(c)) for c in connections]
        states: list[ReplicaSetState] = []
        down: dict[str, tuple[ClusterConnection, Reflector]] = {}
        for connection, reflector in reflectors:
            reflector.wait_attempted(deadline - time.monotonic())
            try:
                items = reflector.items(namespace)
            except NotSynced:
                down[connection.name] = (connection, reflector)
                continue
            states.extend(ReplicaSetState(cluster=connection.name, live=connection.live, tag=tag,
                                          desired=desired, available=available)
                          for tag, desired, available in items if tag)
        # A cluster whose watch is down is read directly, as the one-shot observer does: a returning cluster is
        # known (and caught up) at the first pass it answers, not when its watch's back-off ends, which the
        # answer cuts short. Dead clusters cost little here: their breaker fails them fast.
        outcomes = fan_out([c for c, _ in down.values()], lambda c, d: _observe_one(c, namespace, d),
                           max(0.0, deadline - time.monotonic())) if down else {}
        errors: dict[str, str] = {}
        for name, (_, reflector) in down.items():
            outcome = outcomes[name]
            if outcome.value is not None:
                states.extend(outcome.value)
                reflector.retry_now()
            else:
                errors[name] = outcome.error.reason if outcome.error else f"{name} unreachable: not listed yet"
        return Observation(tuple(states), errors)

    def _reflector(self, connection: ClusterConnection) -> Reflector:
        with self._lock:
            known = self._reflectors.get(connection.name)
            if known is not None and known[0] == connection.identity:
                return known[1]
            cluster = connection.name

            def changed(namespace: str) -> None:
                hook = self.on_change  # read at each change: the operator sets it once its queues exist
                if hook is not None:
                    hook(cluster, namespace)

            reflector = Reflector(
                connection.api, "/apis/apps/v1/replicasets", name=connection.name, label_selector=keys.LABEL_TAG,
                project=_project, watch_seconds=self.watch_seconds, redact=connection.redact, backoff=self.backoff,
                on_change=changed)
            self._reflectors[connection.name] = (connection.identity, reflector)
        if known is not None:  # the client was rebuilt (credentials rotated, server moved)
            known[1].stop()
        return reflector.start()

    def forget(self, cluster: str) -> None:
        """Stop watching a cluster (it was deleted or disabled)."""
        with self._lock:
            known = self._reflectors.pop(cluster, None)
        if known is not None:
            known[1].stop()

    def close(self) -> None:
        with self._lock:
            known, self._reflectors = list(self._reflectors.values()), {}
        for _, reflector in known:
            reflector.stop()
