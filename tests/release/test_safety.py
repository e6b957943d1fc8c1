"""Traffic moves only toward safety while the world is partly unknown (issue 10, item 1).

A lost cluster, an unreadable alert source or an unknown state holds every ramp, but a failing, failed or
aborted tag still sheds the traffic it would shed with the whole world known; a cluster whose last applied
weights still route to a tag keeps that tag's pods until it no longer does.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from release_builders import T0, entry, ready, revision, snapshot

from picchu.release import ClusterView, Decision, Observation, ReplicaCount, Snapshot, decide
from picchu.release.safety import (
    FAILING_STATES,
    RAMPING_RANK,
    RELEASED_RANK,
    Holder,
    kept_on_clusters,
    toward_safety,
)

AB = [ClusterView("a"), ClusterView("b")]
OLD = T0 - timedelta(days=1)


def percents(d: Decision) -> dict[str, tuple[str, int]]:
    return {e.tag: (e.state.current, e.current_percent) for e in d.rm_status}


def lost(tags: dict[str, int], cluster: str = "b", clusters: str = "ab") -> Observation:
    """`n` ready pods per tag on every cluster but `cluster`, which cannot be observed."""
    seen = [c for c in clusters if c != cluster]
    return Observation(replicas=ready(tags, seen).replicas, unreachable=frozenset({cluster}))


def test_a_failing_tag_rolls_back_with_a_cluster_unreachable_exactly_as_with_every_cluster_known() -> None:
    """The issue's example: v1 released at 60 %, v2 at 40 % marked failed, cluster b lost."""
    revisions = [revision("v1", git=OLD), revision("v2", failed=True)]
    start = [entry("v1", "released", 60, current=2), entry("v2", "releasing", 40, current=2)]
    known = decide(snapshot(revisions, start, observation=ready({"v1": 1, "v2": 1}, "ab"), clusters=AB))
    partial = decide(snapshot(revisions, start, observation=lost({"v1": 1, "v2": 1}), clusters=AB))
    assert percents(known) == percents(partial) == {"v1": ("released", 100), "v2": ("failing", 0)}
    assert partial.weights() == {"v1": 100, "v2": 0}
    assert "holding traffic: live cluster(s) b unreachable" in partial.reasons
    assert any("toward safety" in r and "v2 40% -> 0%" in r for r in partial.reasons)


def test_a_ramp_holds_while_a_cluster_is_unreachable() -> None:
    revisions = [revision("v1", git=OLD), revision("v2")]
    start = [entry("v1", "released", 60, current=2), entry("v2", "releasing", 40, current=2)]
    known = decide(snapshot(revisions, start, observation=ready({"v1": 1, "v2": 1}, "ab"), clusters=AB))
    partial = decide(snapshot(revisions, start, observation=lost({"v1": 1, "v2": 1}), clusters=AB))
    assert percents(known)["v2"][1] > 40, "with every cluster known the ramp advances"
    assert percents(partial) == {"v1": ("released", 60), "v2": ("releasing", 40)}


def test_a_failing_tag_drains_while_the_alert_source_cannot_be_read() -> None:
    revisions = [revision("v1", git=OLD), revision("v2", failed=True)]
    start = [entry("v1", "released", 70, current=2), entry("v2", "releasing", 30, current=2)]
    s = snapshot(revisions, start, observation=ready({"v1": 1, "v2": 1}))
    d = decide(Snapshot(**{**s.__dict__, "hold_traffic": "SLO alerts of v2 cannot be read"}))
    assert percents(d) == {"v1": ("released", 100), "v2": ("failing", 0)}


def test_a_failing_tag_drains_next_to_a_tag_in_an_unknown_state_which_keeps_its_traffic() -> None:
    revisions = [revision("v0", git=OLD - timedelta(days=1)), revision("v1", git=OLD), revision("v2", failed=True)]
    start = [entry("v0", "exploding", 20), entry("v1", "released", 50, current=2),
             entry("v2", "releasing", 30, current=2)]  # fmt: skip
    d = decide(snapshot(revisions, start, observation=ready({"v0": 1, "v1": 1, "v2": 1})))
    assert percents(d) == {"v0": ("exploding", 20), "v1": ("released", 80), "v2": ("failing", 0)}


