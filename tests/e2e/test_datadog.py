"""The Datadog canary-monitor check turned on with `picchu run` flags: the real operator, the real
`datadog-api-client` against a local Events API, next to a real Prometheus whose alerts stay clear.

Either source firing rolls the release back; an unreadable Datadog follows `--alert-failure-policy`.
"""

from __future__ import annotations

import pytest
from kubernetes import client

from picchu import keys
from picchu.testing.fake_services import FakeDatadog
from picchu.testing.prometheus import SloAlerts, require_prometheus
from tests.e2e.conftest import TARGETS, World
from tests.e2e.test_rollout import LINEAR_10, _release_v1

pytestmark = pytest.mark.e2e


def _datadog_flags(datadog: FakeDatadog) -> tuple[str, ...]:
    return ("--datadog-api-key", datadog.api_key, "--datadog-app-key", datadog.app_key,
            "--datadog-site", datadog.host, "--datadog-query-ttl", "1")


def _revision(world: World, tag: str) -> dict:
    return client.CustomObjectsApi(world.apis["delivery"]).get_namespaced_custom_object(
        keys.GROUP, keys.VERSION, world.namespace, "revisions", f"{world.app}-{tag}")  # type: ignore[return-value]


def _alerts_clear_when_unavailable(world: World) -> dict | None:
    """v2's AlertsClear condition once it says the alert source cannot be read."""
    conditions = (_revision(world, "v2").get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == "AlertsClear" and c["reason"] == "AlertSourceUnavailable"),
                None)


def test_a_datadog_canary_monitor_error_rolls_the_release_back_while_prometheus_is_clear(world: World) -> None:
    require_prometheus()
    with SloAlerts(alert="availability") as alerts, FakeDatadog() as datadog:
        world.register()
        world.start_operator("--prometheus-query-address", alerts.url, "--prometheus-query-ttl", "1",
                             *_datadog_flags(datadog))
        _release_v1(world)
        world.revision("v2", minutes=5, target={"release": LINEAR_10})
        world.wait(lambda: (world.entries().get("v2") or {}).get("currentPercent", 0) > 0, message="v2 gets traffic")

        datadog.add_monitor_event(f"prod-{world.app}-canary-monitor", version="v2")

        world.wait(lambda: world.state("v2") == "failed", timeout=120, message="v2 failed")
        for cluster in TARGETS:
            world.wait(lambda c=cluster: world.weights(c) == {"v1": 100}, message=f"v1 back at 100% on {cluster}")
        revision = _revision(world, "v2")
        assert revision["spec"]["failed"] is True
        assert world.entries()["v2"]["triggeredAlerts"] == [f"prod-{world.app}-canary-monitor"]
        asked = [r for r in datadog.requests if r.path == "/api/v2/events"]
        assert any(r.query.get("filter[query]") == f"*-{world.app}-canary-monitor AND status:error AND version:v2"
                   for r in asked)


def test_an_unreadable_datadog_holds_the_ramp_then_it_resumes(world: World) -> None:
    with FakeDatadog() as datadog:
        world.register()
        world.start_operator(*_datadog_flags(datadog))  # no Prometheus: Datadog is the only source
        _release_v1(world)
        world.revision("v2", minutes=5, target={"release": LINEAR_10})
        world.wait(lambda: world.weights("a").get("v2", 0) >= 10, message="v2 gets traffic")
        datadog.fail_with = 500
        try:
            alerts_clear = world.wait(lambda: _alerts_clear_when_unavailable(world), message="Datadog unreadable")
            assert "Datadog" in alerts_clear["message"]
            # 2 s steps: over 5 passes and 5 s, an unheld ramp would have stepped twice
            held = world.holds(lambda: world.weights("a"), passes=5, at_least=5,
                               message="no step while Datadog cannot be read (--alert-failure-policy hold)")
            assert held.get("v2", 0) < 100 and world.state("v2") == "releasing"
            assert _revision(world, "v2")["spec"]["failed"] is False, "no rollback either"
        finally:
            datadog.fail_with = 0
        world.wait(lambda: world.state("v2") == "released", timeout=120, message="v2 released once Datadog answers")


def test_an_unreadable_datadog_rolls_back_when_the_policy_fails_closed(world: World) -> None:
    with FakeDatadog() as datadog:
        world.register()
        world.start_operator("--alert-failure-policy", "fail-closed", *_datadog_flags(datadog))
        _release_v1(world)
        world.revision("v2", minutes=5, target={"release": LINEAR_10})
        world.wait(lambda: (world.entries().get("v2") or {}).get("currentPercent", 0) > 0, message="v2 gets traffic")
        datadog.fail_with = 500
        world.wait(lambda: world.state("v2") == "failed", timeout=120, message="v2 failed (fail-closed)")
        for cluster in TARGETS:
            world.wait(lambda c=cluster: world.weights(c) == {"v1": 100}, message=f"v1 back at 100% on {cluster}")
