"""The operator's observer: one watch per cluster feeds a cache that passes read without a request, a change
shows up without any LIST, and a cluster whose watch is down is an error entry until a re-list succeeds."""

from __future__ import annotations

import time

import pytest
from kubernetes import client

from picchu.clusters.observer import WatchingObserver
from picchu.clusters.reflector import Reflector, _Gone
from tests.clusters.test_observer import make_replicaset


def _wait(predicate, timeout: float = 60.0, message: str = ""):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {message}")


@pytest.fixture
def observer():
    observer = WatchingObserver(timeout=30, watch_seconds=5)  # short streams: reconnects are exercised too
    yield observer
    observer.close()


def test_passes_read_the_cache_and_see_changes_without_any_request(observer, connections, counter, api_clients,
                                                                    namespace):
    make_replicaset(api_clients["a"], namespace, "v1", 4, 3)
    first = observer.observe(connections, namespace)
    assert first.complete and [(s.cluster, s.tag, s.desired, s.available) for s in first.replicasets] == [
        ("a", "v1", 4, 3)]
    counter.start()
    make_replicaset(api_clients["b"], namespace, "v2", 2, 1)
    client.AppsV1Api(api_clients["a"]).patch_namespaced_replica_set(namespace=namespace, name="v1",
                                                                    body={"spec": {"replicas": 5}})
    _wait(lambda: sorted((s.cluster, s.tag, s.desired) for s in observer.observe(connections, namespace).replicasets)
          == [("a", "v1", 5), ("b", "v2", 2)], message="both changes seen through the watches")
    for _ in range(5):
        observer.observe(connections, namespace)
    reads = counter.delta()
    assert reads["a"].get("LIST", 0) == 0 and reads["b"].get("LIST", 0) == 0, reads
    assert reads["a"].get("GET", 0) == 0 and reads["b"].get("GET", 0) == 0, reads


def test_a_cluster_whose_watch_is_down_is_unknown_until_it_is_listed_again(observer, connections, control_plane,
                                                                            api_clients, namespace):
    make_replicaset(api_clients["b"], namespace, "v1", 2, 2)
    assert observer.observe(connections, namespace).complete
    b = control_plane.clusters["b"]
    b.stop_apiserver()
    try:
        down = _wait(lambda: (o := observer.observe(connections, namespace)).errors and o,
                     message="b reported as unreachable")
        assert list(down.errors) == ["b"] and "unreachable" in down.errors["b"]
        assert b.token not in down.errors["b"]
        assert all(s.cluster == "a" for s in down.replicasets)
    finally:
        b.start_apiserver()
    _wait(lambda: (o := observer.observe(connections, namespace)).complete and
          [s.tag for s in o.replicasets if s.cluster == "b"] == ["v1"], timeout=120, message="b observed again")


def test_a_returning_cluster_is_observed_at_the_first_pass_it_answers_and_its_watch_resumes_at_once(
        connections, control_plane, api_clients, namespace):
    # A watch that backs off for ten minutes after a failure: only the direct read can see b come back.
    observer = WatchingObserver(timeout=30, watch_seconds=5, backoff=(600,))
    try:
        make_replicaset(api_clients["b"], namespace, "v1", 2, 2)
        assert observer.observe(connections, namespace).complete
        b = control_plane.clusters["b"]
        b.stop_apiserver()
        try:
            _wait(lambda: observer.observe(connections, namespace).errors, message="b reported as unreachable")
        finally:
            b.start_apiserver()
        back = observer.observe(connections, namespace)
        assert back.complete and [s.tag for s in back.replicasets if s.cluster == "b"] == ["v1"]
        reflector = observer._reflectors["b"][1]
        _wait(lambda: reflector.healthy, message="b's watch listed again long before its back-off ended")
    finally:
        observer.close()


def test_an_expired_resource_version_means_a_new_list(connections):
    reflector = Reflector(connections[0].api, "/apis/apps/v1/replicasets", name="a")
    with pytest.raises(_Gone):
        reflector._apply({"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "too old"}}, "5")
    assert reflector._apply({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}}, "5") == "9"


def test_only_tagged_replicasets_are_watched(observer, connections, api_clients, namespace):
    make_replicaset(api_clients["a"], namespace, "untagged", 1, 1, tagged=False)
    make_replicaset(api_clients["a"], namespace, "v3", 1, 1)
    _wait(lambda: [s.tag for s in observer.observe(connections, namespace).replicasets] == ["v3"],
          message="only the tagged ReplicaSet")
