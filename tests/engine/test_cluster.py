"""The Cluster pass (spec §5.1) against real API servers: status.kubernetes from a discovery call, a Ready
condition that explains a broken cluster without quoting its credentials, and a finalizer that never blocks
deletion."""

from __future__ import annotations

import secrets

import pytest

from picchu import keys
from picchu.engine.cluster import reconcile_cluster
from picchu.engine.context import EngineContext
from tests.engine.conftest import Delivery, run_pass


def ready_condition(obj: dict) -> dict:
    return next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")


def test_an_enabled_cluster_with_valid_credentials_is_ready_with_its_version_and_gets_the_finalizer(
        ctx: EngineContext, delivery: Delivery) -> None:
    name = delivery.register("a")

    assert run_pass(reconcile_cluster, ctx, delivery.namespace, name) == ctx.settings.sync_period_seconds

    cluster = delivery.get("Cluster", name)
    assert cluster is not None
    assert cluster["status"]["kubernetes"] == {"version": "1.36", "ready": True}
    assert keys.FINALIZER_CLUSTER in cluster["metadata"]["finalizers"]
    assert ready_condition(cluster)["status"] == "True"


def test_a_cluster_with_a_wrong_token_is_not_ready_and_says_why_without_quoting_the_token(
        ctx: EngineContext, delivery: Delivery) -> None:
    token = f"wrong-{secrets.token_hex(12)}"
    name = delivery.register("a", name="a-bad-token", token=token)

    run_pass(reconcile_cluster, ctx, delivery.namespace, name)

    cluster = delivery.get("Cluster", name)
    assert cluster is not None
    assert cluster["status"]["kubernetes"] == {"version": "", "ready": False}
    condition = ready_condition(cluster)
    assert condition["status"] == "False" and condition["message"]
    assert token not in condition["message"]
    events = delivery.events(name)
    assert events and all(token not in (e.message or "") for e in events)


@pytest.mark.parametrize("problem", ["wrong-token", "unreachable"])
def test_a_pass_over_an_unchanged_broken_cluster_rewrites_no_status_and_records_no_new_event(
        ctx: EngineContext, delivery: Delivery, problem: str) -> None:
    if problem == "wrong-token":
        name = delivery.register("a", name="a-bad-token", token=f"wrong-{secrets.token_hex(12)}")
    else:
        name = delivery.register("a", name="a-unreachable", server="https://127.0.0.1:1")
    run_pass(reconcile_cluster, ctx, delivery.namespace, name)
    before = delivery.get("Cluster", name)
    assert before is not None and before["status"]["kubernetes"]["ready"] is False
    events = len(delivery.events(name))

    run_pass(reconcile_cluster, ctx, delivery.namespace, name)

    after = delivery.get("Cluster", name)
    assert after is not None
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"], (
        before["status"], after["status"])
    assert len(delivery.events(name)) == events


def test_a_disabled_cluster_reports_no_version_and_not_ready(ctx: EngineContext, delivery: Delivery) -> None:
    name = delivery.register("a", enabled=False)

    run_pass(reconcile_cluster, ctx, delivery.namespace, name)

    cluster = delivery.get("Cluster", name)
    assert cluster is not None
    assert cluster["status"]["kubernetes"] == {"version": "", "ready": False}
    assert ready_condition(cluster)["reason"] == "Disabled"


def test_deleting_a_cluster_removes_the_finalizer_so_the_object_goes_away(ctx: EngineContext,
                                                                          delivery: Delivery) -> None:
    name = delivery.register("a")
    run_pass(reconcile_cluster, ctx, delivery.namespace, name)
    delivery.delete("Cluster", name)
    assert delivery.get("Cluster", name) is not None, "the finalizer should hold the object until the pass runs"

    assert reconcile_cluster(ctx, delivery.namespace, name) is None

    assert delivery.get("Cluster", name) is None


def test_a_cluster_without_its_credentials_secret_is_not_ready_and_names_the_secret_to_create(
        ctx: EngineContext, delivery: Delivery) -> None:
    name = delivery.register("a", name="a-no-secret")
    delivery.core.delete_namespaced_secret(name, delivery.namespace)

    run_pass(reconcile_cluster, ctx, delivery.namespace, name)

    cluster = delivery.get("Cluster", name)
    assert cluster is not None
    assert cluster["status"]["kubernetes"] == {"version": "", "ready": False}
    assert f"Secret {delivery.namespace}/{name}" in ready_condition(cluster)["message"]
