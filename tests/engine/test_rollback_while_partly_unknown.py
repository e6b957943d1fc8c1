"""A rollback never waits for a lost cluster (issue 10): ReleaseManager passes called one by one against the
real control plane, so "in the first pass" is a pass count, not a time window.

Cluster `b`'s apiserver is stopped while v2 ramps, then v2 is aborted (`spec.failed: true`): the very next
pass moves v2's traffic to v1 on `a`, the one after retires v2 there; when `b` answers again its first pass
gives it the decided weights (v2's pods stay until its routes changed) and its second retires v2 there.
"""

from __future__ import annotations

import time

from kubernetes import client

from picchu import keys
from picchu.engine.context import EngineContext
from picchu.engine.release_manager import applied_records
from picchu.release.snapshot import Decision, Route
from picchu.testing.controlplane import ControlPlane
from tests.engine.conftest import App, Delivery

LINEAR_10 = {"eligible": True, "schedule": "always", "scalingStrategy": "linear",
             "linearScaling": {"increment": 10, "delay": "2s"}}


def test_an_aborted_revision_leaves_reachable_clusters_in_one_pass_and_a_returning_cluster_in_its_first(
        control_plane: ControlPlane, ctx: EngineContext, delivery: Delivery,
        api_clients: dict[str, client.ApiClient], pods_ready: None) -> None:
    delivery.register("a")
    delivery.register("b")
    app = App(ctx, delivery, api_clients)
    app.revision("v1")
    app.drive(lambda: app.entry("v1").get("state", {}).get("current") == "released", "v1 released")
    app.revision("v2", minutes=5, target={"release": LINEAR_10})
    app.drive(lambda: app.entry("v2").get("currentPercent", 0) >= 10, "v2 gets traffic")
    before = app.weights("b")
    assert before["v2"] > 0 and app.weights("a") == before
    b = control_plane.clusters["b"]
    b.stop_apiserver()
    try:
        app.rm_pass()
        assert app.weights("a") == before, "a lost cluster holds the ramp"
        delivery.custom.patch_namespaced_custom_object(keys.GROUP, keys.VERSION, delivery.namespace, "revisions",
                                                       f"{app.name}-v2", {"spec": {"failed": True}})
        time.sleep(1.2)  # v1's own ramp delay (1 s) has passed: with every cluster known it would take it all now
        app.rm_pass()
        assert app.weights("a") == {"v1": 100}, "the rollback reaches the reachable cluster in one pass"
        assert app.entry("v2")["state"]["current"] == "failing" and app.entry("v2")["currentPercent"] == 0
        assert app.applied() == {"a": {"v1": 100}, "b": before}, "status says b still routes to v2"
        synced = next(c for c in app.status()["conditions"] if c["type"] == "ClustersSynced")
        assert synced["status"] == "False" and "b" in synced["message"]
        assert app.replicas("a", "v2") > 0, "pods stay the pass their traffic leaves"
        app.rm_pass()
        assert app.entry("v2")["state"]["current"] == "failed"
        assert app.replicas("a", "v2") == 0, "retired on a the pass after"
    finally:
        b.start_apiserver()
    app.rm_pass()
    assert app.weights("b") == {"v1": 100}, "the returning cluster gets the decided weights in its first pass"
    assert app.replicas("b", "v2") > 0, "and keeps v2's pods until its routes no longer reach them"
    # Status records b once a pass applied everything there: a restarted apiserver may refuse the target
    # identity for a moment, until its RBAC caches are filled.
    app.drive(lambda: app.applied() == {"a": {"v1": 100}, "b": {"v1": 100}}, "status records b's weights")
    app.rm_pass()
    assert app.replicas("b", "v2") == 0, "retired on b in its second pass"
    synced = next(c for c in app.status()["conditions"] if c["type"] == "ClustersSynced")
    assert synced["status"] == "True"


def test_status_applied_keeps_the_last_record_of_a_cluster_that_did_not_apply() -> None:
    decision = Decision(routes=(Route("v1", 100), Route("v2", 0)))
    old = [{"cluster": "a", "weights": {"v1": 60, "v2": 40}, "appliedAt": "t0"},
           {"cluster": "b", "weights": {"v1": 60, "v2": 40}, "appliedAt": "t0"},
           {"cluster": "gone", "weights": {"v1": 60}, "appliedAt": "t0"}]
    records = applied_records(old, decision, frozenset({"a", "b", "c"}), {"a", "c"}, "t1")
    assert records == [{"cluster": "a", "weights": {"v1": 100, "v2": 0}, "appliedAt": "t1"},
                       {"cluster": "b", "weights": {"v1": 60, "v2": 40}, "appliedAt": "t0"},
                       {"cluster": "c", "weights": {"v1": 100, "v2": 0}, "appliedAt": "t1"}]
    assert applied_records(records, decision, frozenset({"a", "b", "c"}), {"a", "c"}, "t2") == records, \
        "unchanged weights keep their time (an unchanged world writes nothing)"