def test_a_drained_failing_tag_is_retired_on_reachable_clusters_while_one_is_lost() -> None:
    revisions = [revision("v1", git=OLD), revision("v2", failed=True)]
    start = [entry("v1", "released", 100, current=2), entry("v2", "failing", 0, current=2)]
    d = decide(snapshot(revisions, start, observation=lost({"v1": 1, "v2": 1}), clusters=AB))
    plan = d.plan("v2")
    assert plan is not None and plan.state == "failed" and plan.retire
    assert d.kept == {}, "no cluster's last applied weights route to v2"


def test_a_cluster_that_still_routes_to_a_failed_tag_keeps_its_pods_until_its_routes_changed() -> None:
    """b was lost while v2 served 40 %; it answers again: routes now, pods the pass after."""
    revisions = [revision("v1", git=OLD), revision("v2", failed=True)]
    start = [entry("v1", "released", 100, current=4), entry("v2", "failed", 0, current=4)]
    applied = {"a": {"v1": 100}, "b": {"v1": 60, "v2": 40}}
    s = snapshot(revisions, start, observation=ready({"v1": 2, "v2": 2}, "ab"), clusters=AB)
    first = decide(Snapshot(**{**s.__dict__, "applied": applied}))
    assert first.weights() == {"v1": 100} and first.kept == {"b": ("v2",)}
    after = {"a": {"v1": 100}, "b": first.weights()}
    second = decide(Snapshot(**{**s.__dict__, "applied": after}))
    assert second.kept == {}


def test_shed_traffic_goes_to_a_released_tag_before_the_ramping_one() -> None:
    holders = [Holder("v3", 10, False, RAMPING_RANK), Holder("v1", 60, False, RELEASED_RANK),
               Holder("v2", 30, True)]  # fmt: skip
    moves = toward_safety(holders, {"v2": 0})
    assert moves.percents == {"v3": 10, "v1": 90, "v2": 0}


def test_a_failing_tag_keeps_its_traffic_when_no_healthy_tag_can_take_it() -> None:
    moves = toward_safety([Holder("v1", 60, False, None), Holder("v2", 40, True)], {"v2": 0})
    assert moves.percents == {"v1": 60, "v2": 40} and moves.stuck == ("v2",)


def test_kept_tags_are_those_a_cluster_still_routes_to_and_this_pass_does_not() -> None:
    applied = {"a": {"v1": 100, "v2": 0}, "b": {"v1": 60, "v2": 40}, "c": {"v2": 100}}
    assert kept_on_clusters(applied, {"v1": 100}) == {"b": ("v2",), "c": ("v2",)}
    assert kept_on_clusters(applied, {"v1": 50, "v2": 50}) == {}


# -- properties ------------------------------------------------------------------------------------------------
STATES = ["released", "releasing", "canarying", "failing", "retiring", "deleting", "deploying", "failed", "bogus"]


