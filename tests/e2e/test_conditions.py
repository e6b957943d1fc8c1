"""What a person reads about a rollout with kubectl alone: `kubectl wait` on Released/Failed, the Progressing
reason (what it waits for or what blocks it), the printer columns, and one Event per traffic step."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from picchu import keys
from picchu.testing.controlplane.kwok_stages import READY_AFTER_ANNOTATION
from tests.e2e.conftest import World

pytestmark = pytest.mark.e2e


def _conditions(world: World, tag: str) -> dict[str, dict[str, Any]]:
    try:
        obj = client.CustomObjectsApi(world.apis["delivery"]).get_namespaced_custom_object(
            keys.GROUP, keys.VERSION, world.namespace, "revisions", f"{world.app}-{tag}")
    except client.ApiException:
        return {}
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}  # type: ignore[union-attr]


def _progressing(world: World, tag: str) -> tuple[str, str, str] | None:
    found = _conditions(world, tag).get("Progressing")
    return (found["status"], found["reason"], found.get("message", "")) if found else None


def test_pods_being_waited_for_are_counted_and_kubectl_wait_sees_the_release(world: World) -> None:
    world.register()
    world.start_operator()
    # kwok makes these Pods Ready only 15 s after they are scheduled: long enough to see the wait.
    world.revision("v1", target={"podAnnotations": {READY_AFTER_ANNOTATION: "15s"}})
    status, reason, message = world.wait(
        lambda: (p := _progressing(world, "v1")) and p[1] == "WaitingForPods" and "/" in p[2] and p,
        message="Progressing=True WaitingForPods n/m")
    assert status == "True" and "production: WaitingForPods" in message
    name = f"{world.app}-v1"
    waited = world.delivery.kubectl("wait", "--for=condition=Released", f"revision/{name}", "-n", world.namespace,
                                    "--timeout=120s")
    assert "condition met" in waited.stdout
    conditions = _conditions(world, "v1")
    assert conditions["Progressing"]["status"] == "False" and conditions["Progressing"]["reason"] == "Released"
    assert conditions["Failed"]["status"] == "False"
    table = world.delivery.kubectl("get", "rev", name, "-n", world.namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "APP", "TAG", "TARGET", "STATE", "PERCENT", "REASON", "AGE"]
    assert table[1].split()[2:7] == ["v1", "production", "released", "100", "Released"]
    assert any(e.reason == "Released" and e.type == "Normal" for e in world.events(name))


def test_each_traffic_step_is_one_event_and_the_release_manager_shows_the_ramp(world: World) -> None:
    world.register()
    world.start_operator()
    world.revision("v1")
    world.wait(lambda: world.state("v1") == "released", message="v1 released")
    world.revision("v2", minutes=5, target={"release": {
        "eligible": True, "schedule": "always", "scalingStrategy": "linear",
        "linearScaling": {"increment": 25, "delay": "3s"}}})
    rm = f"{world.app}-production"
    ramp = world.wait(lambda: (line := world.delivery.kubectl("get", "rm", rm, "-n", world.namespace).stdout
                               .splitlines()[1].split()) and line[5] == "v2" and 0 < int(line[6]) < 100 and line,
                      message="the releasing tag mid-ramp in kubectl get rm")
    # NAME APP TARGET RELEASED PERCENT RELEASING RAMP REASON AGE
    assert ramp[3] == "v1" and int(ramp[6]) in range(1, 100) and int(ramp[4]) + int(ramp[6]) == 100, ramp
    world.wait(lambda: world.state("v2") == "released", timeout=120, message="v2 released")
    steps = [e.message for e in world.events(f"{world.app}-v2") if e.reason == "TrafficShifted"]
    assert {"v2 on production: traffic 0% -> 25%", "v2 on production: traffic 25% -> 50%",
            "v2 on production: traffic 50% -> 75%", "v2 on production: traffic 75% -> 100%"} <= set(steps), steps


def test_a_fleet_without_a_cluster_blocks_with_a_reason_and_a_warning(world: World) -> None:
    world.start_operator()
    manifest = world.revision("v1", fleet="nowhere")
    name = manifest["metadata"]["name"]
    status, reason, message = world.wait(
        lambda: (p := _progressing(world, "v1")) and p[1] == "NoClusterInFleet" and p,
        message="Progressing=False NoClusterInFleet")
    assert status == "False" and "nowhere" in message
    world.wait(lambda: any(e.reason == "NoClusterInFleet" and e.type == "Warning" for e in world.events(name)),
               message="a NoClusterInFleet Warning event on the Revision")
    row = world.delivery.kubectl("get", "rev", name, "-n", world.namespace).stdout.splitlines()[1]
    assert "NoClusterInFleet" in row.split()


def test_an_invalid_revision_says_invalid_spec_in_its_row(world: World) -> None:
    world.start_operator()
    bad_ports = [{"name": "web", "mode": "private", "port": 80}, {"name": "api", "mode": "private", "port": 81}]
    name = world.revision("bad", target={"ports": bad_ports})["metadata"]["name"]
    world.wait(lambda: "InvalidSpec" in world.delivery.kubectl("get", "rev", name, "-n", world.namespace).stdout,
               message="REASON InvalidSpec in kubectl get rev")
