"""Steering by hand (issue 13): pause/resume, promote a step or all the way, and the progress notes the
engine records for `picchu status` (hold reason, next step due), all decided by the pure core."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from release_builders import T0, entry, ready, revision, snapshot

from picchu import keys
from picchu.api.v1alpha1.release_manager import ReleaseManagerRevisionStatus
from picchu.api.v1alpha1.revision import Revision
from picchu.release import Decision, Observation, decide

PERIOD = timedelta(seconds=15)
SLOW = {"scalingStrategy": "linear", "linearScaling": {"increment": 10, "delay": "10m"}}
FAST = {"scalingStrategy": "linear", "linearScaling": {"increment": 10, "delay": "1s"}}


def v1() -> Revision:
    return revision("v1", git=T0 - timedelta(days=1))


def v2(release: dict[str, object] | None = None, failed: bool = False, **annotations: str) -> Revision:
    return revision("v2", release=release or FAST, failed=failed, annotations=annotations)


def run(revisions: Sequence[Revision], status: Sequence[ReleaseManagerRevisionStatus], passes: int,
        observation: Observation | None = None, start: int = 0) -> list[Decision]:
    decisions = []
    for n in range(start, start + passes):
        d = decide(snapshot(revisions, status, observation=observation or ready({"v1": 1, "v2": 1}),
                            now=T0 + PERIOD * n))
        status = d.rm_status
        decisions.append(d)
    return decisions


def percents(d: Decision) -> dict[str, int]:
    return {e.tag: e.current_percent for e in d.rm_status}


def status_of(d: Decision, tag: str) -> ReleaseManagerRevisionStatus:
    found = next(e for e in d.rm_status if e.tag == tag)
    return found


RAMPING = [entry("v1", "released", 70, current=1, desired=1), entry("v2", "releasing", 30, current=1, desired=1)]


def test_a_paused_revision_holds_its_percent_and_says_why_then_resumes() -> None:
    paused = v2(**{keys.ANNOTATION_PAUSED: "alice: checking dashboards"})
    held = run([v1(), paused], RAMPING, 6)
    assert all(percents(d) == {"v1": 70, "v2": 30} for d in held)
    note = status_of(held[-1], "v2").hold_reason
    assert note is not None and "paused at 30%" in note and "alice" in note
    assert status_of(held[-1], "v2").next_step_at is None
    assert any("paused" in r for r in held[-1].reasons)
    resumed = run([v1(), v2()], held[-1].rm_status, 3, start=6)
    assert percents(resumed[0])["v2"] == 40
    assert status_of(resumed[-1], "v2").hold_reason is None


def test_a_paused_revision_still_rolls_back_when_it_fails() -> None:
    paused_and_failed = v2(failed=True, **{keys.ANNOTATION_PAUSED: "true"})
    decisions = run([v1(), paused_and_failed], RAMPING, 12)
    assert percents(decisions[-1]) == {"v1": 100, "v2": 0}
    assert status_of(decisions[-1], "v2").state.current == "failed"


def test_a_paused_canary_does_not_end_at_its_ttl() -> None:
    canary = revision("v2", canary={"percent": 10, "ttl": 60}, slos=True,
                      annotations={keys.ANNOTATION_PAUSED: "true"})
    start = [entry("v1", "released", 90, current=1, desired=1),
             entry("v2", "canarying", 10, current=1, desired=1, canaryStartTimestamp=T0 - timedelta(hours=1))]
    decisions = run([v1(), canary], start, 4)
    assert all(status_of(d, "v2").state.current == "canarying" and percents(d)["v2"] == 10 for d in decisions)


def test_promote_step_skips_one_ramp_delay_only() -> None:
    start = [entry("v1", "released", 70, current=1, desired=1),
             entry("v2", "releasing", 30, current=1, desired=1, last_updated=T0)]
    waiting = run([v1(), v2(SLOW)], start, 3)
    assert all(percents(d)["v2"] == 30 for d in waiting)
    assert status_of(waiting[-1], "v2").next_step_at == T0 + timedelta(minutes=10)
    promoted = run([v1(), v2(SLOW, **{keys.ANNOTATION_PROMOTE: "req-1 step"})], waiting[-1].rm_status, 4, start=3)
    assert [percents(d)["v2"] for d in promoted] == [40, 40, 40, 40]
    assert status_of(promoted[-1], "v2").promoted == "req-1"
    again = run([v1(), v2(SLOW, **{keys.ANNOTATION_PROMOTE: "req-2 step"})], promoted[-1].rm_status, 2, start=7)
    assert [percents(d)["v2"] for d in again] == [50, 50]


def test_promote_full_goes_to_release_max_in_one_step_when_capacity_allows() -> None:
    start = [entry("v1", "released", 70, current=1, desired=1),
             entry("v2", "releasing", 30, current=1, desired=1, last_updated=T0)]
    d = run([v1(), v2(SLOW, **{keys.ANNOTATION_PROMOTE: "req-1 full"})], start, 1)[0]
    assert percents(d)["v2"] == 100


def test_promote_full_still_waits_for_capacity() -> None:
    big = {"min": 10, "default": 10, "max": 10}
    old = revision("v1", git=T0 - timedelta(days=1), scale=big)
    new = revision("v2", release=SLOW, scale=big, annotations={keys.ANNOTATION_PROMOTE: "req-1 full"})
    start = [entry("v1", "released", 70, current=10, desired=10),
             entry("v2", "releasing", 30, current=3, desired=3, last_updated=T0)]
    d = run([old, new], start, 1, observation=ready({"v1": 10, "v2": 3}))[0]
    assert percents(d)["v2"] == 30
    reason = status_of(d, "v2").hold_reason
    assert reason is not None and "waits for capacity" in reason
    assert status_of(d, "v2").promoted is None  # not used yet: it will be once the pods are there
    plan = d.plan("v2")
    assert plan is not None and plan.share is not None and plan.share.replicas == 10  # pods for 100 %


def test_promote_step_ends_a_canary_before_its_ttl() -> None:
    canary = {"percent": 10, "ttl": 3600}
    start = [entry("v1", "released", 90, current=1, desired=1),
             entry("v2", "canarying", 10, current=1, desired=1, canaryStartTimestamp=T0)]
    plain = run([v1(), revision("v2", canary=canary, slos=True)], start, 2)
    assert status_of(plain[-1], "v2").state.current == "canarying"
    assert status_of(plain[-1], "v2").next_step_at == T0 + timedelta(hours=1)
    promoted = revision("v2", canary=canary, slos=True, annotations={keys.ANNOTATION_PROMOTE: "req-9 step"})
    d = run([v1(), promoted], start, 1)[0]
    assert status_of(d, "v2").state.current == "canaried"
    assert status_of(d, "v2").promoted == "req-9"


def test_a_release_window_hold_is_recorded_on_the_entry() -> None:
    humane = revision("v2", release={"schedule": "humane"})
    start = [entry("v1", "released", 100, current=1, desired=1), entry("v2", "pendingrelease", 0, current=1, desired=1)]
    saturday_night = T0 + timedelta(days=3, hours=12)
    d = decide(snapshot([v1(), humane], start, observation=ready({"v1": 1, "v2": 1}), now=saturday_night))
    reason = status_of(d, "v2").hold_reason
    assert reason is not None and "release window" in reason
