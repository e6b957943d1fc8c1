"""The end-to-end harness: a delivery namespace wired to clusters `a` and `b`, the real operator process,
and helpers to read what users read (ReleaseManager status, VirtualService weights, ReplicaSets, Pods,
events).

The operator holds only the shipped roles: in the delivery cluster the ServiceAccount of the chart, installed
with real helm into the test's namespace; in `a` and `b` the target identity (`config/rbac/target.yaml`). At
the end of each test the apiservers' audit logs must show no 403 for either identity, the operator log no
Forbidden, and every permission used must be in `permissions_used.json` (`PICCHU_RECORD_PERMISSIONS=1` adds
them instead; `tests/charts/test_permissions.py` checks that record against the roles).

Each test gets its own delivery namespace and app name, so tests never see each other's objects. The
operator runs with a 1-second sync period. Clusters `a` and `b` run their machinery (the `machinery`
fixture, started once): a kube-controller-manager and kube-scheduler create and place real Pods on kwok's
fake nodes, which make them Ready about a second after they are scheduled.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from picchu import keys
from picchu.testing import audit
from picchu.testing.builders import revision_manifest
from picchu.testing.controlplane import ControlPlane
from picchu.testing.controlplane.machinery import Machinery
from picchu.testing.fleet import (
    TARGET_ACCOUNT,
    TARGET_NAMESPACE,
    OperatorProcess,
    cluster_manifests,
    install_operator,
    kubectl_apply,
    release_name,
    wait_for,
)
from picchu.testing.helm import Helm

pytestmark = pytest.mark.e2e
TARGETS = ("a", "b")
PERMISSIONS_USED = Path(__file__).with_name("permissions_used.json")
TARGET_USER = f"system:serviceaccount:{TARGET_NAMESPACE}:{TARGET_ACCOUNT}"


@pytest.fixture(scope="package")
def machinery(control_plane: ControlPlane, kwok_binary: Path) -> dict[str, Machinery]:
    """kube-controller-manager, kube-scheduler and kwok in the target clusters (stopped with the plane)."""
    return control_plane.start_machinery(*TARGETS)


class World:
    """One test's view of the fleet: apply manifests, run the operator, read results."""

    def __init__(self, plane: ControlPlane, namespace: str, machinery: dict[str, Machinery],
                 helm_binary: Path) -> None:
        self.plane = plane
        self.namespace = namespace
        self.machinery = machinery
        self.delivery = plane.clusters["delivery"]
        self.apis = {n: plane.clusters[n].api_client() for n in plane.clusters}
        self.app = f"e{secrets.token_hex(3)}"
        self.operator: OperatorProcess | None = None
        self.operators: list[OperatorProcess] = []
        self.start_time = datetime.now(UTC) - timedelta(hours=1)
        self.helm = Helm(helm_binary, workdir=plane.workdir / "helm", kubeconfig=self.delivery.kubeconfig_path)
        self.release = release_name(namespace)
        self.delivery_user = f"system:serviceaccount:{namespace}:{self.release}"
        self._operator_kubeconfig: Path | None = None
        self._audit_from = {n: c.audit_log_path.stat().st_size if c.audit_log_path.exists() else 0
                            for n, c in plane.clusters.items()}

    # --- setup ---------------------------------------------------------------------------------
    def register(self, *names: str, **options: Any) -> None:
        manifests = [m for n in names or TARGETS
                     for m in cluster_manifests(self.plane.clusters[n], "production", namespace=self.namespace,
                                                **options)]
        kubectl_apply(self.delivery, manifests)

    def operator_kubeconfig(self) -> Path:
        """A kubeconfig of the chart's ServiceAccount (the chart is helm-installed on first use)."""
        if self._operator_kubeconfig is None:
            self._operator_kubeconfig = install_operator(self.helm, self.delivery, self.namespace,
                                                         workdir=self.plane.workdir, release=self.release)
        return self._operator_kubeconfig

    def new_operator(self, *args: str) -> OperatorProcess:
        """An operator process (not started) holding only the chart's delivery role and the target role."""
        operator = OperatorProcess(self.operator_kubeconfig(), namespace=self.namespace,
                                   args=("--sync-period-seconds", "1", *args))
        self.operators.append(operator)
        return operator

    def start_operator(self, *args: str) -> OperatorProcess:
        self.operator = self.new_operator(*args).start()
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

    def events(self, name: str) -> list[Any]:
        items = client.CoreV1Api(self.apis["delivery"]).list_namespaced_event(self.namespace).items
        return [e for e in items if e.involved_object.name == name]

    def wait(self, predicate: Any, timeout: float = 180.0, message: str = "condition") -> Any:
        try:
            return wait_for(predicate, timeout, interval=0.5, message=message)
        except AssertionError as error:
            logs = self.operator.logs(60) if self.operator else ""
            raise AssertionError(f"{error}\nentries: {self.entries()}\noperator log tail:\n{logs}") from None

    def holds(self, read: Any, *, passes: int, at_least: float, message: str) -> Any:
        """Assert `read()` keeps its first value over at least `passes` operator passes and `at_least` seconds
        (long enough for a wall-clock step delay to have come due); return that value. Counted in passes, so
        a loaded machine only makes this take longer, never fail."""
        assert self.operator is not None
        held, since, counted = read(), time.monotonic(), 0
        while counted < passes or time.monotonic() - since < at_least:
            self.operator.wait_passes(1)
            counted += 1
            assert read() == held, f"{message}: changed after {counted} passes, from {held} to {read()}"
        return held

    def close(self) -> None:
        for operator in self.operators:
            operator.stop()
        try:
            if self.operators:
                self.check_least_privilege()
        finally:
            if self._operator_kubeconfig is not None:
                self.helm.run("uninstall", self.release, "--namespace", self.namespace, check=False)
            self._delete_target_namespaces()
            for api in self.apis.values():
                api.close()

    def _delete_target_namespaces(self) -> None:
        """The namespace controller and kwok then remove this test's Pods."""
        for cluster in TARGETS:
            core = client.CoreV1Api(self.apis[cluster])
            try:
                for ns in core.list_namespace().items:
                    if ns.metadata.name.startswith(self.app) and not ns.metadata.deletion_timestamp:
                        core.delete_namespace(ns.metadata.name)
            except Exception:  # a test may leave a cluster unreachable; cleanup is best effort
                pass

    def check_least_privilege(self) -> None:
        """No 403 and no Forbidden anywhere in the operator; every permission used is in the record.

        Refusals by an apiserver that is still starting (a test restarted it) are not about roles and are
        excused; everything else refused fails the test."""
        used: set[audit.Permission] = set()
        denied: list[audit.Request] = []
        starting = [window for cluster in self.plane.clusters.values() for window in cluster.startup_windows]
        for name, cluster in self.plane.clusters.items():
            requests, _ = audit.read_requests(cluster.audit_log_path, self._audit_from.get(name, 0))
            denied += audit.forbidden(requests, (self.delivery_user, TARGET_USER), starting=cluster.startup_windows)
            if name == "delivery":
                used |= audit.used(audit.DELIVERY, requests, self.delivery_user, watched=self.namespace)
            else:
                used |= audit.used(audit.TARGET, requests, TARGET_USER, service_levels="service-level-objectives")
        assert not denied, "the operator was refused (403): " + "; ".join(
            f"{r.user} {r.verb} {r.uri}" for r in denied[:10])
        forbidden_lines = [line for op in self.operators
                           for line in audit.refusals_in_log(op.logs(100_000).splitlines(), starting=starting)]
        assert not forbidden_lines, "the operator log reports Forbidden:\n" + "\n".join(forbidden_lines[:10])
        if os.environ.get("PICCHU_RECORD_PERMISSIONS") == "1":
            audit.add_to_record(PERMISSIONS_USED, used)
            return
        unrecorded = sorted(used - audit.load_record(PERMISSIONS_USED))
        assert not unrecorded, (
            f"the operator used permissions {PERMISSIONS_USED.name} does not list (grant them in the shipped roles, "
            f"then record with PICCHU_RECORD_PERMISSIONS=1): {[p.as_dict() for p in unrecorded]}")


@pytest.fixture
def world(control_plane: ControlPlane, namespace: str, machinery: dict[str, Machinery],
          helm_binary: Path) -> Iterator[World]:
    # start_machinery restarts any machinery that died
    w = World(control_plane, namespace, control_plane.start_machinery(*TARGETS), helm_binary)
    try:
        yield w
    finally:
        w.close()