@st.composite
def worlds(draw: st.DrawFn) -> tuple[Snapshot, Snapshot]:
    """The same pass seen with every cluster reachable and with a random non-empty set of clusters lost
    (at least one live cluster answers: with none, nobody is known to have ready pods to take traffic).
    Every tag has the same number of ready pods on each cluster (a fleet of like clusters), and a tag that
    serves traffic has ReplicaSets (perhaps without ready pods)."""
    names = [f"c{k}" for k in range(draw(st.integers(2, 3)))]
    clusters = [ClusterView(n, live=k == 0 or draw(st.integers(0, 3)) > 0) for k, n in enumerate(names)]
    unreachable = frozenset(draw(st.sets(st.sampled_from(names), min_size=1)))
    if all(c.name in unreachable for c in clusters if c.live):
        unreachable -= {names[0]}  # with no live cluster observed, nobody is known to have ready pods
        unreachable = unreachable or frozenset(names[1:2])
    revisions, status, replicas = [], [], {}
    n_tags = draw(st.integers(1, 4))
    serving: list[int] = []
    for k in range(n_tags):
        tag = f"v{k}"
        state = draw(st.sampled_from(STATES))
        if draw(st.integers(0, 5)) > 0:
            revisions.append(revision(
                tag, git=T0 - timedelta(hours=10 - k), failed=draw(st.integers(0, 2)) == 0,
                canary={"percent": 10, "ttl": 300} if state == "canarying" else None, slos=True,
                release={"scalingStrategy": draw(st.sampled_from(["linear", "geometric"])),
                         "max": draw(st.sampled_from([100, 100, 60]))},
                scale={"min": draw(st.integers(0, 3)), "default": 2, "max": 8},
            ))  # fmt: skip
        percent = draw(st.integers(0, 100)) if state not in ("deploying", "failed") else 0
        serving.append(percent)
        status.append(entry(tag, state, percent, peak=max(percent, draw(st.integers(0, 100))),
                            last_updated=T0 - timedelta(seconds=draw(st.integers(0, 120)))))  # fmt: skip
        pods = draw(st.integers(0, 3))
        if pods or percent or draw(st.booleans()):
            replicas[tag] = {c: ReplicaCount(desired=max(pods, 1), available=pods) for c in names}
    total = sum(serving)
    if total:  # weights of a consistent world sum to 100
        scaled = [p * 100 // total for p in serving]
        scaled[serving.index(max(serving))] += 100 - sum(scaled)
        status = [e.model_copy(update={"current_percent": p, "peak_percent": max(p, e.peak_percent)})
                  for e, p in zip(status, scaled, strict=True)]  # fmt: skip
    now = T0 + timedelta(seconds=draw(st.integers(0, 30)))
    hold = draw(st.sampled_from(["", "", "SLO alerts cannot be read"]))
    known = snapshot(revisions, status, observation=Observation(replicas=replicas), clusters=clusters, now=now)
    seen = {t: {c: r for c, r in per.items() if c not in unreachable} for t, per in replicas.items()}
    partial = snapshot(revisions, status, observation=Observation(replicas=seen, unreachable=unreachable),
                       clusters=clusters, now=now)  # fmt: skip
    return (Snapshot(**{**known.__dict__, "hold_traffic": hold}),
            Snapshot(**{**partial.__dict__, "hold_traffic": hold}))  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_a_failing_tag_never_keeps_more_traffic_than_with_every_cluster_reachable(pair: tuple[Snapshot, Snapshot]) -> None:
    known, partial = (decide(s) for s in pair)
    full = {e.tag: e.current_percent for e in known.rm_status}
    before = {e.tag: e.current_percent for e in pair[1].rm_status}
    failing = [e for e in partial.rm_status if e.state.current in FAILING_STATES]
    s = pair[1]
    if any(c.live and c.name in s.observation.unreachable for c in s.clusters):
        for e in failing:  # while part of the world is unknown a failing tag only ever loses traffic
            assert e.current_percent <= before.get(e.tag, 0), (percents(partial), partial.reasons)
    if any("no healthy tag with ready pods can take it" in r for r in partial.reasons):
        return  # nowhere safer to move the traffic (only failing tags or full canaries serve): it holds, saying so
    for e in failing:
        assert e.current_percent <= full[e.tag], (percents(partial), percents(known), partial.reasons)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_ramps_never_advance_while_a_live_cluster_is_unreachable(pair: tuple[Snapshot, Snapshot]) -> None:
    s = pair[1]
    if not any(c.live and c.name in s.observation.unreachable for c in s.clusters):
        return
    d = decide(s)
    before = {e.tag: e.current_percent for e in s.rm_status}
    after = {e.tag: e.current_percent for e in d.rm_status}
    failing = {e.tag for e in d.rm_status if e.state.current in FAILING_STATES}
    if not any(before.get(t, 0) for t in failing):
        assert after == {t: before.get(t, 0) for t in after}, "with no failing tag serving, nothing moves"
        return
    gains = {t: after[t] - before.get(t, 0) for t in after if t not in failing}
    assert all(g >= 0 for g in gains.values()), f"a healthy tag never loses: {gains}"
    shed = sum(before.get(t, 0) - after[t] for t in failing)
    assert sum(gains.values()) == shed, "healthy tags gain exactly what failing tags shed, nothing more"
    assert sum(after.values()) == sum(before.get(t, 0) for t in after)
