"""The observer: tagged ReplicaSets per cluster with desired/available counts; unreachable clusters as data."""

from __future__ import annotations

from kubernetes import client

from picchu import keys
from picchu.clusters import Observer, ReplicaSetState


def make_replicaset(api: client.ApiClient, namespace: str, name: str, replicas: int, available: int,
                    *, tagged: bool = True) -> None:
    labels = {keys.LABEL_TAG: name} if tagged else {"other": name}
    apps = client.AppsV1Api(api)
    apps.create_namespaced_replica_set(namespace, {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name, "labels": labels},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}})
    apps.patch_namespaced_replica_set_status(name, namespace, {"status": {
        "replicas": available, "readyReplicas": available, "availableReplicas": available}})


def test_tagged_replicasets_are_reported_per_tag_with_desired_and_available_counts(
        connect, control_plane, api_clients, namespace):
    make_replicaset(api_clients["a"], namespace, "v1", 4, 3)
    make_replicaset(api_clients["a"], namespace, "untagged", 1, 1, tagged=False)
    make_replicaset(api_clients["b"], namespace, "v1", 2, 0)
    a = connect(control_plane.clusters["a"])
    b = connect(control_plane.clusters["b"], hot_standby=True)
    observation = Observer().observe([a, b], namespace)
    assert observation.complete
    assert sorted(observation.by_tag()["v1"], key=lambda s: s.cluster) == [
        ReplicaSetState(cluster="a", live=True, tag="v1", desired=4, available=3),
        ReplicaSetState(cluster="b", live=False, tag="v1", desired=2, available=0),
    ]
    assert set(observation.by_tag()) == {"v1"}


def test_an_unreachable_cluster_is_an_error_entry_and_the_others_are_still_observed(
        connections, control_plane, api_clients, namespace):
    make_replicaset(api_clients["a"], namespace, "v1", 2, 2)
    b = control_plane.clusters["b"]
    b.stop_apiserver()
    try:
        observation = Observer(timeout=30).observe(connections, namespace)
    finally:
        b.start_apiserver()
    assert [s.cluster for s in observation.replicasets] == ["a"]
    assert list(observation.errors) == ["b"] and "unreachable" in observation.errors["b"]
    assert b.token not in observation.errors["b"]
