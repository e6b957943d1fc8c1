"""pytest fixtures for tests that need real Kubernetes API servers (registered from tests/conftest.py).

Why: every integration test needs the same delivery cluster and two target clusters with the real
upstream CRDs; starting them once per session keeps the suite fast, and a fresh namespace per test
keeps tests independent.

Fixtures:
- `control_plane_binaries` (session): the built binaries, for tests that start their own `ControlPlane`.
- `helm_binary` (session): the helm built from Go modules (`picchu.testing.helm`), same build/skip policy.
- `kwok_binary` (session): the built kwok, for tests that run a cluster's machinery (same skip/fail rules).
- `control_plane` (session): a `ControlPlane` with clusters `delivery`, `a`, `b`; upstream CRDs
  (Istio, KEDA, prometheus-operator, Sloth, External Secrets, WPA, DatadogMetric, Gateway API) in all
  three; picchu's own CRDs from `config/crd/*.yaml` in `delivery` when that directory has files.
- `api_clients` (session): `{cluster name: kubernetes.client.ApiClient}`, closed at the end.
- `namespace` (function): a fresh namespace name, created in every cluster, deleted afterwards
  (no kube-controller-manager runs, so deleted namespaces stay Terminating; names never repeat).

Invariants: with `CI=true` a missing control plane FAILS the test (never skips). Elsewhere, if the
binaries are not built the tests are skipped with the command to build them (set
`PICCHU_BUILD_CONTROLPLANE=1` to build on demand). Tests using either control-plane fixture get the
`controlplane` marker automatically.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from picchu.testing.controlplane import (
    ControlPlane,
    ControlPlaneUnavailable,
    cached_binaries,
    ensure_binaries,
)
from picchu.testing.controlplane.binaries import Binaries

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

CLUSTER_NAMES = ("delivery", "a", "b")
_BUILD_HINT = ("build it with `python -m picchu.testing.controlplane build` (also builds helm; needs Go >= 1.26)")


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def _binaries_or_skip() -> Binaries:
    """The binaries; in CI build them or fail, elsewhere skip unless building was asked for."""
    found = cached_binaries()
    if found:
        return found
    if _in_ci() or os.environ.get("PICCHU_BUILD_CONTROLPLANE") == "1":
        try:
            return ensure_binaries()
        except ControlPlaneUnavailable as error:
            pytest.fail(f"the local control plane is needed and cannot be built: {error}", pytrace=False)
    pytest.skip(f"local control plane not built: {_BUILD_HINT}")


def _helm_or_skip() -> Path:
    from picchu.testing.helm import cached_helm, ensure_helm

    found = cached_helm()
    if found:
        return found
    if _in_ci() or os.environ.get("PICCHU_BUILD_CONTROLPLANE") == "1":
        try:
            return ensure_helm()
        except ControlPlaneUnavailable as error:
            pytest.fail(f"helm is needed and cannot be built: {error}", pytrace=False)
    pytest.skip(f"helm not built: {_BUILD_HINT}")


@pytest.fixture(scope="session")
def helm_binary() -> Path:
    """The helm binary (built from Go modules into ~/.cache/picchu/helm/<version>/bin)."""
    return _helm_or_skip()


@pytest.fixture(scope="session")
def control_plane_binaries() -> Binaries:
    """The built kube-apiserver/etcd/kubectl, for tests that start their own `ControlPlane`."""
    return _binaries_or_skip()


@pytest.fixture(scope="session")
def kwok_binary(control_plane_binaries: Binaries) -> Path:
    """The built kwok (simulated nodes), needed by `ControlPlane.start_machinery`."""
    from picchu.testing.controlplane.kwok import cached_kwok, ensure_kwok

    found = cached_kwok()
    if found:
        return found
    if _in_ci() or os.environ.get("PICCHU_BUILD_CONTROLPLANE") == "1":
        try:
            return ensure_kwok()
        except ControlPlaneUnavailable as error:
            pytest.fail(f"kwok is needed and cannot be built: {error}", pytrace=False)
    pytest.skip(f"kwok not built: {_BUILD_HINT}")


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory, control_plane_binaries: Binaries
                  ) -> Iterator[ControlPlane]:
    from picchu.testing.upstream_crds import install_test_environment_crds

    binaries = control_plane_binaries
    plane = ControlPlane(CLUSTER_NAMES, workdir=tmp_path_factory.mktemp("controlplane"), binaries=binaries)
    try:
        plane.start()
        install_test_environment_crds(plane, delivery="delivery")
    except ControlPlaneUnavailable as error:
        plane.stop()
        if _in_ci():
            pytest.fail(f"local control plane unavailable in CI: {error}", pytrace=False)
        pytest.skip(f"local control plane unavailable: {error}")
    except BaseException:
        plane.stop()
        raise
    try:
        yield plane
    finally:
        plane.stop()


@pytest.fixture(scope="session")
def api_clients(control_plane: ControlPlane) -> Iterator[dict[str, ApiClient]]:
    clients = {name: cluster.api_client() for name, cluster in control_plane.clusters.items()}
    try:
        yield clients
    finally:
        for client in clients.values():
            client.close()


@pytest.fixture
def namespace(request: pytest.FixtureRequest, control_plane: ControlPlane,
              api_clients: dict[str, ApiClient]) -> Iterator[str]:
    from kubernetes import client

    name = unique_namespace_name(request.node.name)
    created: list[str] = []
    try:
        for cluster_name in control_plane.clusters:
            core = client.CoreV1Api(_client_for(api_clients, control_plane, cluster_name))
            core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
            created.append(cluster_name)
        yield name
    finally:
        for cluster_name in created:
            cluster = control_plane.clusters[cluster_name]
            if cluster.running:
                core = client.CoreV1Api(_client_for(api_clients, control_plane, cluster_name))
                try:
                    core.delete_namespace(name)
                except client.ApiException as error:
                    if error.status != 404:
                        raise


def _client_for(clients: dict[str, ApiClient], plane: ControlPlane, name: str) -> ApiClient:
    """Clusters added during the session (`add_cluster`) get a client on first use."""
    if name not in clients:
        clients[name] = plane.clusters[name].api_client()
    return clients[name]


def unique_namespace_name(test_name: str) -> str:
    """`t-<test name as a DNS label, shortened>-<random>` (at most 63 characters)."""
    stem = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")[:45].strip("-")
    return f"t-{stem}-{secrets.token_hex(4)}" if stem else f"t-{secrets.token_hex(4)}"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "controlplane: needs the local kube-apiserver + etcd control plane")


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects: `make check` leaves these tests out by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if {"control_plane", "control_plane_binaries", "kwok_binary"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.controlplane)


__all__ = ["CLUSTER_NAMES", "api_clients", "control_plane", "control_plane_binaries", "helm_binary", "kwok_binary",
           "namespace",
           "unique_namespace_name"]
