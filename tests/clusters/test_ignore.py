"""Ignore means ignore (§11.1): an object or namespace labelled `picchu.medium.engineering/ignore` is never
written, patched or deleted, whoever created it, even when the applier's memory of past surveys says nothing
about it. One case per family of rendered objects, against a real API server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client

from picchu import keys
from picchu.clusters import Applier
from picchu.clusters.desired import ClusterPlan, DesiredObject
from picchu.engine.release_manager import delete_app
from picchu.plans.plan import render_cluster
from tests.clusters.test_rendered_plan import cluster_input, three_tag_app

FAMILIES = [
    ("workloads", "ReplicaSet", "v3"),
    ("workloads", "ConfigMap", "echo-config-v3"),
    ("workloads", "PodDisruptionBudget", "echo"),
    ("routing", "VirtualService", "echo"),
    ("routing", "Service", "echo"),
    ("scaling", "HorizontalPodAutoscaler", "v3"),
    ("monitoring", "PrometheusRule", "echo-canary-v3"),
    ("slo", "PrometheusRule", "echo-slo"),
    ("namespace", "Namespace", None),
]


def live(cluster: Any, kind: str, name: str, namespace: str) -> dict[str, Any]:
    args = ["get", kind, name, "-o", "json"] if kind == "Namespace" else ["get", kind, name, "-n", namespace, "-o",
                                                                         "json"]
    result: dict[str, Any] = json.loads(cluster.kubectl(*args).stdout)
    return result


def label(cluster: Any, kind: str, name: str, namespace: str, *labels: str) -> None:
    scope = [] if kind == "Namespace" else ["-n", namespace]
    cluster.kubectl("label", "--overwrite", kind, name, *scope, *labels)


def rendered(namespace: str) -> ClusterPlan:
    return ClusterPlan.adapt(render_cluster(three_tag_app(namespace), cluster_input("a")))


def changed(plan: ClusterPlan, kind: str, name: str, *, keep_prune: bool = False) -> ClusterPlan:
    """The same plan with new content for one object (an extra label), so any applier would write it."""
    objects = []
    for item in plan.objects:
        manifest = item.manifest
        if item.key.kind == kind and item.key.name == name:
            metadata = dict(manifest["metadata"])
            metadata["labels"] = {**metadata.get("labels", {}), "example.com/changed": "yes"}
            manifest = {**manifest, "metadata": metadata}
        objects.append(DesiredObject(manifest, item.mode))
    return ClusterPlan(tuple(objects), plan.prune if keep_prune else ())


@pytest.mark.parametrize(("family", "kind", "name"), FAMILIES, ids=[f"{f}-{k}" for f, k, _ in FAMILIES])
def test_an_object_labelled_ignore_after_picchu_wrote_it_is_neither_written_nor_pruned(
        connections, control_plane, namespace, family, kind, name):
    cluster = control_plane.clusters["a"]
    name = name or namespace
    plan = rendered(namespace)
    applier = Applier()
    first = applier.apply([(connections[0], plan)])["a"]
    assert first.ok, [str(f) for f in first.failed]
    label(cluster, kind, name, namespace, f"{keys.LABEL_IGNORE}=true")
    before = live(cluster, kind, name, namespace)["metadata"]["resourceVersion"]

    # The same applier (its prune surveys are not due) is asked to write new content for the object.
    result = applier.apply([(connections[0], changed(plan, kind, name, keep_prune=True))])["a"]

    assert result.ok, [str(f) for f in result.failed]
    assert any(k.kind == kind and k.name == name for k in result.ignored), result
    after = live(cluster, kind, name, namespace)
    assert after["metadata"]["resourceVersion"] == before, f"an ignored {kind} was written"
    assert "example.com/changed" not in after["metadata"]["labels"]

    if kind != "Namespace":  # dropped from the plan by a restarted operator: still not deleted
        without = ClusterPlan(tuple(i for i in plan.objects if (i.key.kind, i.key.name) != (kind, name)),
                              plan.prune)
        dropped = Applier().apply([(connections[0], without)])["a"]
        assert dropped.ok and not any(k.name == name and k.kind == kind for k in dropped.pruned)
        assert live(cluster, kind, name, namespace)["metadata"]["resourceVersion"] == before


@pytest.mark.parametrize(("family", "kind", "name"), [f for f in FAMILIES if f[1] != "Namespace"],
                         ids=[f"{f}-{k}" for f, k, _ in FAMILIES if k != "Namespace"])
def test_an_ignored_object_someone_else_created_is_never_written(
        connections, control_plane, namespace, family, kind, name):
    """Written by a Go Picchu (no managed-by label) or by hand, then marked ignore: the first pass of a new
    operator leaves it exactly as it is."""
    cluster = control_plane.clusters["a"]
    plan = rendered(namespace)
    [item] = [i for i in plan.objects if i.key.kind == kind and i.key.name == name]
    foreign = json.loads(json.dumps(item.manifest))
    foreign["metadata"]["labels"] = {k: v for k, v in foreign["metadata"]["labels"].items()
                                     if k != keys.LABEL_MANAGED_BY} | {keys.LABEL_IGNORE: "", "hand": "made"}
    if kind == "ReplicaSet":
        foreign["spec"]["replicas"] = 7
    cluster.kubectl("create", "-f", "-", input=json.dumps(foreign))
    before = live(cluster, kind, name, namespace)["metadata"]["resourceVersion"]

    result = Applier().apply([(connections[0], plan)])["a"]

    assert result.ok, [str(f) for f in result.failed]
    after = live(cluster, kind, name, namespace)
    assert after["metadata"]["resourceVersion"] == before, f"an ignored {kind} someone else created was written"
    assert keys.LABEL_MANAGED_BY not in after["metadata"]["labels"]


def test_a_namespace_labelled_ignore_is_not_deleted_with_its_app(connections, api_clients, control_plane, namespace):
    core = client.CoreV1Api(api_clients["a"])
    label(control_plane.clusters["a"], "Namespace", namespace, namespace, f"{keys.LABEL_IGNORE}=true")
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "precious"}})

    failures = delete_app([connections[0]], namespace, "", {}, timeout=10)

    assert failures == {}
    assert core.read_namespace(namespace).metadata.deletion_timestamp is None
    assert core.read_namespaced_config_map("precious", namespace).metadata.name == "precious"


def test_service_monitor_annotations_follow_the_entry_and_annotations_others_set_are_kept(
        connections, control_plane, namespace):
    """README "Differences from Picchu": Picchu wrote a ServiceMonitor's annotations on create only."""
    from picchu.plans import monitoring
    from tests.clusters.test_rendered_plan import three_tag_app

    app = three_tag_app(namespace)

    def plan(note: str) -> ClusterPlan:
        target = app.monitoring.alertable_target.model_copy(update={"service_monitors": None})
        wire = target.model_dump(by_alias=True, exclude_none=True)
        wire["serviceMonitors"] = [{"name": "echo", "sloRegex": False, "annotations": {"note": note},
                                    "spec": {"selector": {}, "endpoints": [{"port": "http"}]}}]
        monitored = type(app.monitoring)(alertable_target=type(target).model_validate(wire),
                                         releasable_target=app.monitoring.releasable_target)
        inputs = type(app)(**{**app.__dict__, "monitoring": monitored})
        return ClusterPlan(tuple(DesiredObject(m) for m in monitoring.render_service_monitors(inputs)))

    cluster = control_plane.clusters["a"]
    applier = Applier()
    assert applier.apply([(connections[0], plan("first"))])["a"].ok
    cluster.kubectl("annotate", "servicemonitor", "echo", "-n", namespace, "someone.example/else=kept")
    assert applier.apply([(connections[0], plan("second"))])["a"].ok
    annotations = live(cluster, "ServiceMonitor", "echo", namespace)["metadata"]["annotations"]
    assert annotations["note"] == "second" and annotations["someone.example/else"] == "kept"
