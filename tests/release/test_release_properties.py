"""Properties of the decision core over random snapshots and random simulated rollouts (hypothesis).

"Ready capacity" is defined as in `picchu.release.traffic`: a tag's available pods summed over the live
clusters of the observation the pass saw. A tag with none never *gains* weight in that pass. This does
not block a first release: a revision reaches `releasing` only after `deployed`, which requires an
available pod in every live cluster, and those pods are kept until it is routed.
"""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from release_builders import T0, entry, revision, snapshot

from picchu.api.v1alpha1.revision import Revision
from picchu.release import ClusterView, Observation, ReplicaCount, Snapshot, decide
from picchu.release.ramp import RampPolicy
from picchu.release.states import STATES
from picchu.release.traffic import Contender, allocate
from picchu.simulation import Event, simulate

RELEASING = ("releasing", "released")
DRAINING = ("retiring", "deleting", "failing")
TESTS = [None, {"enabled": True, "started": False, "completed": False},
         {"enabled": True, "started": True, "completed": True, "succeeded": True}]  # fmt: skip


@st.composite
def snapshots(draw: st.DrawFn) -> Snapshot:
    n_clusters = draw(st.integers(1, 3))
    clusters = [
        ClusterView(
            f"c{k}", live=draw(st.booleans()) or k == 0, scaling_factor=draw(st.sampled_from([0.5, 1.0, 2.0]))
        )
        for k in range(n_clusters)
    ]
    unreachable = frozenset(c.name for c in clusters if draw(st.integers(0, 9)) == 0)
    revisions, status, replicas = [], [], {}
    for k in range(draw(st.integers(1, 5))):
        tag = f"v{k}"
        has_revision = draw(st.integers(0, 4)) > 0
        if has_revision:
            revisions.append(
                revision(
                    tag, git=T0 - timedelta(hours=10 - k), failed=draw(st.integers(0, 5)) == 0,
                    eligible=draw(st.booleans()), external_test=draw(st.sampled_from(TESTS)),
                    canary={"percent": 10, "ttl": 300} if draw(st.booleans()) else None, slos=True,
                    release={"scalingStrategy": draw(st.sampled_from(["linear", "geometric"]))},
                    scale={"min": draw(st.integers(0, 4)), "default": 2, "max": 8},
                )
            )  # fmt: skip
        if draw(st.integers(0, 4)) > 0 or not has_revision:
            state = draw(st.sampled_from([*STATES, "canaryingdatadog", "bogus"]))
            percent = draw(st.integers(0, 100))
            status.append(
                entry(tag, state, percent, peak=draw(st.integers(percent, 100)), eligible=draw(st.booleans()),
                      state_since=T0 - timedelta(minutes=draw(st.integers(0, 200))))
            )  # fmt: skip
        if draw(st.booleans()):
            replicas[tag] = {
                c.name: ReplicaCount(desired=draw(st.integers(0, 5)), available=draw(st.integers(0, 5)))
                for c in clusters
                if draw(st.booleans())
            }
    obs = Observation(replicas=replicas, unreachable=unreachable)
    now = T0 + timedelta(seconds=draw(st.integers(0, 3600)))
    return snapshot(revisions, status, observation=obs, clusters=clusters, now=now)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots())
def test_weights_are_whole_percents_summing_to_100_whenever_traffic_is_routed(s: Snapshot) -> None:
    d = decide(s)
    assert all(0 <= e.current_percent <= 100 and e.peak_percent >= 0 for e in d.rm_status)
    assert all(0 <= r.weight <= 100 for r in d.routes)
    releasable = [
        e for e in d.rm_status
        if e.state.current in ("canarying", *RELEASING) or (e.state.current in DRAINING and e.current_percent > 0)
    ]  # fmt: skip
    if d.sync_app and releasable:
        assert sum(r.weight for r in d.routes) == 100
        assert sum(e.current_percent for e in d.rm_status) == 100


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots())
def test_no_tag_without_ready_pods_gains_weight(s: Snapshot) -> None:
    d = decide(s)
    before = {e.tag: e.current_percent for e in s.rm_status}
    live = {c.name for c in s.live_clusters}
    for e in d.rm_status:
        available = sum(r.available for c, r in s.observation.replicas.get(e.tag, {}).items() if c in live)
        if available == 0:
            assert e.current_percent <= before.get(e.tag, 0)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots())
def test_the_decision_is_a_pure_function_of_the_snapshot(s: Snapshot) -> None:
    dumped = [e.model_dump() for e in s.rm_status], [r.model_dump() for r in s.revisions]
    assert decide(s) == decide(s)
    assert ([e.model_dump() for e in s.rm_status], [r.model_dump() for r in s.revisions]) == dumped


@given(
    st.lists(
        st.tuples(st.sampled_from(["canarying", "releasing", "released", "retiring", "failing", "deleting"]),
                  st.integers(0, 100), st.booleans(), st.integers(0, 3)),
        min_size=1, max_size=6,  # put in releasable order below (spec §8.5)
    )
)  # fmt: skip
def test_allocation_never_goes_negative_and_the_anchor_never_moves_backwards(
    rows: list[tuple[str, int, bool, int]],
) -> None:
    policy = RampPolicy(strategy="geometric", geometric_delay=timedelta(0))
    group = {"canarying": 0, "releasing": 1, "released": 1}
    rows = sorted((r for r in rows if r[0] not in DRAINING or r[1] > 0), key=lambda r: group.get(r[0], 2))
    contenders = [
        Contender(tag=f"t{k}", state=state, current_percent=p, is_ramping=state in RELEASING, has_revision=True,
                  policy=policy, last_changed=None, available=pods, canary_percent=10,
                  can_ramp_to=lambda _d, ok=ok: ok)
        for k, (state, p, ok, pods) in enumerate(rows)
    ]  # fmt: skip
    result = allocate(contenders, T0)
    assert all(0 <= p <= 100 for p in result.percents.values())
    if result.routable:
        assert sum(result.percents.values()) == 100
    anchor = next((c for c in contenders if c.is_ramping), None)
    no_canary_before = anchor is not None and all(
        c.state != "canarying" for c in contenders[: contenders.index(anchor)]
    )
    if anchor is not None and no_canary_before and anchor.current_percent <= 100:
        assert result.percents[anchor.tag] >= min(anchor.current_percent, 100) or not result.routable


