"""Fixtures for the cluster I/O tests: Cluster + Secret objects as users write them, pooled connections, and
an honest request counter read from each API server's own metrics."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest

from picchu.clusters import ClientPool, ClusterConnection
from picchu.testing import requests


def cluster_object(cluster, *, hot_standby: bool = False) -> dict:
    """The Cluster resource a user would write for a control-plane cluster (§3.5)."""
    return {"apiVersion": "picchu.medium.engineering/v1alpha1", "kind": "Cluster",
            "metadata": {"name": cluster.name, "namespace": "picchu"},
            "spec": {"enabled": True, "hotStandby": hot_standby,
                     "config": {"server": cluster.server,
                                "certificate-authority-data": base64.b64encode(cluster.ca_data).decode()}}}


def secret_object(cluster, *, token: str | None = None, version: str = "1") -> dict:
    """Its credentials Secret as read back from the delivery cluster: auth-info is a JSON kubeconfig user."""
    auth = json.dumps({"token": token if token is not None else cluster.token}).encode()
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": cluster.name, "namespace": "picchu", "resourceVersion": version},
            "data": {"auth-info": base64.b64encode(auth).decode()}}


class RequestCounter:
    """Requests served between `start()` and `delta()` by each cluster, by verb, housekeeping excluded."""

    def __init__(self, clusters) -> None:
        self.counters = {c.name: requests.RequestCounter(c) for c in clusters}
        self._before: dict[str, requests.RequestCounts] = {}

    def start(self) -> None:
        self._before = {name: counter.snapshot() for name, counter in self.counters.items()}

    def delta(self) -> dict[str, dict[str, int]]:
        """Requests by verb, WATCH left out: the apiserver counts a watch when it *ends*, so a watch some
        other client (or the apiserver's own informers) opened long before shows up in any window; the
        applier and observer never watch."""
        out = {}
        for name, counter in self.counters.items():
            verbs = requests.delta(self._before[name], counter.snapshot()).without(*requests.HOUSEKEEPING).by_verb()
            out[name] = {verb: count for verb, count in verbs.items() if verb != "WATCH"}
        return out


@pytest.fixture
def targets(control_plane):
    return [control_plane.clusters["a"], control_plane.clusters["b"]]


@pytest.fixture
def pool() -> Iterator[ClientPool]:
    pool = ClientPool(max_concurrency=4)
    yield pool
    pool.close()


@pytest.fixture
def connections(pool, targets) -> list[ClusterConnection]:
    return [pool.connect(cluster_object(c), secret_object(c)) for c in targets]


@pytest.fixture
def counter(targets) -> RequestCounter:
    return RequestCounter(targets)


@pytest.fixture
def connect(pool):
    """`connect(cluster, token=None, version="1", ...)`: a pooled connection from a Cluster + Secret pair."""
    def build(cluster, *, token: str | None = None, version: str = "1", hot_standby: bool = False,
              name: str | None = None, server: str | None = None):
        cluster_obj = cluster_object(cluster, hot_standby=hot_standby)
        secret_obj = secret_object(cluster, token=token, version=version)
        if name:
            cluster_obj["metadata"]["name"] = secret_obj["metadata"]["name"] = name
        if server:
            cluster_obj["spec"]["config"]["server"] = server
        return pool.connect(cluster_obj, secret_obj)
    return build
