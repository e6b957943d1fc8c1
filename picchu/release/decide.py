"""One ReleaseManager pass, decided (spec §7.2 steps 4–12, §21.1): Snapshot in, Decision out.

Order inside a pass (the same as Picchu's, with a single observation):
1. hold if the fleet has no live cluster; ask for the RM's deletion if no incarnation has a Revision;
2. build incarnations (Revisions by tag, then status entries without a Revision), initialise their status
   and apply the observation (spec §8.1–§8.6); mark the ramp anchor from the states *before* the tick;
3. record once-only latencies for the state reached last pass (spec §15);
4. tick every incarnation once, newest first (``states.py``);
5. allocate traffic (``traffic.py``) unless the observation is incomplete, a state is unknown or traffic is
   held; then only failing tags shed traffic, toward safety (``safety.py``);
6. size every synced tag per cluster (``capacity.py``);
7. garbage-collect (``gc.py``) and assemble the status with recommissioning (``status.py``).

The capacity gate's "other incarnations" are the status entries at the start of the pass refreshed by this
pass's observation (Picchu used the previous pass's scale numbers). Every tag with a spec is sized for the
larger of its handler's state and its new state, and of its old and new percent: capacity before weight on
the way up, replicas shrink only after the traffic has left.

Neighbours: everything in ``picchu.release``; the engine calls :func:`decide` and applies the Decision.
Invariant: pure. No clock (``snapshot.now``), no I/O, input models untouched.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from picchu.release import capacity, gc, progress, safety, states, traffic
from picchu.release.capacity import CapacityCheck, ServingLoad
from picchu.release.facts import DEFAULT_TTL, Incarnation, apply_observation, newest_first
from picchu.release.snapshot import (
    AutoscalerTargets,
    ClusterScale,
    ClusterView,
    Decision,
    LatencyObservation,
    Route,
    Snapshot,
    TagPlan,
    Wait,
)
from picchu.release.status import assemble, fresh_entry, initialise, read_entry, record_latencies

DEPLOYED_STATES = frozenset(
    {"deployed", "pendingtest", "testing", "tested", "pendingrelease", "releasing", "released", "canarying",
     "canaried"}
)  # fmt: skip
DRAINING_STATES = frozenset({"retiring", "deleting", "failing"})


def decide(snapshot: Snapshot) -> Decision:
    """Decide one pass. The engine persists ``Decision.rm_status`` only if every plan applied."""
    s = snapshot
    if s.now.tzinfo is None:
        raise ValueError("Snapshot.now must be timezone-aware (UTC): pass datetime.now(UTC), not utcnow()")
    if not s.live_clusters:
        return Decision(
            rm_status=s.rm_status, held=True, reasons=(f"holding: no live cluster in fleet {s.fleet}",),
            hold_reason="NoClusterInFleet",
        )
    incs = _build(s)
    if not any(i.has_revision for i in incs):
        return Decision(
            delete_release_manager=True, reasons=("no Revision targets this app/target any more",)
        )
    reasons: list[str] = []
    waits: list[Wait] = []
    hold_reason = ""
    lost = sorted(c.name for c in s.live_clusters if c.name in s.observation.unreachable)
    observed_all = not lost
    if lost:
        reasons.append("holding traffic: live cluster(s) " + ", ".join(lost) + " unreachable")
        hold_reason = "ClusterUnreachable"
    if s.hold_traffic:
        reasons.append(f"holding traffic: {s.hold_traffic}")
        hold_reason = hold_reason or "AlertSourceUnavailable"
    _mark_ramping(incs)
    latencies: list[LatencyObservation] = []
    for i in incs:
        latencies.extend(record_latencies(i, s.now))
    others = {i.tag: ServingLoad(i.entry.current_percent, i.available, i.entry.peak_percent) for i in incs}
    pre_percent = {i.tag: i.entry.current_percent for i in incs}
    pre_state = {i.tag: i.entry.state for i in incs}

    tick = states.Tick(now=s.now, settings=s.settings)
    steps: dict[str, tuple[str, states.Step]] = {}
    entered: list[tuple[str, str]] = []
    unknown: list[str] = []
    step_reasons: dict[str, str] = {}
    for i in incs:
        previous = i.entry.state
        step = states.tick(i, tick)
        if step is None:
            unknown.append(i.tag)
            reasons.append(f"{i.tag}: unknown state {previous!r}; entry kept as is and traffic held")
            continue
        steps[i.tag] = (previous, step)
        if step.reason:
            reasons.append(step.reason)
            if step.state == "pendingrelease":
                waits.append(Wait(i.tag, "OutsideReleaseWindow", step.reason))
            step_reasons[i.tag] = step.reason
        if states.enter(i, step.state, s.now):
            entered.append((i.tag, step.state))

    may_route = observed_all and not unknown and not s.hold_traffic
    checks: dict[str, CapacityCheck] = {}
    sync_app, routes = _traffic(s, incs, others, may_route, reasons, waits, checks, frozenset(unknown))
    traffic_hold = s.hold_traffic or (f"live cluster(s) {', '.join(lost)} unreachable" if lost else "")
    reasons.extend(progress.annotate(incs, pre_state=pre_state, pre_percent=pre_percent, step_reasons=step_reasons,
                                     checks=checks, traffic_hold=traffic_hold, now=s.now))
    plans = tuple(_plan(s, i, steps, others, pre_percent) for i in incs)
    deletable = gc.find_garbage((_gc_entry(i) for i in incs if i.tag not in unknown), s.now)
    originals = {e.tag: e for e in s.rm_status}
    status, recommissioned = assemble(incs, originals)
    if recommissioned:
        reasons.append(f"nothing healthy serves: recommissioning {recommissioned}")
    return Decision(
        rm_status=tuple(status),
        plans=plans,
        routes=routes,
        sync_app=sync_app,
        deletable_tags=tuple(deletable),
        kept=safety.kept_on_clusters(_known_applied(s), {r.tag: r.weight for r in routes}),
        entered=tuple(entered),
        latencies=tuple(latencies),
        reasons=tuple(reasons),
        hold_reason=hold_reason,
        waits=tuple(waits),
        recheck_in=_recheck_in(incs, bool(entered) or any(i.entry.current_percent != pre_percent[i.tag]
                                                           for i in incs), s.now),
    )


def _recheck_in(incs: Sequence[Incarnation], moved: bool, now: datetime) -> float | None:
    """When time alone lets the next pass move on: at once after a state or percent change (the next tick
    may act on it: 100 % → released, 0 % behind the anchor → retiring), else when the soonest ramp delay or
    canary TTL runs out (a step held by capacity or a window waits for pods or the period)."""
    if moved:
        return 0.0
    due: list[datetime] = []
    for i in incs:
        e = i.entry
        if i.paused or not i.has_revision or e.state not in ("releasing", "canarying"):
            continue
        canary = i.target.canary if i.target is not None and e.state == "canarying" else None
        ceiling = (canary.percent or 0) if canary is not None else i.policy.max_percent
        if e.last_updated is not None and e.current_percent < min(ceiling, 100):
            due.append(e.last_updated + i.policy.delay)
        if canary is not None and canary.ttl and e.canary_start is not None:
            due.append(e.canary_start + timedelta(seconds=canary.ttl))
    later = [(d - now).total_seconds() for d in due if d > now]
    return min(later) if later else None


# -- building the collection --------------------------------------------------------------------------
def _build(s: Snapshot) -> list[Incarnation]:
    by_tag = {r.tag: r for r in s.revisions}  # a later Revision with the same tag wins (spec §8.1)
    existing = {e.tag: e for e in s.rm_status}
    incs: list[Incarnation] = []
    for tag in list(by_tag) + [t for t in existing if t not in by_tag]:
        revision = by_tag.get(tag)
        model = existing.get(tag)
        entry = read_entry(model) if model is not None else fresh_entry(tag, s.now)
        target = revision.target(s.target) if revision is not None else None
        inc = Incarnation(tag=tag, revision=revision, target=target, entry=entry, is_new=model is None)
        initialise(inc, s.now)
        apply_observation(inc, s.observation, s.clusters, s.now)
        incs.append(inc)
    return newest_first(incs)


def _releasable(incs: Sequence[Incarnation]) -> list[Incarnation]:
    """Spec §8.5: canarying, then releasing/released, then draining incarnations that still serve."""
    return (
        [i for i in incs if i.entry.state == "canarying"]
        + [i for i in incs if i.entry.state in ("releasing", "released")]
        + [i for i in incs if i.entry.state in DRAINING_STATES and i.entry.current_percent > 0]
    )


def _mark_ramping(incs: Sequence[Incarnation]) -> None:
    anchor = next((i for i in _releasable(incs) if i.entry.state not in ("canarying", "canaried")), None)
    if anchor is not None:
        anchor.is_ramping = True


def _live_factors(s: Snapshot, i: Incarnation) -> list[float]:
    return [_factor(c, i) for c in s.live_clusters]


def _factor(c: ClusterView, i: Incarnation) -> float:
    event_driven = i.revision is not None and bool(i.revision.spec.event_driven)
    return 0.0 if c.disable_event_driven and event_driven else c.scaling_factor


# -- traffic -----------------------------------------------------------------------------------------------
def _set_percent(i: Incarnation, p: int, now: datetime) -> None:
    e = i.entry
    if p != e.current_percent:
        e.current_percent = p
        e.last_updated = now
    e.peak_percent = max(e.peak_percent, p)


def _traffic(
    s: Snapshot,
    incs: Sequence[Incarnation],
    others: dict[str, ServingLoad],
    may_route: bool,
    reasons: list[str],
    waits: list[Wait],
    checks: dict[str, CapacityCheck],
    unknown: frozenset[str] = frozenset(),
) -> tuple[bool, tuple[Route, ...]]:
    if not any(i.entry.state in DEPLOYED_STATES or i.entry.state == "deploying" for i in incs):
        return False, ()
    releasable = _releasable(incs)
    if not may_route:
        _toward_safety(s, incs, releasable, others, reasons, unknown)
    if may_route:
        # Rollbacks never wait: while a failing tag still serves, the tags taking its traffic are not held
        # back by the capacity gate (their autoscalers are raised meanwhile; pods follow the traffic).
        rolling_back = any(i.entry.state in safety.FAILING_STATES and i.entry.current_percent > 0 for i in incs)
        contenders = [_contender(s, i, others, checks, relaxed=rolling_back) for i in releasable]
        result = traffic.allocate(contenders, s.now)
        if result.routable or not releasable:
            for i in incs:
                if i not in releasable:
                    _set_percent(i, 0, s.now)
            for i in releasable:
                _set_percent(i, result.percents[i.tag], s.now)
                if i.tag in result.ineligible:
                    i.entry.release_eligible = False
            for tag, check in checks.items():
                if not check.ok:
                    message = f"{tag} waits for capacity: {check.available}/{check.required} pods ready"
                    reasons.append(message)
                    waits.append(Wait(tag, "WaitingForCapacity", message))
        else:
            may_route = False
            reasons.append("holding traffic: no releasable tag has ready pods")
    members = [i for i in incs if i.entry.state in DEPLOYED_STATES or i in releasable]
    routes = tuple(
        Route(
            tag=i.tag,
            weight=i.entry.current_percent if i in releasable else 0,
            tag_routing_header=_header(i),
            traffic_policy=i.target.istio.traffic_policy if i.target and i.target.istio else None,
        )
        for i in members
    )
    return may_route, routes


def _toward_safety(
    s: Snapshot,
    incs: Sequence[Incarnation],
    releasable: Sequence[Incarnation],
    others: dict[str, ServingLoad],
    reasons: list[str],
    unknown: frozenset[str],
) -> None:
    """A pass that may not route (part of the world unknown): ramps hold, failing tags still shed traffic
    (``safety.py``). The full-world targets come from the usual allocation with the capacity gate relaxed,
    so a lost cluster's unknown pods never make a rollback slower than it would be with every cluster known.
    """
    failing = [i for i in incs if i.entry.state in safety.FAILING_STATES and i.tag not in unknown]
    if not any(i.entry.current_percent > 0 for i in failing):
        return
    result = traffic.allocate([_contender(s, i, others, {}, relaxed=True) for i in releasable], s.now)
    # A failing tag never gains while part of the world is unknown: the relaxed allocation is only a bound.
    targets = {i.tag: 0 if i.available <= 0 or not result.routable
               else min(result.percents.get(i.tag, 0), i.entry.current_percent) for i in failing}  # fmt: skip
    anchor = next((i for i in releasable if i.is_ramping), None)
    holders = [safety.Holder(i.tag, i.entry.current_percent, i in failing, _rank(i, anchor, unknown),
                             targets[i.tag] if i in failing else i.policy.max_percent) for i in incs]  # fmt: skip
    moves = safety.toward_safety(holders, targets)
    by_tag = {i.tag: i for i in incs}
    for tag, _before, after in moves.moved:
        _set_percent(by_tag[tag], after, s.now)
    if moves.moved:
        reasons.append("toward safety while holding: " + ", ".join(f"{t} {b}% -> {a}%" for t, b, a in moves.moved))
    for tag in moves.stuck:
        reasons.append(f"{tag} keeps traffic: no healthy tag with ready pods can take it")


def _rank(i: Incarnation, anchor: Incarnation | None, unknown: frozenset[str]) -> int | None:
    if not i.has_revision or i.available <= 0 or i.tag in unknown:
        return None
    if i.entry.state in safety.FAILING_STATES:
        return safety.FAILING_RANK
    if i is anchor:
        return safety.RAMPING_RANK
    if i.entry.state in ("releasing", "released"):
        return safety.RELEASED_RANK
    if i.entry.state == "canarying":
        return safety.CANARY_RANK
    if i.entry.state in DRAINING_STATES and i.entry.current_percent > 0:
        return safety.DRAINING_RANK
    return None


def _known_applied(s: Snapshot) -> dict[str, dict[str, int]]:
    """Weights last applied per cluster of the fleet (clusters without a record are in step)."""
    names = {c.name for c in s.clusters}
    return {c: dict(w) for c, w in s.applied.items() if c in names}


def _header(i: Incarnation) -> str | None:
    if i.revision is None or not i.routable:
        return None
    return i.revision.spec.tag_routing_header or None


def _contender(
    s: Snapshot,
    i: Incarnation,
    others: dict[str, ServingLoad],
    checks: dict[str, CapacityCheck],
    relaxed: bool = False,
) -> traffic.Contender:
    loads = [load for tag, load in others.items() if tag != i.tag]
    factors = _live_factors(s, i)

    def gate(desired: int) -> bool:
        if relaxed:
            return True
        check = capacity.can_ramp_to(desired, i.available, loads, i.bounds, factors)
        checks[i.tag] = check
        return check.ok

    return traffic.Contender(
        tag=i.tag,
        state=i.entry.state,
        current_percent=i.entry.current_percent,
        is_ramping=i.is_ramping,
        has_revision=i.has_revision,
        policy=i.policy,
        last_changed=i.entry.last_updated,
        available=i.available,
        canary_percent=i.canary_percent,
        paused=i.paused,
        can_ramp_to=gate,
    )


# -- per-tag plans -----------------------------------------------------------------------------------------
def _plan(
    s: Snapshot,
    i: Incarnation,
    steps: dict[str, tuple[str, states.Step]],
    others: dict[str, ServingLoad],
    pre_percent: dict[str, int],
) -> TagPlan:
    if i.tag not in steps:
        return TagPlan(i.tag, i.entry.state, i.entry.state, i.has_revision, i.routable,
                       current_percent=i.entry.current_percent)  # fmt: skip
    previous, step = steps[i.tag]
    acts = step.actions
    sync = states.SYNC in acts and i.target is not None
    clusters: tuple[ClusterScale, ...] = ()
    share: ClusterScale | None = None
    autoscaler = AutoscalerTargets()
    if i.target is not None and not acts & {states.RETIRE, states.DELETE}:
        # Every tag with a spec is sized (the engine renders the objects it must have right now), for the
        # larger of the old and new percent: capacity before weight, shrink only after traffic left.
        percent = max(pre_percent[i.tag], i.entry.current_percent)
        share, clusters, autoscaler = _size(s, i, previous, percent, others)
    return TagPlan(
        tag=i.tag,
        previous_state=previous,
        state=step.state,
        has_revision=i.has_revision,
        routable=i.routable,
        sync=sync,
        retire=states.RETIRE in acts,
        delete=states.DELETE in acts,
        sync_canary_rules=states.SYNC_CANARY_RULES in acts,
        delete_canary_rules=states.DELETE_CANARY_RULES in acts,
        delete_tagged_service_levels=states.DELETE_TAGGED_SERVICE_LEVELS in acts,
        clusters=clusters,
        share=share,
        autoscaler=autoscaler,
        current_percent=i.entry.current_percent,
    )


def _size(
    s: Snapshot, i: Incarnation, handler_state: str, percent: int, others: dict[str, ServingLoad]
) -> tuple[ClusterScale, tuple[ClusterScale, ...], AutoscalerTargets]:
    """Spec §8.7 step 3 and §10.7: the per-cluster share before any cluster's scaling factor, the same per
    cluster with its factor applied, and the scaled autoscaler targets.

    Picchu sized a tag only in the handler's state (a sync action). The engine renders every tag every pass,
    so a tag is sized for both the state its handler ran in and the state it enters, taking the larger:
    a revision entering ``releasing`` from ``pendingrelease`` (not routable, 0 replicas) keeps the pods it
    is about to receive traffic on, and one entering ``canaried`` keeps its canary pods until the next pass.
    """
    assert i.target is not None
    shares = [_share(s, i, state, percent, others) for state in {handler_state, i.entry.state}]
    share = ClusterScale(
        cluster="",
        replicas=max(x.replicas for x in shares),
        autoscaler_min=max(x.autoscaler_min for x in shares),
        autoscaler_max=max(x.autoscaler_max for x in shares),
    )
    clusters = tuple(
        ClusterScale(
            cluster=c.name,
            replicas=math.ceil(share.replicas * _factor(c, i)),
            autoscaler_min=math.ceil(share.autoscaler_min * _factor(c, i)),
            autoscaler_max=math.ceil(share.autoscaler_max * _factor(c, i)),
        )
        for c in s.clusters
    )
    scale = i.target.scale
    ts = capacity.target_scale(i.policy, percent, i.is_ramping)
    cpu, mem = scale.target_cpu_utilization_percentage, scale.target_memory_utilization_percentage
    targets = AutoscalerTargets(
        cpu=math.floor(cpu * ts) if cpu is not None else None,
        memory=math.floor(mem * ts) if mem is not None else None,
        requests_rate=scale_quantity(scale.target_requests_rate, ts),
        scale=ts,
    )
    return share, clusters, targets


def _share(
    s: Snapshot,
    i: Incarnation,
    state: str,
    percent: int,
    others: dict[str, ServingLoad],
    ramping: bool | None = None,
) -> ClusterScale:
    """Per-cluster ReplicaSet replicas and autoscaler bounds for ``i`` in ``state`` (before factors)."""
    assert i.target is not None
    bounds, policy = i.bounds, i.policy
    is_ramping = i.is_ramping if ramping is None else ramping
    live = len(s.live_clusters)
    routable = state not in ("canaried", "pendingrelease")

    def divide(count: int) -> int:
        return capacity.divide_replicas(
            count, state=state, current_percent=percent, is_ramping=is_ramping,
            canary_percent=i.canary_percent, policy=policy, live_clusters=live,
        )  # fmt: skip

    default = i.target.scale.default or 1
    loads = [load for tag, load in others.items() if tag != i.tag]
    ahead = capacity.provision_ahead(
        state=state, current_percent=percent, is_ramping=is_ramping, policy=policy, others=loads,
        bounds=bounds, live_factors=_live_factors(s, i), canary_percent=i.canary_percent,
    )  # fmt: skip
    if bounds.has_autoscaler:
        replicas = divide(default)
    else:
        replicas = max(capacity.controller_divide(default, 100, live), ahead)
    replicas = replicas if routable else 0
    low, high = divide(bounds.min or 0), divide(bounds.max)
    if bounds.worker and not routable:
        low = high = 0
    elif percent == 0:
        low = high
    elif bounds.worker and not bounds.min:
        low = 0
    if bounds.has_autoscaler and routable:
        low = max(low, ahead)
    return ClusterScale(cluster="", replicas=replicas, autoscaler_min=low, autoscaler_max=max(high, low))


_SUFFIX = {"m": Decimal("0.001"), "": Decimal(1), "k": Decimal(10**3), "M": Decimal(10**6),
           "G": Decimal(10**9), "T": Decimal(10**12), "P": Decimal(10**15), "E": Decimal(10**18),
           "Ki": Decimal(2**10), "Mi": Decimal(2**20), "Gi": Decimal(2**30), "Ti": Decimal(2**40)}  # fmt: skip


def scale_quantity(quantity: str | None, factor: float) -> str | None:
    """A Kubernetes quantity × ``factor``, floored to the milli-unit (spec §10.7); None if unparseable."""
    if not quantity:
        return None
    text = quantity.strip()
    suffix = next((sx for sx in sorted(_SUFFIX, key=len, reverse=True) if sx and text.endswith(sx)), "")
    try:
        value = Decimal(text[: len(text) - len(suffix)] if suffix else text) * _SUFFIX[suffix]
    except InvalidOperation:
        return None
    milli = math.floor(value * 1000 * Decimal(repr(factor)))
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def _gc_entry(i: Incarnation) -> gc.GcEntry:
    born = i.revision.git_timestamp if i.revision is not None else None
    born = born or i.entry.git_timestamp or i.created_at or i.entry.revision_timestamp
    ttl = timedelta(seconds=i.entry.ttl) if i.entry.ttl else DEFAULT_TTL
    return gc.GcEntry(tag=i.tag, state=i.entry.state, born=born, ttl=ttl, has_revision=i.has_revision)
