"""The ClusterSecrets pass (spec §5.2 with §17 #12 fixed) against real API servers: Secrets of a delivery
namespace are copied into every enabled selected cluster, selectors work, the copies are recorded in status,
an unchanged pass writes nothing, and deletion removes the copies and the finalizer."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from kubernetes import client

from picchu import keys
from picchu.engine.cluster import reconcile_cluster_secrets
from picchu.engine.context import EngineContext
from picchu.outcome import Park
from picchu.testing.controlplane import ControlPlane
from picchu.testing.requests import RequestCounter, delta
from tests.engine.conftest import Delivery, run_pass, secret_data


def source_secret(delivery: Delivery, namespace: str, name: str, labels: dict[str, str] | None = None) -> None:
    delivery.core.create_namespaced_secret(namespace, {
        "metadata": {"name": name, "labels": labels or {"origin": "delivery"}},
        "type": "Opaque", "data": secret_data(name)})


def cluster_secrets(delivery: Delivery, source: dict[str, Any], target: dict[str, Any]) -> str:
    name = f"cs-{secrets.token_hex(3)}"
    delivery.create({"apiVersion": keys.API_VERSION, "kind": "ClusterSecrets", "metadata": {"name": name},
                     "spec": {"source": source, "target": target}})
    return name


def copies(api: client.ApiClient, namespace: str) -> dict[str, client.V1Secret]:
    try:
        return {s.metadata.name: s for s in client.CoreV1Api(api).list_namespaced_secret(namespace).items}
    except client.ApiException as error:
        if error.status == 404:
            return {}
        raise


def test_secrets_of_a_source_namespace_are_copied_into_every_enabled_selected_cluster_with_the_target_labels(
        ctx: EngineContext, delivery: Delivery, control_plane: ControlPlane,
        api_clients: dict[str, client.ApiClient], extra_namespaces: Callable[[], str]) -> None:
    source, target = extra_namespaces(), extra_namespaces()
    delivery.core.create_namespace({"metadata": {"name": source}})
    source_secret(delivery, source, "db-password")
    source_secret(delivery, source, "api-key")
    delivery.register("a")
    delivery.register("b", enabled=False)
    name = cluster_secrets(delivery, {"namespace": source},
                           {"namespace": target, "labels": {"copied-by": "picchu"}, "annotations": {"note": "x"}})

    run_pass(reconcile_cluster_secrets, ctx, delivery.namespace, name)

    in_a = copies(api_clients["a"], target)
    assert set(in_a) == {"db-password", "api-key"}
    for secret_name, secret in in_a.items():
        assert secret.data == secret_data(secret_name) and secret.type == "Opaque"
        assert secret.metadata.labels == {"copied-by": "picchu"}, "target labels replace the source labels"
        assert secret.metadata.annotations.get("note") == "x"
    assert copies(api_clients["b"], target) == {}, "a disabled cluster got copies"
    obj = delivery.get("ClusterSecrets", name)
    assert obj is not None
    assert obj["status"]["secrets"] == ["api-key", "db-password"]
    assert keys.FINALIZER_CLUSTER_SECRETS in obj["metadata"]["finalizers"]

    counter = RequestCounter(control_plane.clusters["a"])
    before = counter.snapshot()
    run_pass(reconcile_cluster_secrets, ctx, delivery.namespace, name)
    change = delta(before, counter.snapshot())
    assert change.writes(resource="secrets") + change.writes(resource="namespaces") == 0, change.by_resource()


def test_label_selectors_choose_the_source_secrets_and_the_target_clusters(
        ctx: EngineContext, delivery: Delivery, api_clients: dict[str, client.ApiClient],
        extra_namespaces: Callable[[], str]) -> None:
    target = extra_namespaces()
    source_secret(delivery, delivery.namespace, "wanted", {"copy": "yes"})
    source_secret(delivery, delivery.namespace, "unwanted", {"copy": "no"})
    delivery.register("a", "blue")
    delivery.register("b", "green")
    name = cluster_secrets(delivery, {"namespace": delivery.namespace, "labelSelector": "copy=yes"},
                           {"namespace": target, "labelSelector": f"{keys.LABEL_FLEET}=blue"})

    run_pass(reconcile_cluster_secrets, ctx, delivery.namespace, name)

    assert set(copies(api_clients["a"], target)) == {"wanted"}
    assert copies(api_clients["b"], target) == {}, "a cluster outside the target selector got copies"
    assert (delivery.get("ClusterSecrets", name) or {})["status"]["secrets"] == ["wanted"]


def test_an_invalid_selector_is_reported_on_the_object_without_failing_the_pass_or_blocking_deletion(
        ctx: EngineContext, delivery: Delivery, extra_namespaces: Callable[[], str]) -> None:
    delivery.register("a")
    name = cluster_secrets(delivery, {"namespace": delivery.namespace, "labelSelector": "copy in ("},
                           {"namespace": extra_namespaces()})

    # reported, then parked: retried with back-off, or at once when the ClusterSecrets changes
    parked = run_pass(reconcile_cluster_secrets, ctx, delivery.namespace, name)
    assert isinstance(parked, Park) and parked.delay == ctx.settings.sync_period_seconds

    messages = [e.message for e in delivery.events(name) if e.type == "Warning"]
    assert any("spec.source.labelSelector" in m for m in messages), messages

    delivery.delete("ClusterSecrets", name)
    assert reconcile_cluster_secrets(ctx, delivery.namespace, name) is None
    assert delivery.get("ClusterSecrets", name) is None, "an object that never copied anything hung on deletion"


def test_deleting_cluster_secrets_removes_the_copies_and_the_finalizer(
        ctx: EngineContext, delivery: Delivery, api_clients: dict[str, client.ApiClient],
        extra_namespaces: Callable[[], str]) -> None:
    target = extra_namespaces()
    source_secret(delivery, delivery.namespace, "wanted", {"copy": "yes"})
    delivery.register("a")
    name = cluster_secrets(delivery, {"namespace": delivery.namespace, "labelSelector": "copy=yes"},
                           {"namespace": target})
    run_pass(reconcile_cluster_secrets, ctx, delivery.namespace, name)
    assert set(copies(api_clients["a"], target)) == {"wanted"}

    delivery.delete("ClusterSecrets", name)
    assert reconcile_cluster_secrets(ctx, delivery.namespace, name) is None

    assert copies(api_clients["a"], target) == {}
    assert delivery.get("ClusterSecrets", name) is None


def test_a_copy_whose_source_secret_disappeared_is_removed_from_every_cluster(
        ctx: EngineContext, delivery: Delivery, api_clients: dict[str, client.ApiClient],
        extra_namespaces: Callable[[], str]) -> None:
    source, target = extra_namespaces(), extra_namespaces()
    delivery.core.create_namespace({"metadata": {"name": source}})
    source_secret(delivery, source, "kept")
    source_secret(delivery, source, "deleted")
    source_secret(delivery, source, "unselected")
    delivery.register("a")
    name = cluster_secrets(delivery, {"namespace": source, "labelSelector": "origin=delivery"}, {"namespace": target})
    run_pass(reconcile_cluster_secrets, ctx, delivery.namespace, name)
    assert set(copies(api_clients["a"], target)) == {"kept", "deleted", "unselected"}
    client.CoreV1Api(api_clients["a"]).create_namespaced_secret(target, {
        "metadata": {"name": "someone-elses"}, "type": "Opaque", "data": secret_data("x")})

    delivery.core.delete_namespaced_secret("deleted", source)
    delivery.core.patch_namespaced_secret("unselected", source, {"metadata": {"labels": {"origin": "elsewhere"}}})
    run_pass(reconcile_cluster_secrets, ctx, delivery.namespace, name)

    assert set(copies(api_clients["a"], target)) == {"kept", "someone-elses"}, "a stale copy stayed, or a Secret " \
        "picchu never copied was deleted"
    assert (delivery.get("ClusterSecrets", name) or {})["status"]["secrets"] == ["kept"]
