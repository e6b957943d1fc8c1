"""A target cluster's connections share one TLS context, and the server is still verified against its CA."""

from __future__ import annotations

import base64
import threading

import pytest
from kubernetes import client

from tests.clusters.conftest import cluster_object, secret_object


def list_namespaces_at_once(api: client.ApiClient, count: int) -> None:
    """`count` requests in flight together: each needs a connection of its own."""
    together = threading.Barrier(count, timeout=60)
    errors: list[BaseException] = []

    def one() -> None:
        together.wait()
        try:
            client.CoreV1Api(api).list_namespace(_request_timeout=60)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert not errors


def test_every_connection_of_a_cluster_uses_the_one_context(pool, targets) -> None:
    cluster = targets[0]
    connection = pool.connect(cluster_object(cluster), secret_object(cluster))
    list_namespaces_at_once(connection.api, 3)
    manager = connection.api.rest_client.pool_manager
    pooled = [conn for key in manager.pools.keys() for conn in manager.pools[key].pool.queue if conn is not None]
    assert len(pooled) >= 2
    shared = manager.connection_pool_kw["ssl_context"]
    assert all(conn.sock.context is shared for conn in pooled)
    assert all(conn.is_verified for conn in pooled)


def test_a_server_whose_certificate_the_cluster_ca_did_not_sign_is_refused(pool, targets) -> None:
    cluster, other = targets
    wrong_ca = cluster_object(cluster)
    wrong_ca["spec"]["config"]["certificate-authority-data"] = base64.b64encode(other.ca_data).decode()
    assert other.ca_data != cluster.ca_data  # each apiserver signs its own certificate
    connection = pool.connect(wrong_ca, secret_object(cluster))
    with pytest.raises(client.ApiException, match="CERTIFICATE_VERIFY_FAILED"):
        client.CoreV1Api(connection.api).list_namespace(_request_timeout=60)
