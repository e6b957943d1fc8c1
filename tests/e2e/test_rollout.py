"""A user's view of a rollout: Revisions applied with kubectl, the real operator, two target clusters.

Every test reads only what a user can read: ReleaseManager status, VirtualService weights and ReplicaSets
in the target clusters, Revision conditions and Kubernetes Events in the delivery cluster.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from picchu import keys
from picchu.testing.prometheus import SloAlerts, require_prometheus
from picchu.testing.requests import RequestCounter, delta
from tests.e2e.conftest import TARGETS, World

pytestmark = pytest.mark.e2e
LINEAR_10 = {"eligible": True, "schedule": "always", "scalingStrategy": "linear",
             "linearScaling": {"increment": 10, "delay": "2s"}}


def _release_v1(world: World) -> None:
    world.revision("v1")
    world.wait(lambda: world.state("v1") == "released", message="v1 released")
    for cluster in TARGETS:
        world.wait(lambda c=cluster: world.weights(c) == {"v1": 100}, message=f"v1 at 100% on {cluster}")


def test_the_first_release_reaches_100_percent_on_both_clusters(world: World) -> None:
    world.register()
    world.start_operator()
    _release_v1(world)
    for cluster in TARGETS:
        assert world.replicasets(cluster)["v1"].status.available_replicas >= 1


def test_a_second_revision_ramps_step_by_step_while_the_first_retires(world: World) -> None:
    world.register()
    world.start_operator()
    _release_v1(world)
    world.revision("v2", minutes=5)
    seen: dict[str, list[dict[str, int]]] = {c: [] for c in TARGETS}

    def released() -> bool:
        for cluster in TARGETS:
            weights = world.weights(cluster)
            if weights and (not seen[cluster] or seen[cluster][-1] != weights):
                seen[cluster].append(weights)
        return world.state("v2") == "released" and all(s and s[-1] == {"v2": 100} for s in seen.values())

    world.wait(released, timeout=240, message="v2 released at 100% everywhere")
    for cluster, steps in seen.items():
        assert all(sum(w.values()) == 100 for w in steps), f"weights must sum to 100 on {cluster}: {steps}"
        v2 = [w.get("v2", 0) for w in steps]
        assert v2 == sorted(v2), f"v2 never moves backwards on {cluster}: {v2}"
        assert len(set(v2)) >= 3, f"v2 ramps in several steps on {cluster}: {v2}"
    world.wait(lambda: world.state("v1") == "retired", message="v1 retired")
    for cluster in TARGETS:
        world.wait(lambda c=cluster: world.replicasets(c)["v1"].spec.replicas == 0, message=f"v1 scaled to 0 on {cluster}")


def test_a_release_follows_its_pods_and_states_without_waiting_for_the_sync_period(world: World) -> None:
    """With a 10-minute period, only the ReplicaSet watch (pods ready) and the passes asked for after each state
    change can carry v1 from created to released, and then v2's ramp step by step, within the test's waits."""
    world.register()
    world.start_operator("--sync-period-seconds", "600")
    _release_v1(world)
    world.revision("v2", minutes=5)
    world.wait(lambda: world.state("v2") == "released" and world.state("v1") in ("retiring", "retired"),
               timeout=150, message="v2 released and v1 retiring, long before one period")
    for cluster in TARGETS:
        world.wait(lambda c=cluster: world.weights(c).get("v2") == 100, message=f"v2 at 100% on {cluster}")


def test_a_firing_slo_alert_fails_the_new_revision_and_traffic_returns_to_the_previous_one(world: World) -> None:
    require_prometheus()
    with SloAlerts(alert="availability") as alerts:
        world.register()
        world.start_operator("--prometheus-query-address", alerts.url, "--prometheus-query-ttl", "1")
        _release_v1(world)
        world.revision("v2", minutes=5, target={"release": LINEAR_10})
        world.wait(lambda: (world.entries().get("v2") or {}).get("currentPercent", 0) > 0, message="v2 gets traffic")
        alerts.fire(world.app, "v2")
        world.wait(lambda: world.state("v2") == "failed", timeout=240, message="v2 failed")
        for cluster in TARGETS:
            world.wait(lambda c=cluster: world.weights(c) == {"v1": 100}, message=f"v1 back at 100% on {cluster}")
        revision = client.CustomObjectsApi(world.apis["delivery"]).get_namespaced_custom_object(
            keys.GROUP, keys.VERSION, world.namespace, "revisions", f"{world.app}-v2")
        assert revision["spec"]["failed"] is True
        assert keys.ANNOTATION_FAILED_AT in revision["metadata"]["annotations"]
        assert world.entries()["v2"]["peakPercent"] < 50
        world.wait(lambda: any(e.reason == "RevisionFailed" for e in world.events(f"{world.app}-v2")),
                   message="a RevisionFailed event")


def _passes(world: World) -> int:
    """ReleaseManager passes of this test's operator so far (`picchu_reconcile_passes_total`)."""
    assert world.operator is not None
    return world.operator.passes()


