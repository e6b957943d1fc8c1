"""A cluster that does not answer fails fast for everyone, with a back-off that grows, until it answers again."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import certifi
import pytest

from picchu.clusters import ClientPool
from picchu.clusters.breaker import Breaker
from picchu.clusters.transport import Deadline, Unreachable, send

CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n").decode()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_failures_open_it_for_a_doubling_capped_time_and_one_probe_is_let_through() -> None:
    clock = Clock()
    breaker = Breaker(base=1.0, cap=4.0, clock=clock)
    assert breaker.check() is None
    opened_for = []
    for _ in range(5):
        breaker.failed("cluster x unreachable: refused")
        start = clock.now
        while breaker.check() is not None:
            assert breaker.check() == "cluster x unreachable: refused"  # the same reason, every time
            clock.now += 0.25
        opened_for.append(clock.now - start)
        assert breaker.check() == "cluster x unreachable: refused", "only one probe at a time"
    assert opened_for == [1.0, 2.0, 4.0, 4.0, 4.0]


def test_an_answer_closes_it_and_an_abandoned_probe_lets_another_through() -> None:
    clock = Clock()
    breaker = Breaker(base=1.0, clock=clock)
    breaker.failed("down")
    clock.now += 1.0
    assert breaker.check() is None  # the probe
    breaker.abandoned()
    assert breaker.check() is None  # another probe
    breaker.answered()
    assert breaker.check() is None and breaker.check() is None and not breaker.open and not breaker.dead


def test_a_refusal_leaves_it_closed_but_marks_the_cluster_dead_until_it_answers() -> None:
    breaker = Breaker(clock=Clock())
    breaker.refused_at_once()
    assert breaker.check() is None and breaker.dead
    breaker.answered()
    assert not breaker.dead
    breaker.answered(credentials_rejected=True)
    assert breaker.dead and breaker.check() is None, "rejected credentials: it answers, but nothing can succeed"


@pytest.fixture
def black_hole() -> Iterator[str]:
    """An address whose connections are never established (a full accept queue drops further SYNs), as a
    black-holed server: every request waits out its connect timeout."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        fillers = []
        for _ in range(3):  # fill the accept queue; nothing ever accepts
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(server.getsockname())
            fillers.append(filler)
        try:
            yield f"https://127.0.0.1:{server.getsockname()[1]}"
        finally:
            for filler in fillers:
                filler.close()


def _cluster(server: str) -> tuple[dict, dict]:
    ca = base64.b64encode(Path(certifi.where()).read_bytes()).decode()  # a real CA bundle: TLS gets as far as it can
    cluster = {"apiVersion": "picchu.medium.engineering/v1alpha1", "kind": "Cluster",
               "metadata": {"name": "dead", "namespace": "picchu"},
               "spec": {"enabled": True, "config": {"server": server, "certificate-authority-data": ca}}}
    secret = {"metadata": {"name": "dead", "namespace": "picchu", "resourceVersion": "1"},
              "data": {"auth-info": base64.b64encode(json.dumps({"token": "t0k3n-value"}).encode()).decode()}}
    return cluster, secret


def test_requests_to_a_silent_cluster_fail_fast_after_one_timeout_for_every_app(black_hole: str) -> None:
    attempts: list[tuple[str, str, int | None]] = []
    pool = ClientPool(max_concurrency=2, on_request=lambda *a: attempts.append(a))
    first_app, second_app = pool.connect(*_cluster(black_hole)), pool.connect(*_cluster(black_hole))
    with pytest.raises(Unreachable) as first:
        send(first_app, "GET", "/version", Deadline(1.5))
    assert len(attempts) == 1
    for connection in (first_app, second_app, second_app):
        with pytest.raises(Unreachable) as again:
            send(connection, "GET", "/apis/apps/v1", Deadline(10))
        assert str(again.value) == str(first.value), "the remembered reason, unchanged (stable conditions)"
    assert len(attempts) == 1, "no request went out while the breaker was open"
    assert " at 0x" not in str(first.value)
    pool.close()


def test_a_refused_connection_is_not_remembered_so_a_restarted_server_is_used_at_once() -> None:
    attempts: list[tuple[str, str, int | None]] = []
    pool = ClientPool(max_concurrency=2, on_request=lambda *a: attempts.append(a))
    connection = pool.connect(*_cluster("https://127.0.0.1:1"))
    for _ in range(2):
        with pytest.raises(Unreachable):
            send(connection, "GET", "/version", Deadline(10))
    assert len(attempts) == 2 and not connection.breaker.open
    assert connection.breaker.dead, "yet known to be unreachable: its apps can be parked"
    pool.close()
