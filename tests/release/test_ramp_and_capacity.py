"""Ramp steps (spec §10.1) and replica arithmetic / capacity gate (spec §10.2, §10.3, samples §3.3)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from release_builders import T0

from picchu.release.capacity import (
    CAPACITY_THRESHOLD,
    ScaleBounds,
    ServingLoad,
    base_capacity,
    can_ramp_to,
    controller_divide,
    divide_replicas,
    expected_total_replicas,
    provision_ahead,
    required_replicas,
    target_scale,
)
from picchu.release.ramp import RampPolicy, next_increment, scale

GEOMETRIC = RampPolicy()
LINEAR20 = RampPolicy(strategy="linear", linear_increment=20, linear_delay=timedelta(0))


def test_geometric_defaults_step_through_10_20_40_80_100() -> None:
    steps, current = [], 0
    while current < 100:
        current = next_increment(GEOMETRIC, current, 100)
        steps.append(current)
    assert steps == [10, 20, 40, 80, 100]


def test_linear_default_adds_five_percent_per_step() -> None:
    policy = RampPolicy(strategy="linear")
    assert [next_increment(policy, p, 100) for p in (0, 5, 95, 100)] == [5, 10, 100, 100]


def test_release_max_caps_the_ramp() -> None:
    assert next_increment(RampPolicy(max_percent=50), 40, 100) == 50


def test_a_percent_above_the_cap_comes_straight_down() -> None:
    assert next_increment(GEOMETRIC, 80, 30) == 30
    assert scale(GEOMETRIC, 80, 30, T0, T0, lambda _: False) == 30


def test_a_zero_cap_means_zero() -> None:
    assert next_increment(GEOMETRIC, 40, 0) == 0


def test_an_unknown_strategy_never_ramps() -> None:
    assert next_increment(RampPolicy(strategy="none"), 10, 100) == 10


def test_a_step_waits_for_the_delay_since_the_last_change() -> None:
    assert scale(GEOMETRIC, 10, 100, T0, T0 + timedelta(seconds=9), lambda _: True) == 10
    assert scale(GEOMETRIC, 10, 100, T0, T0 + timedelta(seconds=10), lambda _: True) == 20


def test_a_step_waits_for_the_capacity_gate() -> None:
    assert scale(GEOMETRIC, 10, 100, T0, T0 + timedelta(minutes=1), lambda d: d <= 10) == 10


def test_controller_divide_matches_picchu_on_four_clusters() -> None:
    assert controller_divide(5, 100, 4) == 2
    assert controller_divide(5, 80, 4) == 1
    assert controller_divide(5, 81, 4) == 2


def test_controller_divide_never_divides_by_zero_and_gives_at_least_one_pod() -> None:
    assert controller_divide(5, 100, 0) == 5
    assert controller_divide(0, 0, 3) == 1


def test_expected_total_replicas_uses_each_cluster_factor() -> None:
    assert expected_total_replicas(5, 81, [1.0] * 4) == 8
    assert expected_total_replicas(5, 81, [2.0, 2.0, 3.0, 1.0]) == 16


def test_expected_total_replicas_is_zero_for_a_zero_factor_or_no_live_cluster() -> None:
    assert expected_total_replicas(5, 100, [0.0]) == 0
    assert expected_total_replicas(5, 100, []) == 0


def test_divide_replicas_provisions_the_next_geometric_step_while_ramping() -> None:
    policy = RampPolicy(geometric_delay=timedelta(0))
    got = [
        divide_replicas(30, state="releasing", current_percent=p, is_ramping=True, canary_percent=0,
                        policy=policy, live_clusters=1)
        for p in (10, 20, 40, 80)
    ]  # fmt: skip
    assert got == [6, 12, 24, 30]


def test_divide_replicas_is_one_pod_while_deploying_and_the_canary_share_while_canarying() -> None:
    kw = dict(current_percent=0, is_ramping=False, policy=GEOMETRIC, live_clusters=1)
    assert divide_replicas(30, state="deploying", canary_percent=10, **kw) == 1  # type: ignore[arg-type]
    assert divide_replicas(30, state="canarying", canary_percent=10, **kw) == 3  # type: ignore[arg-type]


@pytest.mark.parametrize("clusters,expected", [(1, 8), (2, 4), (3, 3)])
def test_fixed_size_replicas_are_split_across_live_clusters(clusters: int, expected: int) -> None:
    assert controller_divide(8, 100, clusters) == expected


@pytest.mark.parametrize("current,expected", [(0, 1.0), (10, 0.5), (90, 0.9), (100, 1.0)])
def test_target_scale_prescales_autoscaler_targets_for_the_next_linear_step(
    current: int, expected: float
) -> None:
    policy = RampPolicy(strategy="linear", linear_increment=10)
    assert target_scale(policy, current, is_ramping=True) == expected


def test_target_scale_is_neutral_when_not_ramping() -> None:
    assert target_scale(GEOMETRIC, 40, is_ramping=False) == 1.0


def test_capacity_gate_normalises_the_pods_serving_now_to_full_traffic() -> None:
    others = [ServingLoad(current_percent=90, available=36, peak_percent=90)]
    bounds = ScaleBounds(min=1, max=0, has_autoscaler=True)
    assert base_capacity(others, bounds) == 40
    assert required_replicas(30, others, bounds, [1.0]) == 11
    assert not can_ramp_to(30, 10, others, bounds, [1.0]).ok
    assert can_ramp_to(30, 11, others, bounds, [1.0]).ok


def test_capacity_gate_without_serving_revisions_uses_scale_min() -> None:
    bounds = ScaleBounds(min=60, max=0, has_autoscaler=False)
    assert required_replicas(40, [], bounds, [1.0]) == 22
    check = can_ramp_to(40, 4, [], bounds, [1.0])
    assert (check.ok, check.available, check.required) == (False, 4, 22)


def test_capacity_gate_is_capped_at_the_fleet_maximum() -> None:
    others = [ServingLoad(current_percent=10, available=100, peak_percent=10)]
    bounds = ScaleBounds(min=1, max=20, has_autoscaler=True)
    assert required_replicas(100, others, bounds, [1.0]) == 20


def test_capacity_gate_treats_a_missing_minimum_as_zero_so_a_first_release_can_ramp() -> None:
    assert can_ramp_to(10, 0, [], ScaleBounds(min=None, max=4, has_autoscaler=False), [1.0]).ok


def test_capacity_gate_after_a_rollback_uses_the_minimum_or_the_pods_of_the_autoscaled_app() -> None:
    others = [ServingLoad(current_percent=50, available=7, peak_percent=100)]  # peaked at 100, now lower
    assert base_capacity(others, ScaleBounds(min=3, max=9, has_autoscaler=False)) == 3
    assert base_capacity(others, ScaleBounds(min=0, max=9, has_autoscaler=False)) == 9
    assert base_capacity(others, ScaleBounds(min=3, max=9, has_autoscaler=True)) == 7


def _proactive(**overrides: object) -> int:
    kw: dict[str, object] = dict(
        state="releasing", current_percent=10, is_ramping=True, policy=GEOMETRIC,
        others=[ServingLoad(current_percent=90, available=27, peak_percent=90)],
        bounds=ScaleBounds(min=1, max=10, has_autoscaler=True), live_factors=[1.0],
    )  # fmt: skip
    kw.update(overrides)
    return provision_ahead(**kw)  # type: ignore[arg-type]


def test_provision_ahead_raises_the_autoscaler_floor_for_the_next_step() -> None:
    # base 30 pods at 100 %, next step 20 % → 6 expected → 0.9 × 6 → 6 pods on the one cluster
    assert _proactive() == 6


def test_provision_ahead_is_capped_by_the_per_cluster_maximum() -> None:
    assert _proactive(bounds=ScaleBounds(min=1, max=1, has_autoscaler=True)) == 1


@pytest.mark.parametrize(
    "overrides",
    [
        {"is_ramping": False},
        {"state": "retired"},
        {"state": "deploying"},
        {"bounds": ScaleBounds(min=1, max=10, has_autoscaler=True, worker=True)},
        {"bounds": ScaleBounds(min=None, max=10, has_autoscaler=True)},
    ],
)
def test_nothing_is_provisioned_ahead_outside_a_ramp(overrides: dict[str, object]) -> None:
    assert _proactive(**overrides) == 0


def test_a_replica_set_without_autoscaler_and_the_first_step_are_provisioned_too() -> None:
    assert _proactive(bounds=ScaleBounds(min=1, max=10, has_autoscaler=False)) == 6
    # from 0 % the next geometric step is 10 %: 30 at 100 % → 3 expected → ceil(2.7) = 3
    assert _proactive(current_percent=0) == 3


def test_a_canary_is_provisioned_for_its_canary_percent() -> None:
    assert _proactive(state="canarying", current_percent=0, canary_percent=20) == 6
    assert _proactive(state="canarying", current_percent=20, canary_percent=20) == 0


# (available, others' load, desired) → required: the gate never lowers its requirement to the pods the
# revision happens to run (issue example: 36 pods serve 90 %, 4 pods must not take 30 %).
GATE_TABLE = [
    (4, [ServingLoad(90, 36, 90)], 30, 11, False),
    (11, [ServingLoad(90, 36, 90)], 30, 11, True),
    (2, [ServingLoad(60, 2, 80)], 60, 3, False),
    (0, [], 10, 1, False),
    (40, [ServingLoad(90, 36, 90)], 100, 36, True),
]


@pytest.mark.parametrize(("available", "others", "desired", "required", "ok"), GATE_TABLE)
def test_the_capacity_gate_holds_until_the_ready_pods_can_carry_the_next_step(
    available: int, others: list[ServingLoad], desired: int, required: int, ok: bool
) -> None:
    check = can_ramp_to(desired, available, others, ScaleBounds(min=2, max=40, has_autoscaler=True), [1.0])
    assert (check.required, check.ok) == (required, ok)


@given(
    available=st.integers(0, 200),
    pods=st.integers(1, 200),
    serving=st.integers(1, 100),
    desired=st.integers(1, 100),
    clusters=st.integers(1, 4),
)
def test_a_passing_gate_means_the_ready_pods_carry_the_load_per_pod_as_before(
    available: int, pods: int, serving: int, desired: int, clusters: int
) -> None:
    """Property: when the gate opens, the ready pods are at least 90 % of the pods that carry the same load
    now (`pods` serve `serving` %), whatever the revision runs (scale.max is large here)."""
    others = [ServingLoad(serving, pods, serving)]
    bounds = ScaleBounds(min=1, max=10_000, has_autoscaler=True)
    check = can_ramp_to(desired, available, others, bounds, [1.0] * clusters)
    if check.ok:
        assert available >= CAPACITY_THRESHOLD * pods * desired / serving - 1e-9


@given(current=st.integers(1, 99), pods=st.integers(1, 100), serving=st.integers(1, 100))
def test_provisioning_ahead_covers_what_the_gate_will_ask_for_the_next_step(
    current: int, pods: int, serving: int
) -> None:
    """Property: pods provisioned ahead for a releasing ramp are enough to open the gate for its next step
    (so a ramp never waits for pods nobody starts), within scale.max."""
    others = [ServingLoad(serving, pods, serving)]
    bounds = ScaleBounds(min=1, max=10_000, has_autoscaler=True)
    per_cluster = provision_ahead(state="releasing", current_percent=current, is_ramping=True, policy=GEOMETRIC,
                                  others=others, bounds=bounds, live_factors=[1.0, 1.0])
    nxt = next_increment(GEOMETRIC, current, GEOMETRIC.max_percent)
    if nxt > current:
        assert can_ramp_to(nxt, per_cluster * 2, others, bounds, [1.0, 1.0]).ok