@st.composite
def rollouts(draw: st.DrawFn) -> tuple[list, list[Event], timedelta]:
    count = draw(st.integers(2, 3))
    arrivals = sorted(draw(st.lists(st.integers(0, 600), min_size=count - 1, max_size=count - 1)))
    revs = [revision(f"v{k}", git=T0 + timedelta(seconds=k), scale={"min": 2, "default": 2, "max": 6},
                     release={"scalingStrategy": draw(st.sampled_from(["linear", "geometric"])),
                              "linearScaling": {"increment": 20}})
            for k in range(count)]  # fmt: skip
    events = [Event(timedelta(seconds=a), "add", f"v{k + 1}") for k, a in enumerate(arrivals)]
    victim = f"v{draw(st.integers(1, count - 1))}"
    fail_at = timedelta(seconds=draw(st.integers(0, 900)))
    events.append(Event(max(fail_at, next(e.at for e in events if e.subject == victim)), "fail", victim))
    return revs, events, timedelta(seconds=draw(st.integers(5, 60)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rollouts())
def test_simulated_rollouts_keep_the_ramp_monotonic_and_drain_a_failing_tag(
    rollout: tuple[list, list[Event], timedelta],
) -> None:
    revs, events, ready_delay = rollout
    frames = simulate(revs, events, start=T0, duration=timedelta(minutes=45), ready_delay=ready_delay)
    victim = next(e.subject for e in events if e.verb == "fail")
    fail_at = next(e.at for e in events if e.verb == "fail")
    for prev, cur in pairwise(frames):
        for tag, f in cur.tags.items():
            if tag in prev.tags and f.percent > prev.tags[tag].percent:
                assert sum(ready for ready, _ in f.pods.values()) > 0, (
                    f"{tag} gained weight without ready pods"
                )
        ramping = _ramping(prev), _ramping(cur)
        if ramping[0] == ramping[1] is not None and (ramping[0] != victim or cur.at < fail_at):
            assert cur.tags[ramping[1]].percent >= prev.tags[ramping[0]].percent
    last = frames[-1].tags[victim]
    assert (last.state, last.percent) == ("failed", 0)
    assert sum(f.percent for f in frames[-1].tags.values()) == 100


def _ramping(frame) -> str | None:  # type: ignore[no-untyped-def]
    """The newest tag that is releasing or released (tags are v0, v1, v2 from oldest to newest)."""
    tags = sorted((t for t, f in frame.tags.items() if f.state in RELEASING), reverse=True)
    return tags[0] if tags else None


@st.composite
def quiet_rollouts(draw: st.DrawFn) -> tuple[list[Revision], list[Event], tuple[ClusterView, ...], timedelta]:
    """2–4 revisions of mixed shapes (fixed or autoscaled, canary or not, linear or geometric, capped or
    not) arriving within 15 minutes, on two clusters with uneven factors; no failure."""
    revs = []
    for k in range(draw(st.integers(2, 4))):
        scale = {
            "min": draw(st.integers(1, 4)),
            "default": draw(st.integers(1, 4)),
            "max": draw(st.integers(4, 8)),
        }
        if draw(st.booleans()):
            scale["targetCPUUtilizationPercentage"] = 60
        canary = {"percent": draw(st.sampled_from([5, 10, 25])), "ttl": 60} if draw(st.booleans()) else None
        release = {"scalingStrategy": draw(st.sampled_from(["linear", "geometric"])),
                   "linearScaling": {"increment": draw(st.integers(10, 50))},
                   "max": draw(st.sampled_from([100, 100, 60]))}  # fmt: skip
        revs.append(revision(f"v{k}", git=T0 + timedelta(seconds=k), scale=scale, canary=canary,
                             slos=canary is not None, release=release))  # fmt: skip
    events = [
        Event(timedelta(seconds=draw(st.integers(0, 900))), "add", f"v{k}") for k in range(1, len(revs))
    ]
    clusters = (ClusterView("a", scaling_factor=draw(st.sampled_from([0.5, 1.0, 2.0]))), ClusterView("b"))
    return revs, events, clusters, timedelta(seconds=draw(st.integers(5, 90)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(quiet_rollouts())
def test_without_failures_the_newest_revision_always_reaches_its_release_max(
    rollout: tuple[list[Revision], list[Event], tuple[ClusterView, ...], timedelta],
) -> None:
    revs, events, clusters, ready_delay = rollout
    frames = simulate(revs, events, clusters=clusters, start=T0, duration=timedelta(minutes=40),
                      ready_delay=ready_delay)  # fmt: skip
    for frame in frames[1:]:
        assert sum(f.percent for f in frame.tags.values()) in (0, 100)
    newest = revs[-1]
    release = newest.spec.targets[0].release
    assert release is not None
    # A capped revision leaves the rest to older ones still serving; when none is left serving (say both
    # arrived together and the older one was still canarying), nobody else can carry it and it takes all.
    last = frames[-1].tags
    carriers = [t for t, f in last.items() if t != newest.tag and f.percent > 0]
    assert last[newest.tag].percent == (release.max if carriers else 100), last
