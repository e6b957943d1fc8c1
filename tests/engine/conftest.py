"""Fixtures for engine-pass tests: an EngineContext around the real delivery cluster, Clusters registered the
way users register them, and helpers that read back what a user would read with kubectl.

Passes are called directly (no operator process): `run_pass(reconcile, ctx, namespace, name)` repeats a pass
while it asks to be rerun at once (labels or finalizers just added), as the operator's work queue would.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client

from picchu import keys
from picchu.engine.assembly import build_context
from picchu.engine.context import EngineContext
from picchu.engine.delivery import PLURALS
from picchu.settings import Settings
from picchu.testing.controlplane import ControlPlane
from picchu.testing.controlplane.binaries import repo_root
from picchu.testing.fleet import cluster_manifests
from picchu.testing.upstream_crds import install_crds_from_dir


@pytest.fixture
def ctx(api_clients: dict[str, client.ApiClient]) -> Iterator[EngineContext]:
    context = build_context(Settings(sync_period_seconds=5, cluster_timeout_seconds=5), api_clients["delivery"])
    yield context
    context.pool.close()


@pytest.fixture(scope="session")
def picchu_crds_in_b(control_plane: ControlPlane) -> None:
    """picchu's CRDs in cluster `b` (a mirror needs them); server-side applied, so installing twice is fine."""
    install_crds_from_dir(control_plane.clusters["b"], repo_root() / "config" / "crd")


def run_pass(reconcile: Callable[[EngineContext, str, str], float | None], ctx: EngineContext, namespace: str,
             name: str, *, limit: int = 4) -> float | None:
    """Run a pass until it stops asking for an immediate rerun; returns its last requeue delay."""
    for _ in range(limit):
        delay = reconcile(ctx, namespace, name)
        if delay != 0.0:
            return delay
    raise AssertionError(f"{reconcile.__name__} asked to rerun at once {limit} times in a row")


class Delivery:
    """What a user does in the delivery cluster of one test namespace: apply objects, read them back."""

    def __init__(self, plane: ControlPlane, api: client.ApiClient, namespace: str) -> None:
        self.plane = plane
        self.api = api
        self.namespace = namespace
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)

    def register(self, cluster: str, fleet: str = "production", *, name: str | None = None, token: str | None = None,
                 server: str | None = None, **options: Any) -> str:
        """A Cluster and its credentials Secret for a control-plane cluster (credentials: the shipped target
        identity, with the Mirror-destination role in fleet `mirrors`); returns the Cluster's name."""
        cluster_obj, secret = cluster_manifests(self.plane.clusters[cluster], fleet, namespace=self.namespace,
                                                mirror=fleet == "mirrors", **options)
        if name:
            cluster_obj["metadata"]["name"] = secret["metadata"]["name"] = name
        if server:
            cluster_obj["spec"]["config"]["server"] = server
        if token is not None:
            secret["stringData"][keys.SECRET_AUTH_INFO_KEY] = f'{{"token": "{token}"}}'
        self.create(cluster_obj)
        self.core.create_namespaced_secret(self.namespace, secret)
        return str(cluster_obj["metadata"]["name"])

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        obj["metadata"].setdefault("namespace", self.namespace)
        return self.custom.create_namespaced_custom_object(  # type: ignore[no-any-return]
            keys.GROUP, keys.VERSION, obj["metadata"]["namespace"], PLURALS[obj["kind"]], obj)

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        try:
            return self.custom.get_namespaced_custom_object(  # type: ignore[no-any-return]
                keys.GROUP, keys.VERSION, self.namespace, PLURALS[kind], name)
        except client.ApiException as error:
            if error.status == 404:
                return None
            raise

    def delete(self, kind: str, name: str) -> None:
        self.custom.delete_namespaced_custom_object(keys.GROUP, keys.VERSION, self.namespace, PLURALS[kind], name)

    def events(self, name: str) -> list[client.CoreV1Event]:
        return [e for e in self.core.list_namespaced_event(self.namespace).items if e.involved_object.name == name]


@pytest.fixture
def delivery(control_plane: ControlPlane, api_clients: dict[str, client.ApiClient], namespace: str) -> Delivery:
    return Delivery(control_plane, api_clients["delivery"], namespace)


@pytest.fixture
def extra_namespaces(api_clients: dict[str, client.ApiClient]) -> Iterator[Callable[[], str]]:
    """`new()` → a fresh namespace name; deleted from every cluster at the end wherever it was created."""
    names: list[str] = []

    def new() -> str:
        names.append(f"x-{secrets.token_hex(5)}")
        return names[-1]

    yield new
    for api in api_clients.values():
        core = client.CoreV1Api(api)
        for name in names:
            try:
                core.delete_namespace(name)
            except client.ApiException as error:
                if error.status != 404:
                    raise


def secret_data(value: str) -> dict[str, str]:
    return {"value": base64.b64encode(value.encode()).decode()}