def _serving(world: World, cluster: str) -> dict[str, int]:
    return {tag: w for tag, w in world.weights(cluster).items() if w > 0}


def _passes_until(world: World, predicate: Any, message: str, watch: str = "") -> int:
    """How many ReleaseManager passes started between now and `predicate()` becoming true. The count is read
    before the predicate on every poll, so a pass that starts in between is never counted (no overcount
    from sampling). Meanwhile `watch`'s v2 pods must never be gone while its routes still send v2 traffic."""
    start = _passes(world)
    seen: list[int] = []

    def check() -> bool:
        seen.append(_passes(world))
        if watch:
            routed = _serving(world, watch).get("v2", 0)
            pods = sum(rs.spec.replicas or 0 for name, rs in world.replicasets(watch).items() if name == "v2")
            assert not (routed and pods == 0), f"v2 retired on {watch} while it still routes {routed}% to it"
        return bool(predicate())

    world.wait(check, timeout=120, message=message)
    return seen[-1] - start


def test_a_rollback_is_applied_to_reachable_clusters_while_one_is_down_and_to_it_when_it_returns(
        world: World) -> None:
    require_prometheus()
    with SloAlerts(alert="availability") as alerts:
        world.register()
        world.start_operator("--prometheus-query-address", alerts.url, "--prometheus-query-ttl", "1",
                             "--sync-period-seconds", "2")  # the last value wins: passes far apart to count them
        _release_v1(world)
        world.revision("v2", minutes=5, target={"release": LINEAR_10})
        world.wait(lambda: _serving(world, "b").get("v2", 0) > 0, message="v2 gets traffic on b")
        b = world.plane.clusters["b"]
        b.stop_apiserver()
        try:
            assert world.operator is not None
            world.operator.wait_passes(2)  # a pass or two with b down
            held = _serving(world, "a")
            assert 0 < held.get("v2", 0) < 50, f"v2 ramped below the SLO rollback threshold: {held}"
            alerts.fire(world.app, "v2")
            api = client.CustomObjectsApi(world.apis["delivery"])
            world.wait(lambda: api.get_namespaced_custom_object(keys.GROUP, keys.VERSION, world.namespace, "revisions",
                                                                f"{world.app}-v2")["spec"]["failed"],
                       message="the SLO alert fails v2")
            passes = _passes_until(world, lambda: _serving(world, "a") == {"v1": 100}, "v2 at 0% on a", watch="a")
            assert passes <= 2, f"the rollback reached a {passes} passes after v2 failed, with b down"
            world.wait(lambda: world.state("v2") == "failed", message="v2 failed while b is down")
            applied = {r["cluster"]: r["weights"] for r in _rm_status(world).get("applied") or []}
            assert applied["b"].get("v2", 0) > 0, f"status records that b still routes to v2: {applied}"
        finally:
            b.start_apiserver()
        passes = _passes_until(world, lambda: _serving(world, "b") == {"v1": 100}, "v2 at 0% on b", watch="b")
        assert passes <= 2, f"the returning cluster got the decided weights {passes} passes after it answered"

        def retired_on_b() -> bool:
            return all((rs.spec.replicas or 0) == 0 for n, rs in world.replicasets("b").items() if n == "v2")

        _passes_until(world, retired_on_b, "v2 retired on b", watch="b")
        applied = {r["cluster"]: r["weights"] for r in _rm_status(world).get("applied") or []}
        assert {c: {t: w for t, w in ws.items() if w} for c, ws in applied.items()} == {
            "a": {"v1": 100}, "b": {"v1": 100}}


