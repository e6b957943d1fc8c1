"""Fixtures for the cluster I/O tests: Cluster + Secret objects as users write them, pooled connections, and
an honest request counter read from each API server's own metrics."""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from picchu.clusters import ClientPool, ClusterConnection

# The API server's own background writes (its identity lease heartbeat) are not ours.
_BACKGROUND_RESOURCES = {"leases"}


def cluster_object(cluster, *, hot_standby: bool = False) -> dict:
    """The Cluster resource a user would write for a control-plane cluster (§3.5)."""
    return {"apiVersion": "picchu.medium.engineering/v1alpha1", "kind": "Cluster",
            "metadata": {"name": cluster.name, "namespace": "picchu"},
            "spec": {"enabled": True, "hotStandby": hot_standby,
                     "config": {"server": cluster.server,
                                "certificate-authority-data": base64.b64encode(cluster.ca_data).decode()}}}


def secret_object(cluster, *, token: str | None = None, version: str = "1") -> dict:
    """Its credentials Secret: key auth-info holds a JSON kubeconfig user object."""
    auth = json.dumps({"token": token if token is not None else cluster.token}).encode()
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": cluster.name, "namespace": "picchu", "resourceVersion": version},
            "data": {"auth-info": base64.b64encode(auth).decode()}}


def requests_by_verb(cluster) -> Counter[str]:
    """Total requests the API server has served so far, by verb (APPLY is server-side apply)."""
    status, body = cluster.get("/metrics")
    assert status == 200, body[:200]
    counts: Counter[str] = Counter()
    for family in text_string_to_metric_families(body.decode()):
        if family.name != "apiserver_request":
            continue
        for sample in family.samples:
            if sample.name == "apiserver_request_total" and sample.labels.get("resource") \
                    and sample.labels["resource"] not in _BACKGROUND_RESOURCES:
                counts[sample.labels["verb"]] += int(sample.value)
    return counts


class RequestCounter:
    """Requests made between `start()` and `delta()`, by verb, per cluster."""

    def __init__(self, clusters) -> None:
        self.clusters = clusters
        self._before: dict[str, Counter[str]] = {}

    def start(self) -> None:
        self._before = {c.name: requests_by_verb(c) for c in self.clusters}

    def delta(self) -> dict[str, Counter[str]]:
        return {c.name: +(requests_by_verb(c) - self._before[c.name]) for c in self.clusters}


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
    """`connect(cluster, token=None, version="1")`: a pooled connection from a Cluster + Secret pair."""
    def build(cluster, *, token: str | None = None, version: str = "1", hot_standby: bool = False):
        return pool.connect(cluster_object(cluster, hot_standby=hot_standby),
                            secret_object(cluster, token=token, version=version))
    return build
