"""Noisy neighbours (issue 16): a team's broken objects cost another team's rollout nothing.

Hundreds of broken objects (`picchu.testing.hostile`: Clusters with dead servers or rejected credentials,
broken Secrets, Revisions and ReleaseManagers of many apps on those fleets, malformed Revisions) sit in the
delivery namespace of a healthy app. The healthy app must still ramp step by step to 100%, every broken
object must still say what is wrong with it, and the broken apps must be parked: per pass of the healthy app,
each broken app gets a small fraction of a pass (measured in passes, never in seconds).
"""

from __future__ import annotations

import base64
import urllib.request

import pytest
from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

from picchu import keys
from picchu.testing.hostile import create_all, hostile_manifests
from tests.e2e.conftest import TARGETS, World

pytestmark = pytest.mark.e2e
HOSTILE = 300


def passes_per_app(world: World) -> dict[str, int]:
    """ReleaseManager passes per app so far (the reconcile-interval histogram counts one per pass but the first)."""
    assert world.operator is not None
    with urllib.request.urlopen(world.operator.metrics_url, timeout=10) as response:
        text = response.read().decode()
    counts: dict[str, int] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "picchu_release_manager_reconcile_interval_seconds":
            for sample in family.samples:
                if sample.name.endswith("_count"):
                    counts[sample.labels["app"]] = int(sample.value)
    return counts


def condition(obj: dict, kind: str) -> dict:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == kind), {})


def test_a_healthy_app_ramps_while_hundreds_of_broken_objects_are_parked(world: World) -> None:
    world.register()
    target = world.plane.clusters["a"]
    hostile = hostile_manifests(HOSTILE, namespace=world.namespace, committed=world.start_time,
                                real_server=target.server, real_ca=base64.b64encode(target.ca_data).decode())
    accepted = create_all(world.apis["delivery"], hostile)
    assert sum(accepted.values()) >= HOSTILE * 0.6, accepted
    world.start_operator()
    world.revision("v1")
    world.wait(lambda: world.state("v1") == "released", timeout=300, message="v1 released next to the noise")

    custom = client.CustomObjectsApi(world.apis["delivery"])

    def get(plural: str, name: str) -> dict:
        return custom.get_namespaced_custom_object(keys.GROUP, keys.VERSION, world.namespace, plural, name)  # type: ignore[return-value]

    # Bad input still gets a clear condition (and the passes behind them are parked, not busy).
    world.wait(lambda: condition(get("clusters", "noisy-0-0"), "Ready").get("reason") == "Unreachable",
               message="the black-holed Cluster reported Unreachable")
    world.wait(lambda: condition(get("clusters", "noisy-1-1"), "Ready").get("reason") == "CredentialsRejected",
               message="the Cluster with a rejected token reported CredentialsRejected")
    world.wait(lambda: condition(get("revisions", "noisy0-v1"), "Progressing").get("reason") == "ClusterUnreachable",
               timeout=300, message="a Revision on a dead fleet says it is blocked on its clusters")

    # Let the broken apps' back-off grow past a few sync periods, then ramp v2 and count passes.
    before = passes_per_app(world)
    world.wait(lambda: passes_per_app(world).get(world.app, 0) >= before.get(world.app, 0) + 10, timeout=300,
               message="ten more passes of the healthy app")
    before = passes_per_app(world)
    world.revision("v2", minutes=5)
    seen: list[dict[str, int]] = []

    def released() -> bool:
        weights = world.weights(TARGETS[0])
        if weights and (not seen or seen[-1] != weights):
            seen.append(weights)
        return world.state("v2") == "released" and bool(seen) and seen[-1] == {"v2": 100}

    world.wait(released, timeout=300, message="v2 released at 100% next to the noise")
    after = passes_per_app(world)
    v2 = [w.get("v2", 0) for w in seen]
    assert v2 == sorted(v2) and len(set(v2)) >= 3, f"v2 ramps in several steps: {seen}"
    healthy = after.get(world.app, 0) - before.get(world.app, 0)
    noisy_apps = [a for a in after if a.startswith("noisy")]
    noisy = sum(after[a] - before.get(a, 0) for a in noisy_apps)
    assert healthy >= 5 and noisy_apps
    per_app = noisy / len(noisy_apps) / healthy
    # Unparked, every broken app would get as many passes as the healthy one (ratio 1).
    busiest = sorted(((after[a] - before.get(a, 0), a) for a in noisy_apps), reverse=True)[:8]
    assert per_app < 0.25, (f"broken apps got {per_app:.2f} passes each per healthy pass "
                            f"({noisy} over {len(noisy_apps)} apps, healthy {healthy}); busiest: {busiest}")