def _rm_status(world: World) -> dict[str, Any]:
    rm = client.CustomObjectsApi(world.apis["delivery"]).get_namespaced_custom_object(
        keys.GROUP, keys.VERSION, world.namespace, "releasemanagers", f"{world.app}-production")
    return rm.get("status") or {}  # type: ignore[no-any-return,union-attr]


def test_a_disabled_cluster_gets_no_writes(world: World) -> None:
    world.register("a")
    world.register("b", enabled=False)
    counter = RequestCounter(world.plane.clusters["b"])  # b's own controllers and kwok are not counted
    before = counter.snapshot()
    world.start_operator()
    world.revision("v1")
    world.wait(lambda: world.state("v1") == "released", message="v1 released on a alone")
    world.wait(lambda: world.weights("a") == {"v1": 100}, message="v1 at 100% on a")
    change = delta(before, counter.snapshot()).without(*_housekeeping())
    assert change.writes() == 0, change.by_resource(verbs=("POST", "PUT", "PATCH", "APPLY", "DELETE"))
    assert world.replicasets("b") == {}


def _housekeeping() -> tuple[tuple[str, str], ...]:
    from picchu.testing.requests import HOUSEKEEPING

    return HOUSEKEEPING


def test_a_stopped_target_apiserver_stalls_only_its_own_app_and_the_app_resumes_when_it_returns(
        world: World) -> None:
    world.register()
    # A second app on a fleet made of cluster `a` alone keeps rolling while `b` is down.
    solo = world.plane.clusters["a"]
    from picchu.testing.fleet import cluster_manifests, kubectl_apply

    manifests = cluster_manifests(solo, "solo", namespace=world.namespace)
    for manifest in manifests:
        manifest["metadata"]["name"] = "a-solo"
    kubectl_apply(world.delivery, manifests)
    world.start_operator()
    _release_v1(world)
    b = world.plane.clusters["b"]
    b.stop_apiserver()
    try:
        world.revision("v2", minutes=5)
        other = f"{world.app}o"
        from picchu.testing.builders import revision_manifest

        kubectl_apply(world.delivery, [revision_manifest(other, "w1", namespace=world.namespace, fleet="solo",
                                                         committed=world.start_time)])
        rm_name = f"{world.app}-production"
        world.wait(lambda: any(e.reason == "ClusterUnavailable" for e in world.events(rm_name)),
                   message="a ClusterUnavailable event on the ReleaseManager")
        rm = client.CustomObjectsApi(world.apis["delivery"]).get_namespaced_custom_object(
            keys.GROUP, keys.VERSION, world.namespace, "releasemanagers", rm_name)
        synced = next(c for c in rm["status"]["conditions"] if c["type"] == "ClustersSynced")
        assert synced["status"] == "False" and "b" in synced["message"]

        def other_released() -> bool:
            rm2 = client.CustomObjectsApi(world.apis["delivery"]).get_namespaced_custom_object(
                keys.GROUP, keys.VERSION, world.namespace, "releasemanagers", f"{other}-production")
            return any(e["tag"] == "w1" and e["state"]["current"] == "released"
                       for e in (rm2.get("status") or {}).get("revisions") or [])

        world.wait(other_released, message="the other app released while b is down")
        assert (world.entries().get("v2") or {}).get("currentPercent", 0) == 0
        assert world.weights("a") == {"v1": 100}
    finally:
        b.start_apiserver()
    world.wait(lambda: world.state("v2") == "released", timeout=300, message="v2 released after b returned")
    for cluster in TARGETS:
        world.wait(lambda c=cluster: world.weights(c) == {"v2": 100}, message=f"v2 at 100% on {cluster}")


