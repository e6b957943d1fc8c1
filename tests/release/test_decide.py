"""One pass and many passes of `decide`: the contract the engine relies on (spec §7–§10, §14, §15)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from release_builders import T0, entry, ready, revision, snapshot

from picchu.api.v1alpha1.release_manager import ReleaseManagerRevisionStatus
from picchu.api.v1alpha1.revision import Revision
from picchu.release import ClusterView, Decision, Observation, ReplicaCount, decide

PERIOD = timedelta(seconds=15)


def run(
    revisions: Sequence[Revision],
    status: Sequence[ReleaseManagerRevisionStatus],
    passes: int,
    observe: Callable[[int], Observation],
    clusters: Sequence[ClusterView] | None = None,
) -> list[Decision]:
    decisions = []
    for n in range(passes):
        d = decide(
            snapshot(revisions, status, observation=observe(n), now=T0 + PERIOD * n, clusters=clusters)
        )
        status = d.rm_status
        decisions.append(d)
    return decisions


def states_of(d: Decision) -> dict[str, tuple[str, int]]:
    return {e.tag: (e.state.current, e.current_percent) for e in d.rm_status}


def test_a_first_revision_is_deployed_released_and_reaches_100_percent() -> None:
    decisions = run([revision("v1")], [], 6, lambda n: ready({"v1": 1}) if n else Observation())
    assert [states_of(d)["v1"] for d in decisions] == [
        ("deploying", 0),
        ("deployed", 0),
        ("pendingrelease", 0),
        ("releasing", 100),
        ("released", 100),
        ("released", 100),
    ]
    assert decisions[1].plan("v1").sync  # type: ignore[union-attr]


def test_a_second_revision_ramps_geometrically_while_the_first_drops() -> None:
    v1, v2 = revision("v1", git=T0 - timedelta(days=1)), revision("v2")
    start = [entry("v1", "released", 100, current=1, desired=1)]
    decisions = run([v1, v2], start, 12, lambda n: ready({"v1": 1, "v2": 1}))
    v2_percents = [states_of(d)["v2"][1] for d in decisions]
    v1_percents = [states_of(d)["v1"][1] for d in decisions]
    assert [p for p in v2_percents if p][:6] == [10, 20, 40, 80, 100, 100]
    assert all(a + b == 100 for a, b in zip(v1_percents, v2_percents, strict=True))
    assert states_of(decisions[-1]) == {"v1": ("retired", 0), "v2": ("released", 100)}
    assert decisions[-2].plan("v1").retire  # type: ignore[union-attr]


def test_a_failed_revision_hands_its_traffic_back_to_the_previous_release() -> None:
    v1 = revision("v1", git=T0 - timedelta(days=1))
    v2 = revision("v2", failed=True)
    start = [
        entry("v1", "released", 60, peak=100, current=2, desired=2),
        entry("v2", "releasing", 40, current=2),
    ]
    decisions = run([v1, v2], start, 6, lambda n: ready({"v1": 2, "v2": 2}))
    assert [states_of(d)["v2"] for d in decisions] == [
        ("failing", 0),
        ("failed", 0),
        ("failed", 0),
        ("failed", 0),
        ("failed", 0),
        ("failed", 0),
    ]
    assert states_of(decisions[0])["v1"] == ("released", 100)
    assert decisions[1].plan("v2").retire and decisions[1].plan("v2").delete_canary_rules  # type: ignore[union-attr]


def test_a_retired_revision_is_recommissioned_when_nothing_healthy_serves() -> None:
    v1 = revision("v1", git=T0 - timedelta(days=1))
    v2 = revision(
        "v2",
        failed=True,
        annotations={"picchu.medium.engineering/failed-at-timestamp": "2026-03-04T17:00:00Z"},
    )
    start = [entry("v1", "retired", 0, peak=100, eligible=False), entry("v2", "released", 100, current=1)]
    d = decide(snapshot([v1, v2], start, observation=ready({"v2": 1})))
    v1_entry = next(e for e in d.rm_status if e.tag == "v1")
    assert v1_entry.release_eligible and v1_entry.peak_percent == 100
    assert states_of(d)["v2"] == ("failing", 100)  # keeps serving until v1 is back
    assert "nothing healthy serves: recommissioning v1" in d.reasons


def test_a_deleted_revision_drains_and_its_entry_disappears() -> None:
    v2 = revision("v2")
    start = [entry("v1", "retired", 0), entry("v2", "released", 100, current=1)]
    decisions = run([v2], start, 3, lambda n: ready({"v2": 1, "v1": 0}))
    # the pass that reaches `deleted` deletes the resources and drops the entry (spec §7.3, §9.7)
    assert [states_of(d).get("v1") for d in decisions] == [("deleting", 0), None, None]
    assert decisions[1].plan("v1").delete  # type: ignore[union-attr]


def test_the_fleet_without_a_live_cluster_holds_and_says_why() -> None:
    start = (entry("v1", "released", 100),)
    d = decide(snapshot([revision("v1")], start, clusters=[ClusterView("s", live=False)]))
    assert d.held and d.rm_status == start
    assert d.reasons == ("holding: no live cluster in fleet prod",)
    assert d.hold_reason == "NoClusterInFleet"


def test_the_release_manager_goes_away_when_no_revision_is_left() -> None:
    d = decide(snapshot([], [entry("v1", "deleted")]))
    assert d.delete_release_manager and d.rm_status == ()


def test_an_unreachable_cluster_holds_weights_readiness_and_timeouts() -> None:
    v1, v2 = revision("v1", git=T0 - timedelta(days=1)), revision("v2")
    start = [
        entry("v1", "released", 80, current=2),
        entry("v2", "releasing", 20, current=2),
        entry("v3", "deploying", 0, state_since=T0 - timedelta(hours=1)),
    ]
    obs = Observation(
        replicas={"v1": {"a": ReplicaCount(1, 1)}, "v2": {"a": ReplicaCount(1, 1)}},
        unreachable=frozenset({"b"}),
    )
    v3 = revision("v3", git=T0 + timedelta(seconds=1))
    d = decide(snapshot([v1, v2, v3], start, observation=obs, clusters=[ClusterView("a"), ClusterView("b")]))
    assert states_of(d) == {"v1": ("released", 80), "v2": ("releasing", 20), "v3": ("deploying", 0)}
    assert not d.sync_app
    assert "holding traffic: live cluster(s) b unreachable" in d.reasons
    assert d.hold_reason == "ClusterUnreachable"


def test_an_unknown_state_is_kept_reported_and_holds_the_weights() -> None:
    start = [entry("v1", "released", 60), entry("v2", "exploding", 40)]
    d = decide(snapshot([revision("v1"), revision("v2")], start, observation=ready({"v1": 1, "v2": 1})))
    assert states_of(d) == {"v1": ("released", 60), "v2": ("exploding", 40)}
    assert not d.sync_app
    assert any("unknown state 'exploding'" in r for r in d.reasons)


def test_a_legacy_datadog_canary_state_continues_as_a_canary() -> None:
    v1 = revision("v1", git=T0 - timedelta(days=1))
    v2 = revision("v2", canary={"percent": 10, "ttl": 600}, slos=True)
    start = [entry("v1", "released", 90, current=1), entry("v2", "canaryingdatadog", 10, current=1)]
    d = decide(snapshot([v1, v2], start, observation=ready({"v1": 1, "v2": 1})))
    assert states_of(d)["v2"] == ("canarying", 10)
    assert d.plan("v2").sync_canary_rules  # type: ignore[union-attr]


def test_a_ramp_waiting_for_capacity_says_how_many_pods_it_needs() -> None:
    v1 = revision("v1", git=T0 - timedelta(days=1), scale={"min": 10, "default": 10, "max": 40})
    v2 = revision("v2", scale={"min": 10, "default": 10, "max": 40})
    start = [entry("v1", "released", 90, peak=90, current=36), entry("v2", "releasing", 10, current=4)]
    d = decide(snapshot([v1, v2], start, observation=ready({"v1": 36, "v2": 4})))
    assert states_of(d)["v2"] == ("releasing", 10)
    # 36 pods serve 90 % → 40 at 100 %; 20 % of 40 = 8 expected; 90 % of that → 8 required
    assert "v2 waits for capacity: 4/8 pods ready" in d.reasons
    assert [(w.tag, w.reason, w.message) for w in d.waits] == [
        ("v2", "WaitingForCapacity", "v2 waits for capacity: 4/8 pods ready")]


def test_a_ramp_never_takes_a_load_its_ready_pods_cannot_carry_and_provisions_ahead_until_they_can() -> None:
    # Issue example: 36 pods serve 90 % (40 at 100 %); v2 runs 4 pods at 10 %. The next step (20 %) needs
    # ceil(0.9 × 8) = 8 ready pods: v2 holds at 10 % and its autoscaler floor is raised to 8 meanwhile.
    scale = {"min": 2, "default": 2, "max": 40, "targetCPUUtilizationPercentage": 50}
    v1 = revision("v1", git=T0 - timedelta(days=1), scale=scale)
    v2 = revision("v2", scale=scale)
    start = [entry("v1", "released", 90, peak=90, current=36), entry("v2", "releasing", 10, current=4)]
    held = decide(snapshot([v1, v2], start, observation=ready({"v1": 36, "v2": 4})))
    assert states_of(held)["v2"] == ("releasing", 10)
    assert "v2 waits for capacity: 4/8 pods ready" in held.reasons
    plan = held.plan("v2")
    assert plan is not None and plan.share is not None and plan.share.autoscaler_min >= 8

    grown = decide(snapshot([v1, v2], start, observation=ready({"v1": 36, "v2": 8})))
    assert states_of(grown)["v2"] == ("releasing", 20)
    assert not any("waits for capacity" in r for r in grown.reasons)


def test_replicas_follow_cluster_factors_and_standby_clusters_get_objects_without_counting() -> None:
    clusters = [ClusterView("a", scaling_factor=2.0), ClusterView("b"), ClusterView("s", live=False)]
    v1 = revision("v1", scale={"min": 2, "default": 4, "max": 8})
    d = decide(snapshot([v1], [entry("v1", "released", 100, current=4)], observation=ready({"v1": 2}, "ab"),
                        clusters=clusters))  # fmt: skip
    plan = d.plan("v1")
    assert plan is not None and plan.sync
    assert {c.cluster: c.replicas for c in plan.clusters} == {"a": 4, "b": 2, "s": 2}


def test_event_driven_revisions_get_no_pods_on_clusters_that_disable_them() -> None:
    clusters = [ClusterView("a"), ClusterView("e", disable_event_driven=True)]
    v1 = revision("v1", event_driven=True, scale={"min": 2, "default": 2, "max": 4})
    d = decide(snapshot([v1], [entry("v1", "deploying")], clusters=clusters))
    plan = d.plan("v1")
    assert plan is not None
    assert {c.cluster: c.replicas for c in plan.clusters} == {"a": 1, "e": 0}


def test_autoscaler_bounds_and_targets_are_prescaled_for_the_next_step_without_touching_the_revision() -> (
    None
):
    scale = {
        "min": 4,
        "default": 4,
        "max": 20,
        "targetCPUUtilizationPercentage": 60,
        "targetRequestsRate": "5",
    }
    v1 = revision("v1", git=T0 - timedelta(days=1), scale=scale)
    v2 = revision("v2", scale=scale)
    start = [entry("v1", "released", 60, peak=60, current=12), entry("v2", "releasing", 40, current=16)]
    d = decide(
        snapshot([v1, v2], start, observation=ready({"v1": 12, "v2": 16}), now=T0 + timedelta(minutes=2))
    )
    plan = d.plan("v2")
    assert plan is not None and plan.current_percent == 80
    # targets sized for 100 % while serving 80 %: × 0.8
    assert plan.autoscaler.cpu == 48 and plan.autoscaler.requests_rate == "4"
    # 12 pods at 60 % → 20 at 100 %; the next step needs ceil(0.9 × 20) = 18 pods: the HPA floor is raised
    assert (plan.clusters[0].autoscaler_min, plan.clusters[0].autoscaler_max) == (18, 20)
    assert v2.spec.targets[0].scale.target_cpu_utilization_percentage == 60


def test_the_first_pass_records_status_timestamps_and_latencies_once() -> None:
    d1 = decide(snapshot([revision("v1", git=T0 - timedelta(minutes=5))], []))
    [e1] = d1.rm_status
    assert e1.deploying_start_timestamp == T0 and e1.revision_timestamp is not None
    assert [(o.metric, o.seconds) for o in d1.latencies] == [("picchu_git_create_latency", 300.0)]
    d2 = decide(snapshot([revision("v1", git=T0 - timedelta(minutes=5))], d1.rm_status, now=T0 + PERIOD))
    assert d2.latencies == ()
    assert d1.entered == (("v1", "deploying"),)


def test_expired_retired_revisions_beyond_the_newest_three_are_marked_deletable() -> None:
    old = T0 - timedelta(days=30)
    revs = [revision(f"v{n}", git=old + timedelta(hours=n)) for n in range(5)] + [revision("v9")]
    status = [entry(f"v{n}", "retired", eligible=False) for n in range(5)] + [
        entry("v9", "released", 100, current=1)
    ]
    d = decide(snapshot(revs, status, observation=ready({"v9": 1})))
    assert d.deletable_tags == ("v1", "v0")


def test_routes_list_every_deployed_tag_newest_first_with_their_tag_header() -> None:
    v1 = revision("v1", git=T0 - timedelta(days=1), tag_routing_header="x-tag")
    v2 = revision("v2", tag_routing_header="x-tag")
    start = [entry("v1", "released", 100, current=1), entry("v2", "pendingrelease")]
    d = decide(snapshot([v1, v2], start, observation=ready({"v1": 1, "v2": 1})))
    assert d.sync_app
    assert [(r.tag, r.weight, r.tag_routing_header) for r in d.routes] == [
        ("v2", 10, "x-tag"),
        ("v1", 90, "x-tag"),
    ]


def test_a_tag_whose_replicasets_vanished_loses_its_traffic_at_once() -> None:
    v1, v2 = revision("v1", git=T0 - timedelta(days=1)), revision("v2")
    start = [entry("v1", "released", 50, current=1), entry("v2", "releasing", 50, current=1)]
    d = decide(snapshot([v1, v2], start, observation=ready({"v1": 1})))
    assert states_of(d)["v2"][1] == 0 and states_of(d)["v1"][1] == 100


def test_the_decision_is_a_pure_function_of_the_snapshot() -> None:
    v1, v2 = revision("v1", git=T0 - timedelta(days=1)), revision("v2")
    s = snapshot([v1, v2], [entry("v1", "released", 80, current=1), entry("v2", "releasing", 20, current=1)],
                 observation=ready({"v1": 1, "v2": 1}))  # fmt: skip
    before = [r.model_dump() for r in s.revisions], [e.model_dump() for e in s.rm_status]
    assert decide(s) == decide(s)
    assert ([r.model_dump() for r in s.revisions], [e.model_dump() for e in s.rm_status]) == before


def test_an_unreachable_standby_cluster_does_not_hold_the_release() -> None:
    v1, v2 = revision("v1", git=T0 - timedelta(days=1)), revision("v2")
    start = [entry("v1", "released", 80, current=1), entry("v2", "releasing", 20, current=1)]
    obs = Observation(replicas=ready({"v1": 1, "v2": 1}).replicas, unreachable=frozenset({"s"}))
    d = decide(
        snapshot([v1, v2], start, observation=obs, clusters=[ClusterView("a"), ClusterView("s", live=False)])
    )
    assert d.sync_app and states_of(d)["v2"] == ("releasing", 40)


def test_a_naive_now_is_refused_with_a_fix() -> None:
    import pytest

    with pytest.raises(ValueError, match="timezone-aware"):
        decide(snapshot([revision("v1")], now=T0.replace(tzinfo=None)))


def test_the_end_to_end_timeline_of_spec_section_20() -> None:
    scale = {"min": 2, "default": 2, "max": 10, "targetCPUUtilizationPercentage": 60}
    r1 = revision("t1", git=T0 - timedelta(days=1), scale=scale)
    r2 = revision("t2", scale=scale)
    status: Sequence[ReleaseManagerRevisionStatus] = [entry("t1", "released", 100, current=2, desired=2)]
    rows = []
    for n in range(12):
        pods = {"t1": 2, "t2": 2} if n >= 2 else {"t1": 2}
        d = decide(snapshot([r1, r2], status, observation=ready(pods), now=T0 + PERIOD * n))
        status = d.rm_status
        rows.append((states_of(d)["t2"], states_of(d)["t1"], d.plan("t2")))
    assert [r[0] for r in rows[:9]] == [
        ("deploying", 0),
        ("deploying", 0),
        ("deployed", 0),
        ("pendingrelease", 0),
        ("releasing", 10),
        ("releasing", 20),
        ("releasing", 40),
        ("releasing", 80),
        ("releasing", 100),
    ]
    assert [r[1][1] for r in rows[:9]] == [100, 100, 100, 100, 90, 80, 60, 20, 0]
    assert rows[9][:2] == (("released", 100), ("retiring", 0))
    assert rows[10][1] == ("retired", 0)
    second = rows[1][2]
    assert second is not None and not rows[0][2].sync and second.sync  # type: ignore[union-attr]
    # deploying: one pod per cluster, HPA pinned at its full share while the revision has no traffic
    assert [(c.replicas, c.autoscaler_min, c.autoscaler_max) for c in second.clusters] == [(1, 1, 1)]


def test_a_revision_entering_releasing_keeps_the_pods_it_is_about_to_serve_on() -> None:
    # pendingrelease is not routable (0 replicas), but the tag leaves it this pass and gets traffic.
    d = decide(snapshot([revision("v1")], [entry("v1", "pendingrelease")], observation=ready({"v1": 1})))
    plan = d.plan("v1")
    assert plan is not None and (plan.previous_state, plan.state, plan.current_percent) == (
        "pendingrelease",
        "releasing",
        100,
    )
    assert plan.share is not None and plan.share.replicas == 1
    assert [c.replicas for c in plan.clusters] == [1]


def test_a_pending_release_waiting_for_its_window_is_scaled_to_zero() -> None:
    saturday = T0 + timedelta(days=3)
    v1 = revision("v1", created=saturday, git=saturday, release={"schedule": "humane"})
    from zoneinfo import ZoneInfo

    from picchu.release import ReleaseCalendar, Settings

    la = Settings(calendar=ReleaseCalendar(zone=ZoneInfo("America/Los_Angeles")))
    d = decide(snapshot([v1], [entry("v1", "pendingrelease")], observation=ready({"v1": 1}), now=saturday,
                        settings=la))  # fmt: skip
    plan = d.plan("v1")
    assert plan is not None and plan.state == "pendingrelease" and plan.sync
    assert [c.replicas for c in plan.clusters] == [0]
    assert [(w.tag, w.reason) for w in d.waits] == [("v1", "OutsideReleaseWindow")]


def test_a_canary_holds_its_share_for_its_ttl_from_first_traffic_then_releases() -> None:
    v1 = revision("v1", git=T0 - timedelta(days=1))
    v2 = revision("v2", canary={"percent": 10, "ttl": 60}, slos=True)
    status: Sequence[ReleaseManagerRevisionStatus] = [
        entry("v1", "released", 100, current=1),
        entry("v2", "deployed"),
    ]
    seen = []
    for n in range(12):
        d = decide(snapshot([v1, v2], status, observation=ready({"v1": 1, "v2": 1}), now=T0 + PERIOD * n))
        status = d.rm_status
        seen.append(states_of(d)["v2"])
    assert seen[:7] == [
        ("canarying", 10),  # first traffic; the TTL clock starts on the next tick
        ("canarying", 10),
        ("canarying", 10),
        ("canarying", 10),
        ("canarying", 10),
        ("canaried", 0),  # 60 s after the first tick with traffic
        ("pendingrelease", 0),
    ]
    assert seen[7] == ("releasing", 10)  # ramps again from 0; peak 10 is not above the canary share
    v2_entry = next(e for e in status if e.tag == "v2")
    assert v2_entry.canary_start_timestamp == T0 + PERIOD
    assert v2_entry.pending_release_start_timestamp == T0 + PERIOD * 6


def test_an_external_test_gates_the_release_until_it_succeeds() -> None:
    pending = {"enabled": True, "started": False, "completed": False}
    passed = {"enabled": True, "started": True, "completed": True, "succeeded": True}
    status: Sequence[ReleaseManagerRevisionStatus] = [entry("v1", "deployed", current=1, desired=1)]
    d = decide(snapshot([revision("v1", external_test=pending)], status, observation=ready({"v1": 1})))
    assert states_of(d)["v1"] == ("pendingtest", 0)
    d = decide(snapshot([revision("v1", external_test=passed)], d.rm_status, observation=ready({"v1": 1})))
    assert states_of(d)["v1"] == ("tested", 0)
    d = decide(snapshot([revision("v1", external_test=passed)], d.rm_status, observation=ready({"v1": 1})))
    assert states_of(d)["v1"] == ("pendingrelease", 0)


def test_nothing_is_recommissioned_while_a_healthy_release_serves() -> None:
    start = [entry("v1", "retired", 0, eligible=False, peak=100), entry("v2", "released", 100, current=1)]
    d = decide(snapshot([revision("v1", git=T0 - timedelta(days=1)), revision("v2")], start,
                        observation=ready({"v2": 1})))  # fmt: skip
    v1 = next(e for e in d.rm_status if e.tag == "v1")
    assert not v1.release_eligible and v1.state.current == "retired"


def test_status_fields_the_core_does_not_manage_are_kept() -> None:
    start = [entry("v1", "released", 100, current=1, triggeredAlerts=["slo_burn"], futureField={"x": 1})]
    d = decide(snapshot([revision("v1")], start, observation=ready({"v1": 1})))
    wire = d.rm_status[0].model_dump(by_alias=True, exclude_none=True)
    assert wire["triggeredAlerts"] == ["slo_burn"] and wire["futureField"] == {"x": 1}
    assert wire["state"] == {
        "current": "released",
        "target": "released",
        "lastUpdated": T0 - timedelta(minutes=1),
    }


def test_a_traffic_hold_keeps_every_weight_while_states_still_advance() -> None:
    from dataclasses import replace

    v1, v2 = revision("v1", git=T0 - timedelta(days=1)), revision("v2")
    status = [entry("v1", "released", 60, current=1, desired=1), entry("v2", "releasing", 40, current=1, desired=1)]
    held = decide(replace(snapshot([v1, v2], status, observation=ready({"v1": 1, "v2": 1}), now=T0 + PERIOD),
                          hold_traffic="alert source unavailable"))
    assert states_of(held) == {"v1": ("released", 60), "v2": ("releasing", 40)}
    assert any("alert source unavailable" in r for r in held.reasons)
    free = decide(snapshot([v1, v2], status, observation=ready({"v1": 1, "v2": 1}), now=T0 + PERIOD))
    assert states_of(free)["v2"][1] == 80


def run_on_time(revisions: Sequence[Revision], status: Sequence[ReleaseManagerRevisionStatus], until: timedelta,
                observe: Callable[[int], Observation]) -> list[tuple[timedelta, Decision]]:
    """Passes timed as the engine times them: when the decision asks for one, else a period later."""
    at, passes = timedelta(0), []
    while at <= until:
        d = decide(snapshot(revisions, status, observation=observe(len(passes)), now=T0 + at))
        status = d.rm_status
        passes.append((at, d))
        at += PERIOD if d.recheck_in is None else timedelta(seconds=d.recheck_in)
    return passes


def test_a_state_change_asks_for_the_next_pass_at_once_and_an_idle_release_asks_for_none() -> None:
    passes = run_on_time([revision("v1")], [], PERIOD * 2, lambda n: ready({"v1": 1}) if n else Observation())
    released_at = next(at for at, d in passes if states_of(d)["v1"] == ("released", 100))
    assert released_at == timedelta(0)  # created → … → released without waiting for a period
    idle = [d for _, d in passes if states_of(d)["v1"] == ("released", 100)]
    assert idle[-1].recheck_in is None and len(passes) == len(idle) + 4


def test_ramp_steps_are_taken_when_their_delay_ends_not_at_the_next_period() -> None:
    v1, v2 = revision("v1", git=T0 - timedelta(days=1)), revision("v2")
    start = [entry("v1", "released", 100, current=1, desired=1), entry("v2", "pendingrelease")]
    passes = run_on_time([v1, v2], start, PERIOD * 8, lambda n: ready({"v1": 1, "v2": 1}))
    steps: list[tuple[timedelta, int]] = []
    for at, d in passes:
        percent = states_of(d)["v2"][1]
        if not steps or steps[-1][1] != percent:
            steps.append((at, percent))
    assert [p for _, p in steps] == [10, 20, 40, 80, 100]
    gaps = {b[0] - a[0] for a, b in zip(steps, steps[1:], strict=False)}
    assert gaps == {timedelta(seconds=10)}  # the geometric delay, not the 15 s period
    released = next(at for at, d in passes if states_of(d)["v2"][0] == "released")
    retiring = next(at for at, d in passes if states_of(d)["v1"][0] == "retiring")
    assert released == retiring == steps[-1][0]  # the tick after the last step follows it at once


def test_a_canary_asks_for_a_pass_when_its_ttl_ends() -> None:
    v1 = revision("v1", git=T0 - timedelta(days=1))
    v2 = revision("v2", canary={"percent": 10, "ttl": 40}, slos=True)
    status = [entry("v1", "released", 100, current=1), entry("v2", "deployed")]
    passes = run_on_time([v1, v2], status, PERIOD * 6, lambda n: ready({"v1": 1, "v2": 1}))
    started = next(at for at, d in passes if next(e for e in d.rm_status if e.tag == "v2").canary_start_timestamp)
    canaried = next(at for at, d in passes if states_of(d)["v2"][0] == "canaried")
    assert canaried - started == timedelta(seconds=40)
