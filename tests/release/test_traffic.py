"""Traffic allocation across incarnations (spec §10.4, samples §3.3 `syncer_test.go` cases).

Like Picchu's tests, the releasable list is given directly, every `releasing` contender is flagged ramping
(only the first acts as the anchor), linear +20 with no delay, canary 10 %, ample capacity.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from release_builders import T0

from picchu.release.capacity import ScaleBounds, can_ramp_to
from picchu.release.ramp import RampPolicy
from picchu.release.traffic import Allocation, Contender, allocate

POLICY = RampPolicy(strategy="linear", linear_increment=20, linear_delay=timedelta(0))


def contender(tag: str, state: str, percent: int, **kw: object) -> Contender:
    base = Contender(
        tag=tag, state=state, current_percent=percent, is_ramping=state == "releasing", has_revision=True,
        policy=POLICY, last_changed=T0, available=max(percent, 1), canary_percent=10,
    )  # fmt: skip
    return replace(base, **kw)  # type: ignore[arg-type]


def run(contenders: list[Contender], passes: int) -> list[list[int]]:
    """Allocate `passes` times, feeding each result back as the next pass's current percents."""
    history = []
    for n in range(passes):
        result = allocate(contenders, T0 + timedelta(minutes=n + 1))
        contenders = [replace(c, current_percent=result.percents[c.tag]) for c in contenders]
        history.append([c.current_percent for c in contenders])
    return history


def test_bad_addition_percents_that_do_not_add_up_are_repaired_and_the_ramp_proceeds() -> None:
    states = [("a", "canarying", 10), ("b", "canarying", 10), ("c", "releasing", 10), ("d", "releasing", 10),
              ("e", "released", 40)]  # fmt: skip
    assert run([contender(*s) for s in states], 5) == [
        [10, 10, 30, 10, 40],
        [10, 10, 50, 10, 20],
        [10, 10, 70, 10, 0],
        [10, 10, 80, 0, 0],
        [10, 10, 80, 0, 0],
    ]


def test_normal_case_the_anchor_grows_and_older_revisions_shrink() -> None:
    states = [("a", "canarying", 10), ("b", "releasing", 10), ("c", "releasing", 50), ("d", "released", 30)]
    assert run([contender(*s) for s in states], 5) == [
        [10, 30, 50, 10],
        [10, 50, 40, 0],
        [10, 70, 20, 0],
        [10, 90, 0, 0],
        [10, 90, 0, 0],
    ]


def test_illegal_states_in_the_list_only_keep_or_lose_traffic() -> None:
    states = [("a", "releasing", 10), ("b", "canaried", 10), ("c", "canarying", 10), ("d", "pendingrelease", 10),
              ("e", "releasing", 20), ("f", "released", 30), ("g", "retiring", 10)]  # fmt: skip
    assert run([contender(*s) for s in states], 5) == [
        [30, 10, 10, 10, 20, 20, 0],
        [50, 10, 10, 10, 20, 0, 0],
        [70, 10, 10, 10, 0, 0, 0],
        [90, 10, 0, 0, 0, 0, 0],
        [100, 0, 0, 0, 0, 0, 0],
    ]


def test_incomplete_scale_up_holds_the_ramp_until_enough_pods_are_available() -> None:
    bounds = ScaleBounds(min=60, max=0, has_autoscaler=False)  # Picchu's test: min = ceil(12 / 20 %)

    def new(percent: int, available: int) -> Contender:
        gate = lambda d: can_ramp_to(d, available, [], bounds, [1.0]).ok  # noqa: E731
        return contender("new", "releasing", percent, available=available, can_ramp_to=gate)

    old = contender("existing", "released", 80, is_ramping=False)
    blocked = allocate([new(20, 4), old], T0)
    assert blocked.percents == {"new": 20, "existing": 80}
    step = allocate([new(20, 24), old], T0)
    assert step.percents == {"new": 40, "existing": 60}
    step = allocate([new(40, 36), replace(old, current_percent=60)], T0)
    assert step.percents == {"new": 60, "existing": 40}


def test_superseded_revisions_pushed_to_zero_lose_eligibility() -> None:
    result = allocate([contender("new", "releasing", 90), contender("old", "released", 10)], T0)
    assert result.percents == {"new": 100, "old": 0}
    assert result.ineligible == frozenset({"old"})


def test_a_first_canary_with_no_predecessor_receives_the_leftover() -> None:
    # §17 #34 kept: with nothing else serving, all traffic must go somewhere.
    result = allocate([contender("c", "canarying", 0, available=1)], T0)
    assert result.percents == {"c": 100}


def test_a_deleted_revision_loses_its_traffic_at_once_and_the_anchor_absorbs_it() -> None:
    result = allocate(
        [contender("gone", "releasing", 50, has_revision=False), contender("old", "released", 50)], T0
    )
    assert result.percents == {"gone": 0, "old": 100}


def test_a_failing_revision_drains_while_the_previous_release_grows_back() -> None:
    result = allocate(
        [contender("old", "released", 30, is_ramping=True), contender("bad", "failing", 70)], T0
    )
    assert result.percents == {"old": 50, "bad": 50}


def test_a_tag_without_ready_pods_never_gains_traffic() -> None:
    result = allocate([contender("new", "releasing", 10, available=0), contender("old", "released", 90)], T0)
    assert result.percents == {"new": 10, "old": 90}


def test_the_leftover_skips_a_tag_without_ready_pods() -> None:
    result = allocate(
        [contender("new", "releasing", 0, available=0), contender("old", "released", 50, is_ramping=False)],
        T0,
    )
    assert result == Allocation({"new": 0, "old": 100}, frozenset(), routable=True, leftover_to="old")


def test_nothing_is_routable_when_no_tag_has_ready_pods() -> None:
    result = allocate([contender("new", "releasing", 0, available=0)], T0)
    assert not result.routable


def test_release_max_below_100_leaves_the_remainder_with_the_older_revision() -> None:
    capped = replace(POLICY, max_percent=50)
    result = run([contender("new", "releasing", 40, policy=capped), contender("old", "released", 60)], 3)
    assert result[-1] == [50, 50]


def test_the_leftover_respects_release_max_before_anyone_goes_past_it() -> None:
    # Two revisions start releasing in the same pass; the newest stops at 60 %, the other keeps the rest.
    capped = replace(POLICY, max_percent=60)
    new = contender("new", "releasing", 0, policy=capped, is_ramping=False, available=1)
    old = contender("old", "releasing", 0, is_ramping=False, available=1)
    result = allocate([new, old], T0)
    assert result.percents == {"new": 60, "old": 40}
    assert run([replace(new, is_ramping=True), old], 3)[-1] == [60, 40]
