"""The operator's core-group requests (`picchu.clusters.core_api`) against a real API server: the answers are
the objects a user sees with kubectl, and failures carry the HTTP status the engine decides on (404 = gone,
409 = replaced meanwhile)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from picchu.clusters import core_api


def test_secrets_are_created_read_listed_by_label_and_field_and_deleted(api_clients: dict[str, ApiClient],
                                                                      namespace: str) -> None:
    api = api_clients["delivery"]
    for name, team in (("one", "a"), ("two", "b")):
        core_api.create(api, "Secret", namespace, {"metadata": {"name": name, "labels": {"team": team}},
                                                   "type": "Opaque", "data": {"k": "dg=="}})

    read = core_api.get(api, "Secret", namespace, "one")
    assert (read["kind"], read["apiVersion"], read["data"]) == ("Secret", "v1", {"k": "dg=="})
    assert [s["metadata"]["name"] for s in core_api.list_objects(api, "Secret", namespace, label_selector="team=b")
            ] == ["two"]
    assert [s["metadata"]["name"] for s in core_api.list_objects(
        api, "Secret", namespace, field_selector="metadata.name=one")] == ["one"]

    core_api.delete(api, "Secret", namespace, "one")
    with pytest.raises(ApiException) as gone:
        core_api.get(api, "Secret", namespace, "one")
    assert gone.value.status == 404


def test_a_delete_bound_to_an_old_uid_is_refused_and_the_replacement_survives(api_clients: dict[str, ApiClient],
                                                                             namespace: str) -> None:
    api = api_clients["delivery"]
    old = core_api.create(api, "ConfigMap", namespace, {"metadata": {"name": "cfg"}, "data": {"v": "1"}})
    core_api.delete(api, "ConfigMap", namespace, "cfg")
    core_api.create(api, "ConfigMap", namespace, {"metadata": {"name": "cfg"}, "data": {"v": "2"}})

    with pytest.raises(ApiException) as refused:
        core_api.delete(api, "ConfigMap", namespace, "cfg", uid=old["metadata"]["uid"])
    assert refused.value.status == 409
    assert core_api.get(api, "ConfigMap", namespace, "cfg")["data"] == {"v": "2"}


def test_an_event_is_created_and_merge_patched(api_clients: dict[str, ApiClient], namespace: str) -> None:
    api = api_clients["delivery"]
    created = core_api.create(api, "Event", namespace, {
        "metadata": {"generateName": "app."}, "involvedObject": {"kind": "Revision", "name": "app",
                                                                 "namespace": namespace},
        "reason": "Testing", "message": "hello", "type": "Normal", "count": 1,
        "firstTimestamp": "2026-12-02T12:00:00Z", "lastTimestamp": "2026-12-02T12:00:00Z"})
    core_api.patch(api, "Event", namespace, created["metadata"]["name"], {"count": 3})

    events = core_api.list_objects(api, "Event", namespace)
    assert [(e["reason"], e["count"], e["message"]) for e in events] == [("Testing", 3, "hello")]


_PROBE = """
import sys
from kubernetes import client
import picchu.handlers.operator
from picchu.engine.delivery import DeliveryCluster
from picchu.engine.events import EventRecorder, ObjectRef

configuration = client.Configuration()
configuration.host, configuration.retries = "http://127.0.0.1:9", False  # refused at once
api = client.ApiClient(configuration)
EventRecorder(api).emit(ObjectRef("v1", "Pod", "ns", "p"), "Normal", "Probe", "hello")  # best effort: no raise
delivery = DeliveryCluster(api, timeout_seconds=2)
for call in (lambda: delivery.secret("ns", "s"), lambda: delivery.list_core("ConfigMap", "ns", None)):
    try:
        call()
    except Exception:
        pass
print(sorted(m for m in sys.modules if m.endswith(("core_v1_api", "apps_v1_api"))))
"""


def test_the_operator_never_loads_the_generated_core_api() -> None:
    """`CoreV1Api` is loaded lazily on first use and costs ~22 MiB of RSS and seconds of CPU: writing an Event
    and reading Secrets and ConfigMaps (the calls that used it) must not load it."""
    probe = _PROBE
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
