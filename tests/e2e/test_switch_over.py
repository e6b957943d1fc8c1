"""Switching from a running Go Picchu to this operator, end to end.

The world Go Picchu 1.6 leaves behind for a released app with a retired tag (spec §11.17: objects, names and
labels, none with this operator's `app.kubernetes.io/managed-by` label, no server-side-apply ownership; the
retired tag's HPA still there, §11.14; a pre-1.5 per-tag PrometheusServiceLevel, §11.12) is built first: an
operator run releases v0 then v1 and is stopped, then every trace of this operator is removed from the
target clusters. Then this operator starts and must adopt that world without churn, roll out v2, retire v1,
prune the deleted v0 and the legacy per-tag service level. Writes are counted per cluster from the
apiserver's own request metrics and printed (pytest -s shows them).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client

from picchu import keys
from picchu.testing.requests import HOUSEKEEPING, RequestCounter, delta
from tests.e2e.conftest import TARGETS, World

pytestmark = pytest.mark.e2e

SLO = {
    "name": "availability", "enabled": True, "objectivePercentString": "99.9", "description": "served",
    "serviceLevelIndicator": {
        "tagKey": "tag",
        "totalQuery": "sum(rate(requests_total[2m])) by (tag)",
        "errorQuery": 'sum(rate(requests_total{code=~"5.."}[2m])) by (tag)',
    },
}
TARGET = {"serviceLevelObjectives": [SLO],
          "scale": {"min": 2, "default": 2, "max": 4, "targetCPUUtilizationPercentage": 50}}
APP_KINDS = ",".join([
    "secrets", "configmaps", "serviceaccounts", "services", "roles.rbac.authorization.k8s.io",
    "rolebindings.rbac.authorization.k8s.io", "poddisruptionbudgets.policy", "replicasets.apps",
    "horizontalpodautoscalers.autoscaling", "destinationrules.networking.istio.io",
    "virtualservices.networking.istio.io", "sidecars.networking.istio.io", "prometheusrules.monitoring.coreos.com",
    "servicemonitors.monitoring.coreos.com",
])
LEVELS = "service-level-objectives"
WRITES = ("POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION")
MANAGED_BY = keys.LABEL_MANAGED_BY.replace("/", "~1")


def _kubectl_json(cluster: Any, *args: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(cluster.kubectl("get", *args, "-o", "json").stdout).get("items", [])
    return items


def _ours(world: World, cluster: Any) -> list[dict[str, Any]]:
    """What this operator wrote in one target cluster (app namespace objects and the app's service levels)."""
    app_objects = _kubectl_json(cluster, APP_KINDS, "-n", world.target_namespace)
    levels = _kubectl_json(cluster, "prometheusservicelevels.sloth.slok.dev", "-n", LEVELS,
                           "-l", f"{keys.LABEL_APP}={world.app}")
    return [o for o in app_objects + levels
            if (o["metadata"].get("labels") or {}).get(keys.LABEL_MANAGED_BY) == keys.MANAGED_BY]


def _plain(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy fit for `kubectl create`: no server-set metadata, no status, no managed-by label anywhere."""
    copy = json.loads(json.dumps(obj))
    copy.pop("status", None)
    metadata = copy["metadata"]
    for key in ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"):
        metadata.pop(key, None)
    metadata.get("labels", {}).pop(keys.LABEL_MANAGED_BY, None)
    if copy["kind"] == "ReplicaSet":
        copy["spec"]["selector"]["matchLabels"].pop(keys.LABEL_MANAGED_BY, None)
        copy["spec"]["template"]["metadata"]["labels"].pop(keys.LABEL_MANAGED_BY, None)
    return copy


def _become_go_picchu(world: World) -> None:
    """Remove every trace of this operator from the target clusters, as if Go Picchu had written them."""
    for name in TARGETS:
        cluster = world.plane.clusters[name]
        for obj in _ours(world, cluster):
            kind, meta = obj["kind"], obj["metadata"]
            where = ["-n", meta["namespace"]]
            if kind == "ReplicaSet":  # its selector is immutable: write it again as Go Picchu did
                cluster.kubectl("delete", "replicaset", meta["name"], *where, "--wait=false")  # no pods: nothing to orphan
                cluster.kubectl("create", "--field-manager=picchu", "-f", "-", input=json.dumps(_plain(obj)))
                continue
            resource = f"{kind.lower()}s.{obj['apiVersion'].split('/')[0]}" if "/" in obj["apiVersion"] else kind
            cluster.kubectl("patch", resource, meta["name"], *where, "--type=json", "-p", json.dumps([
                {"op": "remove", "path": f"/metadata/labels/{MANAGED_BY}"},
                {"op": "replace", "path": "/metadata/managedFields", "value": [{}]},  # no apply ownership
            ]))
        # Go Picchu labels the namespace with the owner labels only (§11.3).
        cluster.kubectl("patch", "namespace", world.target_namespace, "--type=json", "-p", json.dumps([
            {"op": "remove", "path": f"/metadata/labels/{MANAGED_BY}"},
            {"op": "remove", "path": f"/metadata/labels/{keys.LABEL_APP.replace('/', '~1')}"},
            {"op": "replace", "path": "/metadata/managedFields", "value": [{}]},
        ]))
        # RetireRevision leaves the retired tag's HPA (§11.14); it is recreated from v1's as Go wrote it.
        hpa = _plain(_kubectl_json(cluster, "hpa", "-n", world.target_namespace)[0])
        hpa["metadata"]["name"] = hpa["spec"]["scaleTargetRef"]["name"] = "v0"
        hpa["metadata"]["labels"].update({keys.LABEL_TAG: "v0", keys.LABEL_K8S_VERSION: "v0",
                                          keys.LABEL_ISTIO_VERSION: "v0"})
        cluster.kubectl("create", "--field-manager=picchu", "-f", "-", input=json.dumps(hpa))
        # A pre-1.5 per-tag PrometheusServiceLevel (DeleteTaggedServiceLevels cleans these up, §11.12).
        [shared] = _kubectl_json(cluster, "prometheusservicelevels.sloth.slok.dev", "-n", LEVELS,
                                 "-l", f"{keys.LABEL_APP}={world.app}")
        legacy = _plain(shared)
        legacy["metadata"]["name"] = f"{world.app}-production-v0-servicelevels"
        legacy["metadata"]["labels"][keys.LABEL_TAG] = "v0"
        cluster.kubectl("create", "--field-manager=picchu", "-f", "-", input=json.dumps(legacy))


def _written(obj: dict[str, Any]) -> str:
    """What a writer of the object's spec, data and metadata changes, without what controllers keep up to date
    beside it: the status (the HPA and ReplicaSet controllers in the target clusters update theirs at their own
    pace, which bumps the resourceVersion) and server-set fields. Field ownership is kept, without timestamps,
    so an apply that only took over fields still shows."""
    metadata = {k: v for k, v in obj["metadata"].items()
                if k not in ("resourceVersion", "managedFields", "generation", "uid", "creationTimestamp")}
    owners = sorted(json.dumps({k: v for k, v in entry.items() if k != "time"}, sort_keys=True)
                    for entry in obj["metadata"].get("managedFields") or [] if entry.get("subresource") != "status")
    rest = {k: v for k, v in obj.items() if k not in ("metadata", "status")}
    return json.dumps([metadata, owners, rest], sort_keys=True)


def _versions(world: World) -> dict[tuple[str, str, str], str]:
    """What was written to every app object in both target clusters (`_written`), by (cluster, kind, name)."""
    found = {}
    for name in TARGETS:
        cluster = world.plane.clusters[name]
        objects = _kubectl_json(cluster, APP_KINDS, "-n", world.target_namespace)
        objects += _kubectl_json(cluster, "prometheusservicelevels.sloth.slok.dev", "-n", LEVELS,
                                 "-l", f"{keys.LABEL_APP}={world.app}")
        objects += [json.loads(cluster.kubectl("get", "namespace", world.target_namespace, "-o", "json").stdout)]
        for obj in objects:
            labels = obj["metadata"].get("labels") or {}
            if obj["kind"] == "Namespace" or keys.LABEL_APP in labels:
                found[(name, obj["kind"], obj["metadata"]["name"])] = _written(obj)
    return found


def _exists(world: World, cluster: str, kind: str, name: str, namespace: str | None = None) -> bool:
    result = world.plane.clusters[cluster].kubectl("get", kind, name, "-n", namespace or world.target_namespace,
                                                   "--ignore-not-found", "-o", "name")
    return bool(result.stdout.strip())


def _writes(counters: dict[str, RequestCounter], before: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Write requests per cluster as {"VERB resource code": count} (a 409 on a create-only POST changes
    nothing, but it is a request and is counted)."""
    out: dict[str, dict[str, int]] = {}
    for name, counter in counters.items():
        change = delta(before[name], counter.snapshot()).without(*HOUSEKEEPING).select(verbs=WRITES)
        summary: dict[str, int] = {}
        for key, count in change.items():
            resource = f"{key.resource}.{key.group}" if key.group else key.resource
            resource += f"/{key.subresource}" if key.subresource else ""
            summary[f"{key.verb} {resource} {key.code}"] = summary.get(f"{key.verb} {resource} {key.code}", 0) + count
        out[name] = dict(sorted(summary.items()))
    return out


def _successful(writes: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in writes.items() if k.rsplit(" ", 1)[1].startswith("2")}


def test_this_operator_takes_over_from_go_picchu_without_churn_then_rolls_out_and_cleans_up(world: World) -> None:
    world.register()
    # -- the world Go Picchu 1.6 leaves behind ------------------------------------------------------------
    world.start_operator()
    world.revision("v0", target=TARGET)
    world.wait(lambda: world.state("v0") == "released", message="v0 released")
    world.revision("v1", minutes=5, target=TARGET)
    world.wait(lambda: world.state("v1") == "released" and world.state("v0") == "retired", timeout=120,
               message="v1 released, v0 retired")
    for cluster in TARGETS:
        world.wait(lambda c=cluster: world.weights(c) == {"v1": 100}, message=f"v1 at 100% on {cluster}")
    assert world.operator is not None
    world.operator.wait_settled()  # the pass after `released` sizes v1's autoscaler down: let it land
    world.stop_operator()
    _become_go_picchu(world)
    for cluster in TARGETS:
        world.wait(lambda c=cluster: (world.replicasets(c)["v1"].status.available_replicas or 0) >= 1,
                   message=f"Go Picchu's v1 ReplicaSet ready on {cluster}")
    before_versions = _versions(world)
    counters = {name: RequestCounter(world.plane.clusters[name]) for name in ("delivery", *TARGETS)}
    start = {name: counter.snapshot() for name, counter in counters.items()}

    # -- switch-over: this operator starts -----------------------------------------------------------------
    world.start_operator()
    for cluster in TARGETS:
        world.wait(lambda c=cluster: not _exists(world, c, "hpa", "v0"),
                   message=f"the retired tag's HPA pruned on {cluster}")
        world.wait(lambda c=cluster: not _exists(world, c, "prometheusservicelevels.sloth.slok.dev",
                                                 f"{world.app}-production-v0-servicelevels", LEVELS),
                   message=f"the legacy per-tag service level deleted on {cluster}")
    world.wait(lambda: world.weights("a") == {"v1": 100} and world.state("v1") == "released",
               message="v1 still released")
    adoption = _writes(counters, start)
    after_versions = _versions(world)
    print(f"\nswitch-over, first passes, writes per cluster: {adoption}")
    changed = sorted(key for key, version in before_versions.items()
                     if key in after_versions and after_versions[key] != version)
    assert changed == [], f"objects already as desired were written: {changed}"
    gone = sorted(key for key in before_versions if key not in after_versions)
    assert gone == sorted((c, kind, name) for c in TARGETS for kind, name in (
        ("HorizontalPodAutoscaler", "v0"), ("PrometheusServiceLevel", f"{world.app}-production-v0-servicelevels")))
    for cluster in TARGETS:  # the only changes: the two deletions
        assert _successful(adoption[cluster]) == {
            "DELETE horizontalpodautoscalers.autoscaling 200": 1,
            "DELETE prometheusservicelevels.sloth.slok.dev 200": 1,
        }, adoption[cluster]

    # -- then a new Revision rolls out, v1 retires, the deleted v0 is pruned --------------------------------
    rollout_start = {name: counter.snapshot() for name, counter in counters.items()}
    world.revision("v2", minutes=10, target=TARGET)
    world.wait(lambda: world.state("v2") == "released" and world.state("v1") == "retired", timeout=180,
               message="v2 released, v1 retired")
    client.CustomObjectsApi(world.apis["delivery"]).delete_namespaced_custom_object(
        keys.GROUP, keys.VERSION, world.namespace, "revisions", f"{world.app}-v0")
    for cluster in TARGETS:
        world.wait(lambda c=cluster: world.weights(c) == {"v2": 100}, message=f"v2 at 100% on {cluster}")
        world.wait(lambda c=cluster: world.replicasets(c)["v1"].spec.replicas == 0, message=f"v1 scaled to 0 on {cluster}")
        world.wait(lambda c=cluster: not _exists(world, c, "hpa", "v1"), message=f"v1's HPA pruned on {cluster}")
        world.wait(lambda c=cluster: "v0" not in world.replicasets(c), timeout=120,
                   message=f"Go Picchu's v0 ReplicaSet pruned on {cluster}")
    world.wait(lambda: "v0" not in world.entries(), message="v0 dropped from the ReleaseManager status")
    print(f"rollout of v2 and clean-up, writes per cluster: {_writes(counters, rollout_start)}")
    for cluster in TARGETS:
        leftovers = [o["metadata"]["name"] for o in _kubectl_json(world.plane.clusters[cluster], APP_KINDS, "-n",
                                                                  world.target_namespace)
                     if (o["metadata"].get("labels") or {}).get(keys.LABEL_TAG) == "v0"]
        assert leftovers == [], f"objects of the deleted tag v0 left on {cluster}: {leftovers}"
