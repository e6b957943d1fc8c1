"""The applier's memory filed by cluster: a cluster's memories are found, replaced and forgotten on their own."""

from __future__ import annotations

from picchu.clusters.per_cluster import PerCluster


def test_a_memory_is_found_only_under_its_own_cluster() -> None:
    memory: PerCluster[str, bytes] = PerCluster()
    memory.set("a", "web", b"1")
    memory.set("b", "web", b"2")
    assert (memory.get("a", "web"), memory.get("b", "web"), memory.get("c", "web")) == (b"1", b"2", None)
    memory.set("a", "web", b"3")
    memory.pop("b", "web")
    memory.pop("c", "web")  # nothing there: no error
    assert (memory.get("a", "web"), memory.get("b", "web"), len(memory)) == (b"3", None, 1)


def test_forgetting_clusters_keeps_the_others() -> None:
    memory: PerCluster[str, bytes] = PerCluster()
    for cluster in "abc":
        memory.set(cluster, "web", cluster.encode())
        memory.set(cluster, "api", cluster.encode())
    memory.drop({"a", None, "z"})
    assert sorted(memory.items()) == [("b", "api", b"b"), ("b", "web", b"b"), ("c", "api", b"c"), ("c", "web", b"c")]


def test_memories_can_be_forgotten_while_they_are_walked() -> None:
    memory: PerCluster[int, bytes] = PerCluster()
    for key in range(100):
        memory.set("a", key, b"x")
    for _, key, _ in memory.items():
        memory.pop("a", key)
        memory.set("b", key, b"y")
    assert (len(memory), memory.get("a", 5), memory.get("b", 5)) == (100, None, b"y")
