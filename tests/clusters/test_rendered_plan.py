"""A plan rendered by `picchu.plans` for a real app is written as is, and re-applying it sends nothing."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from picchu.api.v1alpha1 import load_revision
from picchu.clusters import Applier
from picchu.plans.inputs import (
    AppInput,
    ClusterInput,
    ConfigCopy,
    MonitoringInput,
    RouteRevision,
    RoutingInput,
    TagInput,
    TagScale,
)
from picchu.plans.plan import render_cluster
from picchu.testing.builders import revision_manifest

SLO = {"name": "availability", "enabled": True, "objectivePercentString": "99.9",
       "serviceLevelIndicator": {"canary": {"enabled": True, "allowancePercent": 1, "failAfter": "1m"},
                                 "tagKey": "destination_workload", "alertAfter": "1m",
                                 "errorQuery": "sum(rate(errors[2m])) by (destination_workload)",
                                 "totalQuery": "sum(rate(total[2m])) by (destination_workload)"}}


def three_tag_app(namespace: str) -> AppInput:
    committed = datetime(2026, 11, 1, tzinfo=UTC)
    targets = [load_revision(revision_manifest("echo", f"v{i}", namespace="picchu", committed=committed,
                                               target={"serviceLevelObjectives": [SLO]})).spec.targets[0]
               for i in (3, 2, 1)]
    tags = tuple(TagInput(tag=f"v{i}", image=f"registry.example/echo:v{i}", target=target, canary_rules=i == 3,
                          scale=TagScale(replicas=2, min_replicas=2, max_replicas=4, cpu_target=50),
                          configs=(ConfigCopy("ConfigMap", f"echo-config-v{i}", {"level": "info"}),))
                 for i, target in zip((3, 2, 1), targets, strict=True))
    revisions = (RouteRevision("v3", 10, "echo-tag"), RouteRevision("v2", 90, "echo-tag"),
                 RouteRevision("v1", 0, "echo-tag"))
    return AppInput(app="echo", target="production", fleet="production", tags=tags, namespace=namespace,
                    routing=RoutingInput.from_targets(tuple(targets), revisions),
                    monitoring=MonitoringInput(alertable_target=targets[0], releasable_target=targets[0]))


def cluster_input(name: str) -> ClusterInput:
    gateway = {"dnsName": "", "gateway": "private-gateway", "defaultDomains": ["example.internal"]}
    return ClusterInput(name=name, spec={"enabled": True, "scalingFactorString": "1.0",
                                         "ingresses": {"public": {**gateway, "gateway": "public-gateway"},
                                                       "private": gateway}})


def test_a_rendered_three_tag_plan_is_accepted_by_every_cluster_and_an_unchanged_pass_sends_nothing(
        connections, counter, namespace):
    app = three_tag_app(namespace)
    work = [(c, render_cluster(app, cluster_input(c.name))) for c in connections]
    applier = Applier()
    first = applier.apply(work)
    for _ in range(10):  # another test's CRD update may have a CRD's storage re-initializing (429) for a moment
        if all(r.ok for r in first.values()) or any("429" not in str(f) for r in first.values() for f in r.failed):
            break
        time.sleep(1)
        applier = Applier()
        first = applier.apply(work)
    assert all(r.ok for r in first.values()), {n: [str(f) for f in r.failed] for n, r in first.items()}
    assert all(len(r.applied) + len(r.unchanged) == len(work[0][1].objects) for r in first.values())
    counter.start()
    second = applier.apply(work)
    assert counter.delta() == {"a": {}, "b": {}}
    assert all(not r.applied and not r.pruned for r in second.values())


def test_dropping_a_tag_from_the_rendered_plan_prunes_its_objects(connections, namespace):
    app = three_tag_app(namespace)
    applier = Applier()
    applier.apply([(connections[0], render_cluster(app, cluster_input("a")))])
    without_v1 = AppInput(**{**app.__dict__, "tags": app.tags[:2]})
    result = applier.apply([(connections[0], render_cluster(without_v1, cluster_input("a")))])["a"]
    assert result.ok, [str(f) for f in result.failed]
    assert {(k.kind, k.name) for k in result.pruned} >= {("ReplicaSet", "v1"), ("HorizontalPodAutoscaler", "v1"),
                                                         ("ConfigMap", "echo-config-v1")}
    assert all(k.name.endswith("v1") for k in result.pruned)
