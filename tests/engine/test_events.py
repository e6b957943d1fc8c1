"""Events as `kubectl describe` shows them: repeats are aggregated with a count, never dropped, so a state that
comes back after another one is the latest Event again (against the real delivery API server)."""

from __future__ import annotations

import time

from picchu.engine.events import NORMAL, WARNING, EventRecorder, ObjectRef
from tests.engine.conftest import Delivery


def _ref(delivery: Delivery) -> ObjectRef:
    return ObjectRef("picchu.medium.engineering/v1alpha1", "Revision", delivery.namespace, "echo-v2")


def test_a_state_that_comes_back_is_counted_again_and_becomes_the_latest_event(delivery: Delivery) -> None:
    recorder = EventRecorder(delivery.api)
    ref = _ref(delivery)
    assert recorder.emit(ref, NORMAL, "StateChanged", "v2 on production: deployed")
    assert recorder.emit(ref, WARNING, "RolledBack", "v2 on production: failed")
    assert recorder.emit(ref, NORMAL, "StateChanged", "v2 on production: deployed")  # after a retry
    events = {e.message: e for e in delivery.events("echo-v2")}
    assert len(events) == 2, "the repeat updated the first Event instead of a new object"
    deployed, failed = events["v2 on production: deployed"], events["v2 on production: failed"]
    assert deployed.count == 2 and failed.count == 1 and failed.type == "Warning"
    assert deployed.last_timestamp >= failed.last_timestamp, "describe lists the retry's deployed last"


def test_a_repeat_of_the_latest_event_is_counted_but_written_at_most_once_per_interval(delivery: Delivery) -> None:
    recorder = EventRecorder(delivery.api, repeat_seconds=3600)
    ref = _ref(delivery)
    assert recorder.emit(ref, WARNING, "NoClusterInFleet", "production: no live cluster in fleet prod")
    assert not recorder.emit(ref, WARNING, "NoClusterInFleet", "production: no live cluster in fleet prod")
    [event] = delivery.events("echo-v2")
    assert event.count == 1
    recorder.repeat_seconds = 0  # the interval has passed: the accumulated count is written
    assert recorder.emit(ref, WARNING, "NoClusterInFleet", "production: no live cluster in fleet prod")
    [event] = delivery.events("echo-v2")
    assert event.count == 3


def test_an_event_not_repeated_for_forget_seconds_is_forgotten_and_a_repeat_starts_a_fresh_one(
        delivery: Delivery) -> None:
    """Memory follows recent activity: the apiserver drops an Event an hour after its last write, and so does
    the recorder (here after 1 s), so a fleet's history does not accumulate in the operator."""
    recorder = EventRecorder(delivery.api, forget_seconds=1.0)
    ref = _ref(delivery)
    assert recorder.emit(ref, NORMAL, "StateChanged", "v2 on production: deployed")
    assert recorder.remembered() == 1
    time.sleep(1.5)  # only ever longer on a loaded machine: the entry is then expired all the same
    assert recorder.remembered() == 0
    assert recorder.emit(ref, NORMAL, "StateChanged", "v2 on production: deployed")
    assert sorted(e.count for e in delivery.events("echo-v2")) == [1, 1], "a fresh Event, not a count of the old"



def test_beyond_the_limit_the_event_written_longest_ago_is_forgotten_first() -> None:
    recorder = EventRecorder(None, max_remembered=2)
    refs = [ObjectRef("picchu.medium.engineering/v1alpha1", "Revision", "ns", f"app{i}-v1", f"uid-{i}") for i in range(3)]
    for ref in refs:
        assert recorder.emit(ref, NORMAL, "StateChanged", "deployed")
    assert recorder.remembered() == 2
    assert not recorder.emit(refs[2], NORMAL, "StateChanged", "deployed"), "a remembered repeat is only counted"
    assert recorder.emit(refs[0], NORMAL, "StateChanged", "deployed"), "the oldest was forgotten: written afresh"