def test_restarting_the_operator_mid_ramp_continues_without_a_traffic_jump(world: World) -> None:
    world.register()
    world.start_operator()
    _release_v1(world)
    world.revision("v2", minutes=5, target={"release": LINEAR_10})
    world.wait(lambda: world.weights("a").get("v2", 0) >= 20, message="v2 at 20% or more")
    world.stop_operator()
    paused = world.weights("a")
    world.start_operator()
    seen = [paused.get("v2", 0)]

    def released() -> bool:
        value = world.weights("a").get("v2", 0)
        if value != seen[-1]:
            seen.append(value)
        return value == 100

    world.wait(released, timeout=240, message="v2 reaches 100% after the restart")
    steps = [b - a for a, b in zip(seen, seen[1:], strict=False)]
    assert all(0 < step <= 10 for step in steps), f"v2 resumes in steps of at most 10%: {seen}"


def test_a_malformed_revision_gets_a_clear_condition_and_event_while_another_app_keeps_rolling(
        world: World) -> None:
    world.register()
    world.start_operator()
    bad_ports = [{"name": "web", "mode": "private", "port": 80}, {"name": "api", "mode": "private", "port": 81}]
    bad = world.revision("bad", target={"ports": bad_ports})
    name = bad["metadata"]["name"]

    def condition() -> dict[str, str] | None:
        obj = client.CustomObjectsApi(world.apis["delivery"]).get_namespaced_custom_object(
            keys.GROUP, keys.VERSION, world.namespace, "revisions", name)
        return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == "Valid"), None)

    valid = world.wait(condition, message="a Valid condition on the malformed Revision")
    assert valid["status"] == "False" and valid["reason"] == "InvalidSpec"
    assert "defaultIngressPorts" in valid["message"]
    world.wait(lambda: any(e.reason == "InvalidSpec" and e.type == "Warning" for e in world.events(name)),
               message="a Warning event on the malformed Revision")
    world.app = f"{world.app}g"
    _release_v1(world)


def test_deleting_a_revision_cleans_up_its_objects(world: World) -> None:
    world.register()
    world.start_operator()
    _release_v1(world)
    world.revision("v2", minutes=5)
    world.wait(lambda: world.state("v2") == "released" and world.state("v1") == "retired", timeout=240,
               message="v2 released, v1 retired")
    client.CustomObjectsApi(world.apis["delivery"]).delete_namespaced_custom_object(
        keys.GROUP, keys.VERSION, world.namespace, "revisions", f"{world.app}-v1")
    world.wait(lambda: "v1" not in world.entries(), message="v1 dropped from the ReleaseManager status")
    for cluster in TARGETS:
        world.wait(lambda c=cluster: "v1" not in world.replicasets(c), message=f"v1 ReplicaSet gone on {cluster}")
        assert "v2" in world.replicasets(cluster)


