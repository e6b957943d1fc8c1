"""Pooled connections that are idle or that the server closed are closed; the others stay pooled and are reused.

A real HTTP/1.1 keep-alive server on loopback stands in for an apiserver that closes idle connections (the
kube-apiserver does so after 90 s, too long for a test); the client is the kubernetes `ApiClient` the
operator uses, with its real urllib3 pool.
"""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from kubernetes import client

from picchu.clusters import ClientPool
from picchu.clusters.idle_connections import close_idle

PARALLEL = 3
IDLE = 3.0  # seconds; generous, so that a loaded machine cannot make a just-used connection look idle
CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nnot used over http\n-----END CERTIFICATE-----\n").decode()


class KeepAliveServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        self.connections: list[socket.socket] = []
        self.together = threading.Barrier(PARALLEL, timeout=30)
        self.hold = True
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def close_connections(self, count: int) -> None:
        """Close ``count`` connections from the server's side, as an apiserver closes idle ones."""
        for conn in self.connections[:count]:
            conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the apiserver
    server: KeepAliveServer

    def setup(self) -> None:
        super().setup()
        self.server.connections.append(self.connection)

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        if self.server.hold:
            self.server.together.wait()  # all requests in flight at once: one connection each
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[KeepAliveServer]:
    srv = KeepAliveServer()
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def api_for(url: str) -> client.ApiClient:
    configuration = client.Configuration()
    configuration.host = url
    configuration.connection_pool_maxsize = PARALLEL + 1
    return client.ApiClient(configuration)


def get(api: client.ApiClient, url: str) -> int:
    response = api.rest_client.request("GET", url + "/version")
    response.read()  # as `ApiClient.call_api` does: the connection returns to the pool
    return response.status


def fill_pool(api: client.ApiClient, server: KeepAliveServer) -> None:
    """PARALLEL requests at once leave PARALLEL connections in the pool."""
    threads = [threading.Thread(target=get, args=(api, server.url))
               for _ in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    server.hold = False
    assert len(server.connections) == PARALLEL


def pooled(api: client.ApiClient) -> list:
    manager = api.rest_client.pool_manager
    return [conn for key in manager.pools.keys() for conn in manager.pools[key].pool.queue if conn is not None]


def close_until(sweep, expected: int) -> int:
    """The server's FIN reaches the client asynchronously: sweep until it has, within a generous deadline."""
    closed, deadline = 0, time.monotonic() + 30
    while closed < expected and time.monotonic() < deadline:
        closed += sweep()
        time.sleep(0.05)
    return closed


def test_connections_the_server_closed_are_closed_and_the_open_one_is_reused(server: KeepAliveServer) -> None:
    api = api_for(server.url)
    fill_pool(api, server)
    assert close_idle(api) == 0  # nothing closed and nothing idle for 30 s: every connection stays
    assert len(pooled(api)) == PARALLEL

    server.close_connections(PARALLEL - 1)
    assert close_until(lambda: close_idle(api), PARALLEL - 1) == PARALLEL - 1
    kept = pooled(api)
    assert len(kept) == 1 and kept[0].is_connected
    assert close_idle(api) == 0

    assert get(api, server.url) == 200
    assert len(server.connections) == PARALLEL  # the kept connection served it: no new one was opened
    assert pooled(api) == kept


def test_idle_connections_are_closed_and_a_recently_used_one_stays(server: KeepAliveServer) -> None:
    api = api_for(server.url)
    fill_pool(api, server)
    time.sleep(2 * IDLE)  # every pooled connection idle for 2 * IDLE
    assert get(api, server.url) == 200  # takes the top one: used just now
    used = pooled(api)[-1]
    assert close_idle(api, idle_seconds=IDLE) == PARALLEL - 1  # fails only if this line came IDLE s later
    assert pooled(api) == [used]

    time.sleep(2 * IDLE)
    assert close_idle(api, idle_seconds=IDLE) == 1
    assert pooled(api) == []
    assert get(api, server.url) == 200  # a fresh connection
    assert len(server.connections) == PARALLEL + 1


def test_the_client_pool_lists_every_cluster_client(server: KeepAliveServer) -> None:
    pool = ClientPool(max_concurrency=PARALLEL + 1)
    secret = {"metadata": {"name": "a", "namespace": "picchu", "resourceVersion": "1"},
              "data": {"auth-info": base64.b64encode(b'{"token": "s3cr3t-token-value"}').decode()}}
    connections = [pool.connect({"metadata": {"name": name, "namespace": "picchu"},
                                 "spec": {"enabled": True, "config": {"server": server.url,
                                                                      "certificate-authority-data": CA}}},
                                secret)
                   for name in ("a", "b")]
    assert pool.clients() == [c.api for c in connections]
    pool.close()
