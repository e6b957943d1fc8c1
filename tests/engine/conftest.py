"""Fixtures for engine-pass tests: an EngineContext around the real delivery cluster, Clusters registered the
way users register them, and helpers that read back what a user would read with kubectl.

Passes are called directly (no operator process): `run_pass(reconcile, ctx, namespace, name)` repeats a pass
while it asks to be rerun at once (labels or finalizers just added), as the operator's work queue would.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from picchu import keys
from picchu.engine.assembly import build_context
from picchu.engine.context import EngineContext
from picchu.engine.delivery import PLURALS
from picchu.engine.release_manager import reconcile_release_manager
from picchu.engine.revision import reconcile_revision
from picchu.settings import Settings
from picchu.testing.builders import revision_manifest
from picchu.testing.controlplane import ControlPlane
from picchu.testing.controlplane.binaries import repo_root
from picchu.testing.fleet import cluster_manifests, wait_for
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


@pytest.fixture
def pods_ready(control_plane: ControlPlane, kwok_binary: Path) -> None:
    """Real Pods: the target clusters run their machinery (controllers, scheduler, kwok nodes)."""
    control_plane.start_machinery("a", "b")  # restarts any that died


class App:
    """One app driven by ReleaseManager passes called one by one, read back as a user would."""

    def __init__(self, ctx: EngineContext, delivery: Delivery, api_clients: dict[str, client.ApiClient]) -> None:
        self.ctx, self.delivery, self.apis = ctx, delivery, api_clients
        self.name = f"r{secrets.token_hex(3)}"
        self.rm = f"{self.name}-production"
        self.start = datetime.now(UTC) - timedelta(hours=1)

    def revision(self, tag: str, minutes: int = 0, **kwargs: Any) -> None:
        self.delivery.create(revision_manifest(self.name, tag, namespace=self.delivery.namespace,
                                               committed=self.start + timedelta(minutes=minutes), **kwargs))
        run_pass(reconcile_revision, self.ctx, self.delivery.namespace, f"{self.name}-{tag}")

    def rm_pass(self) -> None:
        reconcile_release_manager(self.ctx, self.delivery.namespace, self.rm)

    def drive(self, done: Any, message: str) -> None:
        """ReleaseManager passes (with a pause for pods and ramp delays) until `done()`."""
        def step() -> bool:
            self.rm_pass()
            return bool(done())
        wait_for(step, 90, interval=0.3, message=message)

    def status(self) -> dict[str, Any]:
        return (self.delivery.get("ReleaseManager", self.rm) or {}).get("status") or {}

    def entry(self, tag: str) -> dict[str, Any]:
        return next((e for e in self.status().get("revisions") or [] if e["tag"] == tag), {})

    def weights(self, cluster: str) -> dict[str, int]:
        vs = client.CustomObjectsApi(self.apis[cluster]).get_namespaced_custom_object(
            "networking.istio.io", "v1alpha3", f"{self.rm}", "virtualservices", self.name)
        route = next(r for r in vs["spec"]["http"] if r.get("name") == "01_release-http")
        return {d["destination"]["subset"]: d.get("weight", 0) for d in route["route"] if d.get("weight", 0)}

    def replicas(self, cluster: str, tag: str) -> int:
        items = client.AppsV1Api(self.apis[cluster]).list_namespaced_replica_set(
            self.rm, label_selector=f"{keys.LABEL_TAG}={tag}").items
        return sum(rs.spec.replicas or 0 for rs in items)

    def applied(self) -> dict[str, dict[str, int]]:
        return {r["cluster"]: {t: w for t, w in r["weights"].items() if w} for r in self.status().get("applied") or []}
