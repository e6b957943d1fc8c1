"""The alert waker: a release whose alert starts firing gets a Revision pass at once, once per start."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from picchu import keys
from picchu.engine.alert_wake import AlertWaker, firing
from picchu.engine.delivery import DeliveryCluster
from picchu.engine.store import DeliveryStore


class Source:
    def __init__(self) -> None:
        self.now: set[tuple[str, str]] | None = set()

    def firing(self) -> set[tuple[str, str]] | None:
        return self.now


def revision(app: str, tag: str) -> dict[str, Any]:
    return {"apiVersion": keys.API_VERSION, "kind": "Revision",
            "metadata": {"name": f"{app}-{tag}", "namespace": "ns", "resourceVersion": "1",
                         "labels": {keys.LABEL_APP: app}},
            "spec": {"app": {"name": app, "tag": tag}}}


def test_newly_firing_releases_are_woken_once_and_an_unreadable_source_wakes_nothing() -> None:
    store = DeliveryStore()
    for app, tag in (("a", "v1"), ("a", "v2"), ("b", "v1")):
        store.put(revision(app, tag))
    store.mark_ready()
    source = Source()
    ctx = SimpleNamespace(alerts=source, delivery=DeliveryCluster(None, store=store),  # type: ignore[arg-type]
                          settings=SimpleNamespace(namespace="ns"))
    woken: list[tuple[str, str]] = []
    waker = AlertWaker(ctx, lambda ns, name, app: woken.append((ns, name)), interval=1)  # type: ignore[arg-type]
    assert waker.check() == 0
    source.now = {("a", "v2")}
    assert waker.check() == 1 and woken == [("ns", "a-v2")]
    assert waker.check() == 0, "still firing: no second wake-up"
    source.now = None
    assert waker.check() == 0
    source.now = {("a", "v2"), ("b", "v1")}
    assert waker.check() == 1 and woken[-1] == ("ns", "b-v1")


def test_combined_sources_union_and_sources_without_firing_are_skipped() -> None:
    one, two = Source(), Source()
    one.now, two.now = {("a", "v1")}, None
    assert firing(SimpleNamespace(sources=(one, two, object()))) == {("a", "v1")}
    assert firing(object()) is None
