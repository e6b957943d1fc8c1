"""What a real cluster does to picchu's objects: Pods from the real ReplicaSet controller, placed by the real
scheduler on kwok's fake nodes, readiness as kwok's stages play it, owner-reference garbage collection, the
disruption controller honouring the PodDisruptionBudget picchu renders, and the HPA controller moving a
ReplicaSet between the bounds picchu writes.

Every test reads what a user reads: Pods, ReplicaSets, HPAs, PDB status, Events, the ReleaseManager status
and VirtualService weights.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kubernetes import client

from picchu import keys
from picchu.testing.controlplane.kwok_stages import READY_AFTER_ANNOTATION
from tests.e2e.conftest import TARGETS, World

pytestmark = pytest.mark.e2e
LINEAR_25 = {"eligible": True, "schedule": "always", "scalingStrategy": "linear",
             "linearScaling": {"increment": 25, "delay": "3s"}}


def _release_v1(world: World, **kwargs: Any) -> None:
    world.revision("v1", **kwargs)
    world.wait(lambda: world.state("v1") == "released", timeout=240, message="v1 released")
    for cluster in TARGETS:
        world.wait(lambda c=cluster: world.weights(c) == {"v1": 100}, message=f"v1 at 100% on {cluster}")


def _all_ready(world: World, cluster: str, tag: str) -> bool:
    ready, total = world.ready_pods(cluster, tag)
    rs = world.replicasets(cluster).get(tag)
    return rs is not None and total == ready == (rs.spec.replicas or 0) > 0


def _running_unready(pod: Any) -> bool:
    ready = any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))
    return pod.status.phase == "Running" and bool(pod.spec.node_name) and not ready


def test_the_first_release_runs_real_pods_scheduled_on_kwok_nodes(world: World) -> None:
    world.register()
    world.start_operator()
    _release_v1(world)
    for cluster in TARGETS:
        world.wait(lambda c=cluster: _all_ready(world, c, "v1"), message=f"every v1 Pod Ready on {cluster}")
        nodes = set(world.machinery[cluster].node_names)
        for pod in world.pods(cluster, "v1"):
            assert pod.spec.node_name in nodes, f"{pod.metadata.name} scheduled on a fake node"
            assert pod.metadata.owner_references[0].kind == "ReplicaSet"
            assert pod.status.phase == "Running"


def test_pods_that_never_become_ready_keep_the_revision_deploying_without_traffic_until_it_times_out(
        world: World) -> None:
    world.register()
    operator = world.start_operator()
    _release_v1(world)
    world.revision("v2", minutes=5, target={"podAnnotations": {READY_AFTER_ANNOTATION: "never"}})
    for cluster in TARGETS:
        world.wait(lambda c=cluster: (pods := world.pods(c, "v2")) and all(_running_unready(p) for p in pods),
                   message=f"v2 Pods Running but not Ready on {cluster}")
    operator.wait_passes(5)
    assert world.state("v2") == "deploying"
    assert all(world.weights(c) == {"v1": 100} for c in TARGETS), "no traffic to unready pods"
    assert world.replicasets("a")["v2"].status.available_replicas in (None, 0)

    # Fifteen minutes of deploying (spec: the deploying timeout), without waiting for them: the state's
    # lastUpdated is moved back, as if the pods had been failing their readiness since then.
    _backdate_state(world, "v2", timedelta(minutes=16))
    # timingout lasts one pass before failed: on a loaded machine a poll may see only the second.
    world.wait(lambda: world.state("v2") in ("timingout", "failed"),
               message="v2 timing out after 15 minutes of deploying")
    operator.wait_passes(3)
    assert world.entries()["v2"].get("peakPercent", 0) == 0, "v2 never received traffic"
    assert all(world.weights(c) == {"v1": 100} for c in TARGETS)
    assert world.state("v1") == "released"


def _backdate_state(world: World, tag: str, age: timedelta) -> None:
    api = client.CustomObjectsApi(world.apis["delivery"])
    name = f"{world.app}-production"
    for _ in range(10):
        rm: Any = api.get_namespaced_custom_object(keys.GROUP, keys.VERSION, world.namespace, "releasemanagers", name)
        for entry in rm["status"]["revisions"]:
            if entry["tag"] == tag:
                entry["state"]["lastUpdated"] = (datetime.now(UTC) - age).strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            api.replace_namespaced_custom_object_status(keys.GROUP, keys.VERSION, world.namespace,
                                                        "releasemanagers", name, rm)
            return
        except client.ApiException as error:
            if error.status != 409:
                raise
    raise AssertionError("could not update the ReleaseManager status (conflicts)")


def test_a_revision_whose_pods_become_available_slowly_gets_traffic_only_once_they_are_available(
        world: World) -> None:
    world.register()
    world.start_operator()
    _release_v1(world)
    min_ready = 12
    world.revision("v2", minutes=5, target={"scale": {"min": 2, "default": 2, "max": 4,
                                                      "minReadySeconds": min_ready}})
    waited = []  # observations where v2's Pods were Ready but the ReplicaSet did not count them yet

    def first_traffic() -> float | None:
        weight = world.weights("a").get("v2", 0)
        rs = world.replicasets("a").get("v2")
        ready, _ = world.ready_pods("a", "v2")
        if weight == 0 and rs is not None and ready > 0 and not (rs.status.available_replicas or 0):
            waited.append(time.time())
        return time.time() if weight > 0 else None

    traffic_at = world.wait(first_traffic, timeout=240, message="v2 gets traffic")
    assert waited, "the gate was seen waiting for Ready pods to become available"
    ready_since = max(_ready_since(p) for p in world.pods("a", "v2"))
    assert traffic_at - ready_since >= min_ready - 1, (
        f"traffic {traffic_at - ready_since:.1f}s after the pods were Ready; minReadySeconds is {min_ready}")
    world.wait(lambda: world.state("v2") == "released", timeout=240, message="v2 released")


def _ready_since(pod: Any) -> float:
    condition = next(c for c in pod.status.conditions if c.type == "Ready" and c.status == "True")
    return float(condition.last_transition_time.timestamp())


def test_slowly_ready_pods_hold_each_ramp_step_at_the_capacity_gate(world: World) -> None:
    autoscaled = {"min": 8, "default": 8, "max": 16, "targetCPUUtilizationPercentage": 50}
    world.register()
    world.start_operator()
    _release_v1(world, target={"scale": autoscaled})
    world.revision("v2", minutes=5, target={"scale": autoscaled, "release": LINEAR_25,
                                            "podAnnotations": {READY_AFTER_ANNOTATION: "8s"}})
    seen: list[tuple[int, int, int]] = []  # (v2 percent, v2 available pods in both clusters, replicas wanted)
    gate: list[str] = []  # what the ReleaseManager says while the capacity gate holds v2

    def released() -> bool:
        percent = (world.entries().get("v2") or {}).get("currentPercent", 0)
        sets = [world.replicasets(c).get("v2") for c in TARGETS]
        available = sum((rs.status.available_replicas or 0) for rs in sets if rs is not None)
        wanted = sum((rs.spec.replicas or 0) for rs in sets if rs is not None)
        if not seen or seen[-1] != (percent, available, wanted):
            seen.append((percent, available, wanted))
        message = _progressing(world)
        if 0 < percent < 100 and "v2 waits for capacity" in message:  # the one wording (decide and progress)
            gate.append(message)
        return world.state("v2") == "released"

    world.wait(released, timeout=300, message="v2 released")
    percents = [p for p, _, _ in seen]
    assert len(set(percents)) >= 3, f"v2 ramps in steps: {seen}"
    # The HPA controller adds v2's Pods ahead of each step (its minimum rises with the ramp); they need 8 s to
    # become Ready, and the ramp waits for them instead of stepping every 3 s.
    assert gate, f"the capacity gate was seen holding v2 mid-ramp: {seen}"
    assert any(a < w for p, a, w in seen if 0 < p < 100), f"new Pods not yet ready mid-ramp: {seen}"


def _progressing(world: World) -> str:
    try:
        rm: Any = client.CustomObjectsApi(world.apis["delivery"]).get_namespaced_custom_object(
            keys.GROUP, keys.VERSION, world.namespace, "releasemanagers", f"{world.app}-production")
    except client.ApiException:
        return ""
    found = [c for c in (rm.get("status") or {}).get("conditions") or [] if c["type"] == "Progressing"]
    return str(found[0].get("message", "")) if found else ""


def test_pruning_a_revision_leaves_no_pods_and_deleting_a_replicaset_removes_its_pods(world: World) -> None:
    world.register()
    operator = world.start_operator()
    _release_v1(world)
    world.revision("v2", minutes=5)
    world.wait(lambda: world.state("v2") == "released" and world.state("v1") == "retired", timeout=240,
               message="v2 released, v1 retired")
    for cluster in TARGETS:
        world.wait(lambda c=cluster: world.pods(c, "v1") == [], message=f"retired v1 has no Pods on {cluster}")
    client.CustomObjectsApi(world.apis["delivery"]).delete_namespaced_custom_object(
        keys.GROUP, keys.VERSION, world.namespace, "revisions", f"{world.app}-v1")
    for cluster in TARGETS:
        world.wait(lambda c=cluster: "v1" not in world.replicasets(c) and world.pods(c, "v1") == [],
                   message=f"v1 pruned on {cluster}, no Pods left")
        world.wait(lambda c=cluster: _all_ready(world, c, "v2"), message=f"v2 Pods Ready on {cluster}")

    # Owner references: deleting a tag's ReplicaSet deletes its Pods. The operator is stopped first: this part
    # is about the cluster (picchu skips objects it applied before, so it does not recreate a ReplicaSet
    # deleted behind its back).
    operator.stop()
    old = {p.metadata.uid for p in world.pods("a", "v2")}
    assert old
    client.AppsV1Api(world.apis["a"]).delete_namespaced_replica_set(
        "v2", world.target_namespace, propagation_policy="Background")
    world.wait(lambda: world.pods("a", "v2") == [], message="the garbage collector removed v2's Pods on a")
    assert world.pods("b", "v2"), "cluster b is untouched"


def test_the_real_disruption_controller_honours_the_rendered_pod_disruption_budget(world: World) -> None:
    world.register()
    world.start_operator()
    _release_v1(world, target={"scale": {"min": 4, "default": 4, "max": 4},
                               "podDisruptionBudget": {"minAvailable": 2}})
    policy = client.PolicyV1Api(world.apis["a"])
    core = client.CoreV1Api(world.apis["a"])

    def protected() -> bool:
        pdb = policy.read_namespaced_pod_disruption_budget(world.app, world.target_namespace)
        status = pdb.status
        return bool(status and status.current_healthy == 2 and status.expected_pods == 2
                    and status.disruptions_allowed == 0)

    world.wait(protected, message="the disruption controller counts 2 healthy pods, 0 disruptions allowed")
    victim = world.pods("a", "v1")[0].metadata.name
    eviction = client.V1Eviction(metadata=client.V1ObjectMeta(name=victim, namespace=world.target_namespace))
    with pytest.raises(client.ApiException) as refused:
        core.create_namespaced_pod_eviction(victim, world.target_namespace, eviction)
    assert refused.value.status == 429, refused.value.body
    assert "disruption budget" in refused.value.body
    pod = core.read_namespaced_pod(victim, world.target_namespace)
    assert pod.metadata.deletion_timestamp is None, "the pod was not evicted"


def test_the_hpa_controller_moves_replicasets_between_the_bounds_picchu_renders(world: World) -> None:
    world.register()
    world.start_operator()
    # Per cluster: a deploying revision gets 1 pod; once released its HPA minimum is 2 (4 over 2 clusters).
    _release_v1(world, target={"scale": {"min": 4, "default": 2, "max": 8, "targetCPUUtilizationPercentage": 50}})
    autoscaling = client.AutoscalingV2Api(world.apis["a"])

    def hpa() -> Any:
        return autoscaling.read_namespaced_horizontal_pod_autoscaler("v1", world.target_namespace)

    world.wait(lambda: hpa().spec.min_replicas == 2, message="v1's HPA minimum is 2 on a")
    world.wait(lambda: world.replicasets("a")["v1"].spec.replicas == 2 and _all_ready(world, "a", "v1"),
               message="the HPA controller scaled v1 up to its minimum, 2 Ready Pods")
    assert _rescaled(world, "v1"), "a SuccessfulRescale event from the HPA controller"

    # A lower maximum: the controller scales the ReplicaSet down to it.
    world.revision("v1", target={"scale": {"min": 2, "default": 2, "max": 2, "targetCPUUtilizationPercentage": 50}})
    world.wait(lambda: hpa().spec.max_replicas == 1, message="v1's HPA maximum is 1 on a")
    world.wait(lambda: world.replicasets("a")["v1"].spec.replicas == 1 and len(world.pods("a", "v1")) == 1,
               message="the HPA controller scaled v1 down to its maximum, one Pod left")


def _rescaled(world: World, tag: str) -> bool:
    events = client.CoreV1Api(world.apis["a"]).list_namespaced_event(world.target_namespace).items
    return any(e.reason == "SuccessfulRescale" and e.involved_object.name == tag for e in events)
