"""The delivery store: newest write wins whatever the arrival order, label lists match like the apiserver's,
readers get copies, and nothing is served before the watches listed everything."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from picchu import keys
from picchu.engine.delivery import DeliveryCluster
from picchu.engine.store import DeliveryStore, matches
from picchu.testing.builders import revision_manifest


def revision(name: str, version: str, labels: dict[str, str] | None = None, **status: Any) -> dict[str, Any]:
    return {"apiVersion": keys.API_VERSION, "kind": "Revision",
            "metadata": {"name": name, "namespace": "ns", "resourceVersion": version, "labels": labels or {}},
            "status": status}


def test_an_older_event_never_replaces_a_newer_write() -> None:
    store = DeliveryStore()
    store.put(revision("r", "10", state="new"))
    store.put(revision("r", "9", state="old"))  # a watch event that was in flight while we wrote
    assert store.get("Revision", "ns", "r")["status"] == {"state": "new"}
    store.put(revision("r", "11", state="newer"))
    assert store.get("Revision", "ns", "r")["status"] == {"state": "newer"}


def test_managed_fields_are_not_kept_and_everything_else_is() -> None:
    store = DeliveryStore()
    obj = revision("r", "3", {keys.LABEL_APP: "x"}, state="s")
    obj["metadata"]["managedFields"] = [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]
    store.put(obj)
    kept = store.get("Revision", "ns", "r")
    assert "managedFields" not in kept["metadata"] and obj["metadata"]["managedFields"]  # the caller's is intact
    del obj["metadata"]["managedFields"]
    assert kept == obj


def test_lists_match_labels_and_namespace_and_readers_get_copies() -> None:
    store = DeliveryStore()
    store.put(revision("a", "1", {keys.LABEL_APP: "x", "fleet": ""}))
    store.put(revision("b", "2", {keys.LABEL_APP: "y"}))
    assert [r["metadata"]["name"] for r in store.list("Revision", "ns", {keys.LABEL_APP: "x"})] == ["a"]
    assert [r["metadata"]["name"] for r in store.list("Revision", "ns", {"fleet": ""})] == ["a"]
    assert store.list("Revision", "other", {}) == []
    assert len(store.list("Revision", None)) == 2
    store.get("Revision", "ns", "a")["status"]["edited"] = True
    assert "edited" not in store.get("Revision", "ns", "a")["status"]
    store.remove("Revision", "ns", "a")
    assert store.get("Revision", "ns", "a") is None


def test_label_matching() -> None:
    assert matches({"a": "1", "b": ""}, {"a": "1", "b": ""})
    assert not matches({"a": "2"}, {"a": "1"})
    assert not matches({}, {"a": ""})


def test_the_delivery_cluster_reads_the_store_only_once_it_is_ready() -> None:
    store = DeliveryStore()
    store.put(revision("r", "1"))

    class Asked(Exception):
        pass

    class Api:  # any request would go through it: make one fail loudly
        def __getattr__(self, name: str) -> Any:
            raise Asked(name)

    delivery = DeliveryCluster(Api(), store=store)  # type: ignore[arg-type]
    try:
        delivery.get("Revision", "ns", "r")
        raise AssertionError("read the store before the watches listed everything")
    except Asked:
        pass
    store.mark_ready()
    assert delivery.get("Revision", "ns", "r")["metadata"]["name"] == "r"
    assert delivery.get("Revision", "ns", "missing") is None
    assert [o["metadata"]["name"] for o in delivery.list("Revision", "ns")] == ["r"]


def test_a_relabelled_or_removed_object_is_listed_only_under_its_current_labels() -> None:
    store = DeliveryStore()
    store.put(revision("r", "1", {keys.LABEL_APP: "x", keys.LABEL_TARGET: "prod"}))
    store.put(revision("s", "2", {keys.LABEL_APP: "x"}))
    store.put(revision("r", "3", {keys.LABEL_APP: "y", keys.LABEL_TARGET: "prod"}))  # moved to app y

    assert [r["metadata"]["name"] for r in store.list("Revision", "ns", {keys.LABEL_APP: "x"})] == ["s"]
    assert [r["metadata"]["name"] for r in store.list("Revision", "ns", {keys.LABEL_APP: "y",
                                                                         keys.LABEL_TARGET: "prod"})] == ["r"]
    store.remove("Revision", "ns", "r")
    assert store.list("Revision", "ns", {keys.LABEL_TARGET: "prod"}) == []
    assert [r["metadata"]["name"] for r in store.list("Revision", None)] == ["s"]


def test_objects_of_a_kind_are_kept_in_a_fraction_of_their_text_and_read_back_whole() -> None:
    store = DeliveryStore()
    objects = [revision_manifest(f"app{i:03d}", "v1", namespace="ns", committed=datetime(2026, 12, 1, tzinfo=UTC))
               for i in range(200)]
    for i, obj in enumerate(objects):
        obj["metadata"]["resourceVersion"] = str(i + 1)
        store.put(obj)
    assert [store.get("Revision", "ns", o["metadata"]["name"]) for o in objects] == objects
    text = sum(len(json.dumps(o, separators=(",", ":"))) for o in objects)
    kept = sum(len(stored.deflated) for stored in store._objects["Revision"].values())
    assert kept < text / 4, f"{kept} bytes kept for {text} bytes of JSON"