def test_an_unreachable_prometheus_holds_the_ramp_until_it_answers_again(world: World) -> None:
    require_prometheus()
    with SloAlerts(alert="availability") as alerts:
        assert alerts.server is not None
        world.register()
        world.start_operator("--prometheus-query-address", alerts.url, "--prometheus-query-ttl", "1")
        _release_v1(world)
        world.revision("v2", minutes=5, target={"release": LINEAR_10})
        world.wait(lambda: world.weights("a").get("v2", 0) >= 10, message="v2 gets traffic")
        alerts.server.pause()  # Prometheus hangs: every query times out
        try:
            world.wait(lambda: _alerts_clear_reason(world, "v2") == "AlertSourceUnavailable", timeout=240,
                       message="the Revision says its alerts cannot be read")
            operator = world.operator
            assert operator is not None
            operator.wait_passes(1)  # a pass that began before the outage may still have stepped
            held = world.weights("a")
            operator.wait_passes(4)
            assert world.weights("a") == held, "no step while the alerts cannot be read"
            assert held.get("v2", 0) < 100 and world.state("v2") == "releasing"
            revision = client.CustomObjectsApi(world.apis["delivery"]).get_namespaced_custom_object(
                keys.GROUP, keys.VERSION, world.namespace, "revisions", f"{world.app}-v2")
            assert revision["spec"]["failed"] is False, "no rollback either"
            assert _alerts_clear_reason(world, "v2") == "AlertSourceUnavailable"
        finally:
            alerts.server.resume()
        world.wait(lambda: world.state("v2") == "released", timeout=240, message="v2 released once Prometheus answers")


def test_passes_over_an_unchanged_world_write_nothing_and_read_nothing_anywhere(world: World) -> None:
    """Idle passes read from the watches' caches: after warm-up the operator sends no GET or LIST to the
    delivery cluster or the targets, however many passes run. Counted in the apiservers' audit logs, by the
    operator's own identities (the apiservers' internal requests are not its); WATCH requests are the
    streams themselves (audited when they end) and are left out, and so is GET /version (see below)."""
    from picchu.testing import audit
    from tests.e2e.conftest import TARGET_USER

    world.register()
    operator = world.start_operator()
    _release_v1(world)
    operator.wait_passes(3)  # the last status and event writes of the rollout land in these passes
    # The targets' controllers and kwok have their own identities, so the operator's requests are told apart.
    logs = {name: world.plane.clusters[name].audit_log_path for name in ("delivery", *TARGETS)}
    users = {"delivery": world.delivery_user, **dict.fromkeys(TARGETS, TARGET_USER)}
    passes_before = operator.passes()
    offsets = {name: path.stat().st_size if path.exists() else 0 for name, path in logs.items()}
    operator.wait_passes(6)
    passes = operator.passes() - passes_before
    operator.wait_passes(1)  # the audit log is written when a request completes: let the last ones land
    assert passes >= 6
    for name, path in logs.items():
        requests = [r for r in audit.read_requests(path, offsets[name])[0] if r.user == users[name]]
        writes = [f"{r.verb} {r.uri}" for r in requests if r.verb not in ("get", "list", "watch")]
        # Resource reads only: the Cluster pass's readiness probe (GET /version, one per Cluster per period
        # whatever the number of apps) is a non-resource request.
        reads = [f"{r.verb} {r.uri}" for r in requests if r.verb in ("get", "list") and r.resource]
        assert not writes, f"{name}: no write in {passes} passes, got {writes[:10]}"
        assert not reads, f"{name}: no read in {passes} passes, got {reads[:10]}"


def _alerts_clear_reason(world: World, tag: str) -> str | None:
    revision = client.CustomObjectsApi(world.apis["delivery"]).get_namespaced_custom_object(
        keys.GROUP, keys.VERSION, world.namespace, "revisions", f"{world.app}-{tag}")
    found = next((c for c in (revision.get("status") or {}).get("conditions") or []
                  if c["type"] == "AlertsClear"), None)
    return found["reason"] if found else None


def test_garbage_collection_deletes_an_expired_failed_revision_and_its_objects(world: World) -> None:
    world.register()
    world.start_operator()
    _release_v1(world)
    release = {"eligible": True, "schedule": "always", "ttl": 1}
    world.revision("v2", minutes=5, target={"release": release}, spec={"failed": True})
    api = client.CustomObjectsApi(world.apis["delivery"])

    def gone() -> bool:
        try:
            api.get_namespaced_custom_object(keys.GROUP, keys.VERSION, world.namespace, "revisions", f"{world.app}-v2")
        except client.ApiException as error:
            return error.status == 404
        return False

    world.wait(gone, timeout=240, message="the expired failed Revision deleted by GC")
    world.wait(lambda: "v2" not in world.entries(), message="v2 dropped from the ReleaseManager status")
    for cluster in TARGETS:
        world.wait(lambda c=cluster: "v2" not in world.replicasets(c), message=f"v2 ReplicaSet gone on {cluster}")
        assert world.weights(cluster) == {"v1": 100}
    assert world.state("v1") == "released"


