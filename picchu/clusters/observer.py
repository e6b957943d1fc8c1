"""What the ReplicaSets of one app/target look like on every cluster right now (§12), errors as data.

Why: the release decisions need, per tag, how many replicas each cluster wants and has available. Picchu's
concurrent observer failed as a whole on the first unreachable cluster; here an unreachable cluster is an
entry in `Observation.errors` and the others are still reported (the pure core treats it as "unknown").

Neighbours: `transport` (one LIST per cluster), `fanout` (concurrency and the per-cluster time budget); the
engine calls `Observer.observe` before and after deciding, and aggregates per tag in the pure core.

Invariants: read-only; one request per cluster; only ReplicaSets labelled `picchu.medium.engineering/tag`
in namespace «app»-«target» are reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from picchu import keys
from picchu.clusters.connection import ClusterConnection
from picchu.clusters.fanout import fan_out
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
