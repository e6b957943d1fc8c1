"""Mirroring (spec §6.5, §17 #5) through the Revision pass, against real API servers: a deployed Revision and
its selected config end up in the mirror cluster `b`, external tests disabled, and an unchanged pass writes
nothing there; a broken mirror is counted and reported without failing the pass."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from kubernetes import client

from picchu import keys
from picchu.engine.context import EngineContext
from picchu.engine.revision import reconcile_revision, release_manager_name
from picchu.testing.builders import revision_manifest
from picchu.testing.controlplane import ControlPlane
from picchu.testing.requests import HOUSEKEEPING, RequestCounter, delta
from tests.engine.conftest import Delivery, run_pass, secret_data

pytestmark = pytest.mark.usefixtures("picchu_crds_in_b")
COPIED_RESOURCES = ("namespaces", "configmaps", "secrets", "revisions", "externalsecrets")
EXTERNAL_SECRETS = ("external-secrets.io", "v1", "externalsecrets")


@pytest.fixture
def app() -> str:
    return f"m{secrets.token_hex(3)}"


@pytest.fixture
def mirror(delivery: Delivery) -> Iterator[Callable[..., str]]:
    """`mirror(cluster_name, **spec)` creates a Mirror; every Mirror is removed afterwards, because Mirrors
    are listed in all namespaces and would otherwise reach into later tests."""
    created: list[str] = []

    def make(cluster_name: str, **spec: Any) -> str:
        name = f"mirror-{secrets.token_hex(3)}"
        delivery.create({"apiVersion": keys.API_VERSION, "kind": "Mirror", "metadata": {"name": name},
                         "spec": {"clusterName": cluster_name, **spec}})
        created.append(name)
        return name

    yield make
    for name in created:
        try:
            delivery.delete("Mirror", name)
        except client.ApiException as error:
            if error.status != 404:
                raise


def revision(delivery: Delivery, app: str, tag: str, *, replicas: int = 2, spec: dict[str, Any] | None = None
             ) -> str:
    """A Revision whose ReleaseManager reports `replicas` running (0 = not deployed anywhere)."""
    manifest = revision_manifest(
        app, tag, namespace=delivery.namespace, committed=datetime.now(UTC), spec=spec,
        target={"configSelector": {"matchLabels": {"config-of": app}},
                "externalTest": {"enabled": True, "started": False, "completed": False, "timeout": "1h"}})
    delivery.create(manifest)
    rm_name = release_manager_name(app, "production")
    delivery.create({"apiVersion": keys.API_VERSION, "kind": "ReleaseManager",
                     "metadata": {"name": rm_name, "labels": {keys.LABEL_TARGET: "production",
                                                              keys.LABEL_FLEET: "production", keys.LABEL_APP: app}},
                     "spec": {"fleet": "production", "app": app, "target": "production"}})
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    entry = {"tag": tag, "state": {"current": "released" if replicas else "created", "target": "released"},
             "currentPercent": 100 if replicas else 0, "peakPercent": 100 if replicas else 0,
             "releaseEligible": True, "lastUpdated": now,
             "scale": {"Current": replicas, "Desired": replicas, "Peak": replicas}}
    delivery.custom.patch_namespaced_custom_object_status(
        keys.GROUP, keys.VERSION, delivery.namespace, "releasemanagers", rm_name,
        {"status": {"lastUpdated": now, "revisions": [entry]}}, _content_type="application/merge-patch+json")
    return str(manifest["metadata"]["name"])


def config(delivery: Delivery, app: str, name: str, *, labels: dict[str, str] | None = None,
           namespace: str | None = None) -> None:
    """A ConfigMap and a Secret named `name` (selected by the Revision when labels are not given)."""
    meta = {"name": name, "namespace": namespace or delivery.namespace,
            "labels": labels if labels is not None else {"config-of": app}, "annotations": {"team": "ops"}}
    delivery.core.create_namespaced_config_map(meta["namespace"], {"metadata": meta, "data": {"k": name}})
    delivery.core.create_namespaced_secret(meta["namespace"], {"metadata": meta, "type": "Opaque",
                                                               "data": secret_data(name)})


def external_secret(delivery: Delivery, app: str, name: str) -> None:
    delivery.custom.create_namespaced_custom_object(*EXTERNAL_SECRETS[:2], delivery.namespace, EXTERNAL_SECRETS[2], {
        "apiVersion": "/".join(EXTERNAL_SECRETS[:2]), "kind": "ExternalSecret",
        "metadata": {"name": name, "labels": {"config-of": app}},
        "spec": {"secretStoreRef": {"name": "vault", "kind": "SecretStore"}, "target": {"name": name},
                 "data": [{"secretKey": "password", "remoteRef": {"key": f"{app}/password"}}]}})


def read(api: client.ApiClient, kind: str, namespace: str, name: str) -> Any:
    """An object in a target cluster, or None."""
    core = client.CoreV1Api(api)
    custom = client.CustomObjectsApi(api)
    try:
        if kind == "ConfigMap":
            return core.read_namespaced_config_map(name, namespace)
        if kind == "Secret":
            return core.read_namespaced_secret(name, namespace)
        if kind == "ExternalSecret":
            return custom.get_namespaced_custom_object(*EXTERNAL_SECRETS[:2], namespace, EXTERNAL_SECRETS[2], name)
        return custom.get_namespaced_custom_object(keys.GROUP, keys.VERSION, namespace, "revisions", name)
    except client.ApiException as error:
        if error.status == 404:
            return None
        raise


def failures(ctx: EngineContext, app: str, cluster: str) -> float:
    value = ctx.metrics.registry.get_sample_value("picchu_mirror_failure_counter_total",
                                                  {"app": app, "mirror": cluster})
    return value or 0.0


def test_a_deployed_revision_and_its_selected_config_are_copied_to_the_mirror_with_external_tests_disabled(
        ctx: EngineContext, delivery: Delivery, control_plane: ControlPlane, api_clients: dict[str, client.ApiClient],
        mirror: Callable[..., str], app: str, extra_namespaces: Callable[[], str]) -> None:
    b = api_clients["b"]
    elsewhere = extra_namespaces()  # exists in the delivery cluster only
    delivery.core.create_namespace({"metadata": {"name": elsewhere}})
    delivery.register("b", "mirrors")
    config(delivery, app, f"{app}-config")
    config(delivery, app, f"{app}-unselected", labels={"config-of": "someone-else"})
    external_secret(delivery, app, f"{app}-vault")
    config(delivery, app, f"{app}-extra", namespace=elsewhere, labels={"extra": "yes", "app-name": app,
                                                                       "app-tag": "v1"})
    config(delivery, app, f"{app}-extra-old", namespace=elsewhere, labels={"extra": "yes", "app-name": app,
                                                                           "app-tag": "v0"})
    mirror("b", additionalConfigSelectors=[{"namespace": "", "labelSelector": {"matchLabels": {"extra": "yes"}},
                                            "appLabelName": "app-name", "tagLabelName": "app-tag"}])
    name = revision(delivery, app, "v1")

    assert run_pass(reconcile_revision, ctx, delivery.namespace, name) == ctx.settings.sync_period_seconds

    copy = read(b, "Revision", delivery.namespace, name)
    assert copy is not None, "the Revision was not mirrored into cluster b"
    assert copy["spec"]["app"]["tag"] == "v1"
    assert copy["spec"]["targets"][0]["externalTest"] == {"enabled": False, "started": False, "completed": False,
                                                          "timeout": "1h"}
    assert copy["metadata"]["labels"][keys.LABEL_APP] == app
    assert not copy.get("status"), "status must not be copied"
    original = delivery.get("Revision", name)
    assert original is not None and original["spec"]["targets"][0]["externalTest"]["enabled"] is True
    configmap = read(b, "ConfigMap", delivery.namespace, f"{app}-config")
    assert configmap is not None and configmap.data == {"k": f"{app}-config"}
    assert configmap.metadata.annotations == {"team": "ops"}
    secret = read(b, "Secret", delivery.namespace, f"{app}-config")
    assert secret is not None and secret.data == secret_data(f"{app}-config") and secret.type == "Opaque"
    assert read(b, "ConfigMap", delivery.namespace, f"{app}-unselected") is None
    external = read(b, "ExternalSecret", delivery.namespace, f"{app}-vault")
    assert external is not None, "the selected ExternalSecret was not mirrored"
    assert external["spec"]["data"][0]["remoteRef"]["key"] == f"{app}/password"
    assert external["spec"]["secretStoreRef"]["name"] == "vault"
    assert read(b, "Secret", elsewhere, f"{app}-extra") is not None, "additionalConfigSelectors not copied"
    assert read(b, "ConfigMap", elsewhere, f"{app}-extra").data == {"k": f"{app}-extra"}
    assert read(b, "ConfigMap", elsewhere, f"{app}-extra-old") is None, "another tag's config was copied"
    assert failures(ctx, app, "b") == 0

    counter = RequestCounter(control_plane.clusters["b"])
    before = counter.snapshot()
    assert reconcile_revision(ctx, delivery.namespace, name) == ctx.settings.sync_period_seconds
    change = delta(before, counter.snapshot()).without(*HOUSEKEEPING)
    assert sum(change.writes(resource=r) for r in COPIED_RESOURCES) == 0, change.by_resource()


def test_a_mirror_naming_a_missing_cluster_is_counted_and_reported_while_other_mirrors_and_the_pass_go_on(
        ctx: EngineContext, delivery: Delivery, api_clients: dict[str, client.ApiClient],
        mirror: Callable[..., str], app: str) -> None:
    delivery.register("b", "mirrors")
    mirror("nowhere")
    mirror("b")
    name = revision(delivery, app, "v1")

    assert run_pass(reconcile_revision, ctx, delivery.namespace, name) == ctx.settings.sync_period_seconds

    assert failures(ctx, app, "nowhere") == 1
    warnings = [e for e in delivery.events(name) if e.reason == "MirrorFailed" and "nowhere" in e.message]
    assert warnings and warnings[0].type == "Warning"
    assert read(api_clients["b"], "Revision", delivery.namespace, name) is not None
    status = (delivery.get("Revision", name) or {}).get("status") or {}
    assert status["targets"][0]["scale"]["current"] == 2, "the Revision pass did not finish"


def test_a_mirror_cluster_without_picchus_crds_is_a_mirror_failure(
        ctx: EngineContext, delivery: Delivery, control_plane: ControlPlane, mirror: Callable[..., str],
        app: str) -> None:
    status, _ = control_plane.clusters["a"].get(f"/apis/{keys.GROUP}/{keys.VERSION}")
    assert status == 404, "this test needs cluster a without picchu's CRDs; some test installed them"
    delivery.register("a", "mirrors")
    mirror("a")
    name = revision(delivery, app, "v1")

    assert run_pass(reconcile_revision, ctx, delivery.namespace, name) == ctx.settings.sync_period_seconds

    assert failures(ctx, app, "a") == 1
    # Mirrors are listed in every namespace: only this test's mirror (to cluster a) is looked at.
    messages = [e.message for e in delivery.events(name) if e.reason == "MirrorFailed" and e.message.startswith("mirroring to cluster a ")]
    assert messages and "Revision" in messages[0], messages


@pytest.mark.parametrize(("replicas", "spec", "cluster_enabled"),
                         [(2, {"disableMirroring": True}, True), (0, None, True), (2, None, False)],
                         ids=["mirroring-disabled", "not-deployed", "mirror-cluster-disabled"])
def test_nothing_is_copied_when_mirroring_is_disabled_the_revision_is_not_deployed_or_the_cluster_is_disabled(
        ctx: EngineContext, delivery: Delivery, api_clients: dict[str, client.ApiClient],
        mirror: Callable[..., str], app: str, replicas: int, spec: dict[str, Any] | None,
        cluster_enabled: bool) -> None:
    delivery.register("b", "mirrors", enabled=cluster_enabled)
    config(delivery, app, f"{app}-config")
    mirror("b")
    name = revision(delivery, app, "v1", replicas=replicas, spec=spec)

    assert run_pass(reconcile_revision, ctx, delivery.namespace, name) == ctx.settings.sync_period_seconds

    b = api_clients["b"]
    assert read(b, "Revision", delivery.namespace, name) is None
    assert read(b, "ConfigMap", delivery.namespace, f"{app}-config") is None
    assert failures(ctx, app, "b") == 0


def test_a_mirror_pointing_at_the_delivery_cluster_fails_without_touching_the_original_revision(
        ctx: EngineContext, delivery: Delivery, mirror: Callable[..., str], app: str) -> None:
    delivery.register("delivery", "mirrors")
    mirror("delivery")
    name = revision(delivery, app, "v1")

    assert run_pass(reconcile_revision, ctx, delivery.namespace, name) == ctx.settings.sync_period_seconds

    assert failures(ctx, app, "delivery") == 1
    original = delivery.get("Revision", name)
    assert original is not None and original["spec"]["targets"][0]["externalTest"]["enabled"] is True