CANARY_SLO = {
    "name": "availability", "enabled": True, "objectivePercentString": "99.9", "description": "served",
    "serviceLevelIndicator": {
        "canary": {"enabled": True, "allowancePercentString": "1", "failAfter": "1m"},
        "tagKey": "tag",
        "totalQuery": "sum(rate(requests_total[2m])) by (tag)",
        "errorQuery": 'sum(rate(requests_total{code=~"5.."}[2m])) by (tag)',
    },
}


def test_a_canary_holds_its_percent_with_canary_rules_then_releases_after_its_ttl(world: World) -> None:
    world.register()
    world.start_operator()
    _release_v1(world)
    world.revision("v2", minutes=5, target={"canary": {"percent": 10, "ttl": 6},
                                            "serviceLevelObjectives": [CANARY_SLO]})
    rules = client.CustomObjectsApi(world.apis["a"])

    def canary_rule() -> dict | None:
        try:
            return rules.get_namespaced_custom_object("monitoring.coreos.com", "v1", world.target_namespace,
                                                      "prometheusrules", f"{world.app}-canary-v2")
        except client.ApiException:
            return None

    world.wait(lambda: world.state("v2") == "canarying" and world.weights("a") == {"v1": 90, "v2": 10},
               message="v2 canarying at 10%")
    rule = world.wait(canary_rule, message="the canary PrometheusRule in cluster a")
    alert = rule["spec"]["groups"][0]["rules"][0]
    assert alert["alert"] == "availability_canary" and alert["labels"]["canary"] == "true"
    world.wait(lambda: world.state("v2") == "released", timeout=240, message="v2 released after the canary TTL")
    world.wait(lambda: canary_rule() is None, message="the canary rule removed once the canary ended")
    assert world.entries()["v2"].get("canaryStartTimestamp")


def test_an_external_test_gates_the_release_and_reaches_the_revision_through_its_tagged_route(
        world: World) -> None:
    world.register()
    world.start_operator()
    _release_v1(world)

    def apply_v2(**test: bool) -> None:
        world.revision("v2", minutes=5, spec={"tagRoutingHeader": "x-tag"},
                       target={"externalTest": {"enabled": True, "started": False, "completed": False, **test}})

    def tagged_routes() -> list[str]:
        vs = client.CustomObjectsApi(world.apis["a"]).get_namespaced_custom_object(
            "networking.istio.io", "v1alpha3", world.target_namespace, "virtualservices", world.app)
        return [route["name"] for route in vs["spec"]["http"]]

    apply_v2()
    world.wait(lambda: world.state("v2") == "pendingtest", message="v2 waits for its external test")
    world.wait(lambda: "00_tagged-v2-http" in tagged_routes(), message="a tagged route reaches v2")
    assert world.weights("a") == {"v1": 100}, "no release traffic before the test passes"
    apply_v2(started=True)
    world.wait(lambda: world.state("v2") == "testing", message="v2 testing")
    apply_v2(started=True, completed=True, succeeded=True)
    world.wait(lambda: world.state("v2") == "released", timeout=240, message="v2 released after the test passed")


def test_a_replicaset_deleted_behind_picchus_back_is_written_again_in_the_next_passes(world: World) -> None:
    world.register()
    operator = world.start_operator()
    _release_v1(world)
    client.AppsV1Api(world.apis["a"]).delete_namespaced_replica_set("v1", world.target_namespace)
    operator.wait_passes(1)
    world.wait(lambda: "v1" in world.replicasets("a"), message="v1's ReplicaSet written again on a")
    assert world.weights("a") == {"v1": 100}
