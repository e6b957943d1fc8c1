"""The end-to-end harness: a delivery namespace wired to clusters `a` and `b`, the real operator process,
and helpers to read what users read (ReleaseManager status, VirtualService weights, ReplicaSets, Pods,
events).

Each test gets its own delivery namespace and app name, so tests never see each other's objects. The
operator runs with a 1-second sync period. Clusters `a` and `b` run their machinery (the `machinery`
fixture, started once): a kube-controller-manager and kube-scheduler create and place real Pods on kwok's
fake nodes, which make them Ready about a second after they are scheduled.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from picchu import keys
from picchu.testing.builders import revision_manifest
from picchu.testing.controlplane import ControlPlane
from picchu.testing.controlplane.machinery import Machinery
from picchu.testing.fleet import OperatorProcess, cluster_manifests, kubectl_apply, wait_for

pytestmark = pytest.mark.e2e
TARGETS = ("a", "b")


@pytest.fixture(scope="package")
def machinery(control_plane: ControlPlane, kwok_binary: Path) -> dict[str, Machinery]:
    """kube-controller-manager, kube-scheduler and kwok in the target clusters (stopped with the plane)."""
    return control_plane.start_machinery(*TARGETS)


class World:
    """One test's view of the fleet: apply manifests, run the operator, read results."""

    def __init__(self, plane: ControlPlane, namespace: str, machinery: dict[str, Machinery]) -> None:
        self.plane = plane
        self.namespace = namespace
        self.machinery = machinery
        self.delivery = plane.clusters["delivery"]
        self.apis = {n: plane.clusters[n].api_client() for n in plane.clusters}
        self.app = f"e{secrets.token_hex(3)}"
        self.operator: OperatorProcess | None = None
        self.start_time = datetime.now(UTC) - timedelta(hours=1)

    # --- setup ---------------------------------------------------------------------------------
    def register(self, *names: str, **options: Any) -> None:
        manifests = [m for n in names or TARGETS
                     for m in cluster_manifests(self.plane.clusters[n], "production", namespace=self.namespace,
                                                **options)]
        kubectl_apply(self.delivery, manifests)

    def start_operator(self, *args: str) -> OperatorProcess:
        self.operator = OperatorProcess(self.delivery.kubeconfig_path, namespace=self.namespace,
                                        args=("--sync-period-seconds", "1", *args)).start()
        return self.operator

    def stop_operator(self) -> None:
        if self.operator is not None:
            self.operator.stop()

    def revision(self, tag: str, minutes: int = 0, **kwargs: Any) -> dict[str, Any]:
        manifest = revision_manifest(self.app, tag, namespace=self.namespace,
                                     committed=self.start_time + timedelta(minutes=minutes), **kwargs)
        kubectl_apply(self.delivery, [manifest])
        return manifest

    # --- reading -------------------------------------------------------------------------------
    @property
    def target_namespace(self) -> str:
        return f"{self.app}-production"

    def entries(self) -> dict[str, dict[str, Any]]:
        try:
            rm = client.CustomObjectsApi(self.apis["delivery"]).get_namespaced_custom_object(
                keys.GROUP, keys.VERSION, self.namespace, "releasemanagers", f"{self.app}-production")
        except client.ApiException:
            return {}
        return {e["tag"]: e for e in (rm.get("status") or {}).get("revisions") or []}  # type: ignore[union-attr]

    def state(self, tag: str) -> str | None:
        entry = self.entries().get(tag)
        return entry["state"]["current"] if entry else None

    def weights(self, cluster: str) -> dict[str, int]:
        """Release-route weights of the `http` port in one cluster's VirtualService ({} when absent)."""
        try:
            vs = client.CustomObjectsApi(self.apis[cluster]).get_namespaced_custom_object(
                "networking.istio.io", "v1alpha3", self.target_namespace, "virtualservices", self.app)
        except client.ApiException:
            return {}
        for route in vs.get("spec", {}).get("http", []):  # type: ignore[union-attr]
            if route.get("name") == "01_release-http":
                return {d["destination"]["subset"]: d.get("weight", 0) for d in route.get("route", [])}
        return {}

    def replicasets(self, cluster: str) -> dict[str, Any]:
        try:
            items = client.AppsV1Api(self.apis[cluster]).list_namespaced_replica_set(self.target_namespace).items
        except client.ApiException:
            return {}
        return {rs.metadata.name: rs for rs in items}

    def pods(self, cluster: str, tag: str | None = None) -> list[Any]:
        """The app's Pods in one cluster (of one tag), terminating ones included."""
        selector = f"{keys.LABEL_TAG}={tag}" if tag else None
        try:
            return list(client.CoreV1Api(self.apis[cluster]).list_namespaced_pod(
                self.target_namespace, label_selector=selector).items)
        except client.ApiException:
            return []

    def ready_pods(self, cluster: str, tag: str) -> tuple[int, int]:
        """(Ready, total) Pods of a tag in one cluster, as `kubectl get pods` shows them."""
        pods = self.pods(cluster, tag)
        ready = sum(1 for p in pods if any(c.type == "Ready" and c.status == "True"
                                           for c in (p.status.conditions or [])))
        return ready, len(pods)

    def settle(self) -> None:
        """Wait until no namespace is being deleted in the targets (earlier tests' cleanup by the namespace
        controller makes the apiservers do work of their own, which request counts would include)."""
        def settled() -> bool:
            return not any(ns.metadata.deletion_timestamp for c in TARGETS
                           for ns in client.CoreV1Api(self.apis[c]).list_namespace().items)

        self.wait(settled, message="no namespace Terminating in the target clusters")

    def events(self, name: str) -> list[Any]:
        items = client.CoreV1Api(self.apis["delivery"]).list_namespaced_event(self.namespace).items
        return [e for e in items if e.involved_object.name == name]

    def wait(self, predicate: Any, timeout: float = 180.0, message: str = "condition") -> Any:
        try:
            return wait_for(predicate, timeout, interval=0.5, message=message)
        except AssertionError as error:
            logs = self.operator.logs(60) if self.operator else ""
            raise AssertionError(f"{error}\nentries: {self.entries()}\noperator log tail:\n{logs}") from None

    def close(self) -> None:
        self.stop_operator()
        for cluster in TARGETS:  # the namespace controller and kwok then remove this test's Pods
            core = client.CoreV1Api(self.apis[cluster])
            try:
                for ns in core.list_namespace().items:
                    if ns.metadata.name.startswith(self.app) and not ns.metadata.deletion_timestamp:
                        core.delete_namespace(ns.metadata.name)
            except Exception:  # a test may leave a cluster unreachable; cleanup is best effort
                pass
        for api in self.apis.values():
            api.close()


@pytest.fixture
def world(control_plane: ControlPlane, namespace: str, machinery: dict[str, Machinery]) -> Iterator[World]:
    w = World(control_plane, namespace, control_plane.start_machinery(*TARGETS))  # restarts any that died
    try:
        yield w
    finally:
        w.close()
