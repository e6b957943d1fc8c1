"""A ramp step never follows the previous one on a cluster sooner than the ramp delay, however long applying
the previous one took (the reliability suite's kill -9 run saw `v2` go 40 → 60 on one cluster in 0.6 s with a
2 s delay while its passes were slow).

ReleaseManager passes run one after another (as the work queue runs them) against fakes of picchu's own
collaborators: the delivery cluster is a dict, the applier records when each cluster's VirtualService weights
changed and takes a configurable time to do it, pods are ready as soon as a ReplicaSet is written. A fake
clock makes every time exact; no sleep, no control plane.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from picchu import keys
from picchu.clusters.applier import ClusterApplyResult
from picchu.clusters.breaker import Breaker
from picchu.clusters.observer import Observation, ReplicaSetState
from picchu.engine.context import EngineContext
from picchu.engine.release_manager import reconcile_release_manager
from picchu.metrics import OperatorMetrics
from picchu.settings import Settings
from picchu.testing.builders import revision_manifest

NS, APP, FLEET = "delivery", "k2f712", "production"
RM = f"{APP}-production"
START = datetime(2026, 12, 2, 4, 28, 46, tzinfo=UTC)
DELAY = 2.0
LINEAR_10 = {"eligible": True, "schedule": "always", "scalingStrategy": "linear",
             "linearScaling": {"increment": 10, "delay": f"{DELAY:g}s"}}


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FakeDelivery:
    """picchu's objects in the delivery cluster, with merge-patch writes (status is one top-level merge)."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.version = 0

    def put(self, obj: dict[str, Any]) -> None:
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)
        self.objects[(obj["kind"], obj["metadata"]["name"])] = obj

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        found = self.objects.get((kind, name))
        return copy.deepcopy(found) if found is not None else None

    def list(self, kind: str, namespace: str | None, labels: dict[str, str] | None = None) -> list[dict[str, Any]]:
        wanted = labels or {}
        return [copy.deepcopy(o) for (k, _), o in sorted(self.objects.items()) if k == kind
                and all(key in (o["metadata"].get("labels") or {})
                        and (not v or o["metadata"]["labels"][key] == v) for key, v in wanted.items())]

    def patch_status(self, kind: str, namespace: str, name: str, status: dict[str, Any]) -> dict[str, Any]:
        obj = self.objects[(kind, name)]
        obj["status"] = {**(obj.get("status") or {}), **copy.deepcopy(status)}
        self.put(obj)
        return copy.deepcopy(obj)

    def patch(self, kind: str, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        obj = self.objects[(kind, name)]
        labels = obj["metadata"].setdefault("labels", {})
        for key, value in ((body.get("metadata") or {}).get("labels") or {}).items():
            if value is None:
                labels.pop(key, None)
            else:
                labels[key] = value
        self.put(obj)
        return copy.deepcopy(obj)

    def delete(self, kind: str, namespace: str, name: str) -> bool:
        return self.objects.pop((kind, name), None) is not None

    def secret(self, namespace: str, name: str) -> dict[str, Any]:
        return {"metadata": {"name": name, "namespace": namespace}, "data": {}}

    def list_core(self, kind: str, namespace: str, label_selector: str | None) -> list[dict[str, Any]]:
        return []


@dataclass
class FakeConnection:
    name: str
    live: bool = True
    identity: str = ""
    breaker: Breaker = field(default_factory=Breaker)

    def redact(self, text: str) -> str:
        return text


class FakePool:
    def connect(self, obj: dict[str, Any], secret: Any) -> FakeConnection:
        name = obj["metadata"]["name"]
        return FakeConnection(name, identity=name)


@dataclass
class Cluster:
    """What one target cluster holds: ReplicaSet replicas per tag and the VirtualService's release weights,
    with the time of every change of those weights."""

    replicas: dict[str, int] = field(default_factory=dict)
    weights: dict[str, int] = field(default_factory=dict)
    changes: list[tuple[datetime, dict[str, int]]] = field(default_factory=list)


class FakeApplier:
    """Writes plans to `clusters`; a write that changes weights takes `latency(n)` seconds (n counts those
    writes from 0) and the weights land at its end; any other apply takes 0.05 s."""

    def __init__(self, clock: Clock, clusters: dict[str, Cluster], latency: Callable[[int], float]) -> None:
        self.clock, self.clusters, self.latency = clock, clusters, latency
        self.weight_writes = 0

    def forget_objects(self, connection: Any, keys: Any) -> None:
        pass

    def settle_unchanged(self, connection: Any, plan: Any) -> None:
        return None  # remembers nothing: every pass renders and applies

    def apply(self, targets: Any, *, log_fields: Any = None) -> dict[str, ClusterApplyResult]:
        changed = []
        for connection, plan in targets:
            cluster = self.clusters[connection.name]
            for desired in plan.objects:
                manifest = desired.manifest
                if manifest["kind"] == "ReplicaSet":
                    tag = manifest["metadata"]["labels"][keys.LABEL_TAG]
                    cluster.replicas[tag] = int(manifest["spec"].get("replicas") or 0)
                elif manifest["kind"] == "VirtualService":
                    route = next(r for r in manifest["spec"]["http"] if r.get("name") == "01_release-http")
                    weights = {d["destination"]["subset"]: d.get("weight", 0) for d in route["route"]
                               if d.get("weight", 0)}
                    if weights != cluster.weights:
                        changed.append((cluster, weights))
        if changed:
            self.clock.advance(self.latency(self.weight_writes))
            self.weight_writes += 1
        else:
            self.clock.advance(0.05)
        for cluster, weights in changed:
            cluster.weights = weights
            cluster.changes.append((self.clock(), weights))
        return {c.name: ClusterApplyResult(c.name) for c, _ in targets}


class FakeObserver:
    def __init__(self, clusters: dict[str, Cluster]) -> None:
        self.clusters = clusters

    def observe(self, connections: Any, namespace: str) -> Observation:
        return Observation(tuple(
            ReplicaSetState(cluster=c.name, live=True, tag=tag, desired=n, available=n)
            for c in connections for tag, n in self.clusters[c.name].replicas.items()))


class Verdict:
    is_unknown = False
    reason = ""


class FakeAlerts:
    def triggered_alerts(self, app: str, tag: str, canary: bool) -> Verdict:
        return Verdict()


class FakeEvents:
    def emit(self, *args: Any, **kwargs: Any) -> bool:
        return True


def _cluster(name: str) -> dict[str, Any]:
    return {"apiVersion": keys.API_VERSION, "kind": "Cluster",
            "metadata": {"name": name, "namespace": NS, "labels": {keys.LABEL_FLEET: FLEET}},
            "spec": {"enabled": True, "hotStandby": False, "scalingFactorString": "1.0",
                     "config": {"server": f"https://{name}.example", "certificate-authority-data": ""},
                     "ingresses": {"public": {"dnsName": f"public.{name}.example", "gateway": "public-gateway",
                                              "defaultDomains": []},
                                   "private": {"dnsName": f"private.{name}.example", "gateway": "private-gateway",
                                               "defaultDomains": ["example.internal"]}}}}


class World:
    def __init__(self, latency: Callable[[int], float]) -> None:
        self.clock = Clock()
        self.delivery = FakeDelivery()
        self.clusters = {"a": Cluster(), "b": Cluster()}
        self.applier = FakeApplier(self.clock, self.clusters, latency)
        self.ctx = EngineContext(
            settings=Settings(sync_period_seconds=1), delivery=self.delivery,  # type: ignore[arg-type]
            events=FakeEvents(), metrics=OperatorMetrics.create(), alerts=FakeAlerts(),  # type: ignore[arg-type]
            pool=FakePool(), applier=self.applier, observer=FakeObserver(self.clusters), clock=self.clock)
        for name in self.clusters:
            self.delivery.put(_cluster(name))
        self.delivery.put({"apiVersion": keys.API_VERSION, "kind": "ReleaseManager",
                           "metadata": {"name": RM, "namespace": NS,
                                        "labels": {keys.LABEL_APP: APP, keys.LABEL_FLEET: FLEET,
                                                   keys.LABEL_TARGET: "production"}},
                           "spec": {"fleet": FLEET, "app": APP, "target": "production"}})

    def revision(self, tag: str, minutes: int, **kwargs: Any) -> None:
        manifest = revision_manifest(APP, tag, namespace=NS, committed=START - timedelta(hours=2, minutes=-minutes),
                                     labels={keys.LABEL_APP: APP, keys.fleet_label(FLEET): ""}, **kwargs)
        self.delivery.put(manifest)

    def passes_until(self, done: Callable[[], bool], *, gap: float = 0.1, limit: int = 2000) -> None:
        """ReleaseManager passes back to back (`gap` seconds between the end of one and the next)."""
        for _ in range(limit):
            reconcile_release_manager(self.ctx, NS, RM)
            if done():
                return
            self.clock.advance(gap)
        raise AssertionError(f"not done after {limit} passes: {self.clusters}")


def _steps_too_close(changes: list[tuple[datetime, dict[str, int]]], tag: str) -> list[str]:
    ups = [(at, w.get(tag, 0)) for at, w in changes]
    return [f"{tag} {p0}% at {t0:%S.%f} -> {p1}% at {t1:%S.%f}"
            for (t0, p0), (t1, p1) in zip(ups, ups[1:], strict=False)
            if p1 > p0 > 0 and (t1 - t0).total_seconds() < DELAY]


def test_a_step_that_took_long_to_apply_is_followed_by_the_next_one_only_a_full_delay_later() -> None:
    """Every other weight change takes 1.8 s to apply (a loaded apiserver), the ones between are quick."""
    world = World(latency=lambda n: 1.8 if n % 2 else 0.05)
    world.revision("v1", minutes=1)
    world.passes_until(lambda: all(c.weights == {"v1": 100} for c in world.clusters.values()))
    world.revision("v2", minutes=2, target={"release": LINEAR_10})
    world.passes_until(lambda: all(c.weights == {"v2": 100} for c in world.clusters.values()))

    for name, cluster in world.clusters.items():
        ramp = [w.get("v2", 0) for _, w in cluster.changes if w.get("v2")]
        assert ramp == list(range(10, 101, 10)), f"{name} did not ramp v2 one step at a time: {ramp}"
        assert _steps_too_close(cluster.changes, "v2") == [], f"on {name}"


def test_a_ramp_with_quick_applies_still_steps_once_per_delay() -> None:
    world = World(latency=lambda n: 0.05)
    world.revision("v1", minutes=1)
    world.passes_until(lambda: all(c.weights == {"v1": 100} for c in world.clusters.values()))
    world.revision("v2", minutes=2, target={"release": LINEAR_10})
    started = world.clock()
    world.passes_until(lambda: all(c.weights == {"v2": 100} for c in world.clusters.values()))

    for cluster in world.clusters.values():
        assert _steps_too_close(cluster.changes, "v2") == []
    # nine delays between ten steps, and not much more: holding is not the fix
    assert (world.clock() - started).total_seconds() < 9 * DELAY + 5
