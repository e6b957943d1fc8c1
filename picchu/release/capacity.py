"""Replica arithmetic and the ramp capacity gate (spec §10.2, §10.3, §10.7).

Neighbours: ``ramp.py`` asks the gate (:func:`can_ramp_to`) before every upward step; ``decide.py`` uses
:func:`divide_replicas`, :func:`target_scale` and :func:`provision_ahead` to size each incarnation's
ReplicaSet and autoscaler per cluster.

Invariants:
* every function is total: no division by zero whatever the number of live clusters (spec §17.3); with
  no live cluster the fleet-wide totals are 0 and callers hold the ramp (``decide.py`` says why);
* floating-point evaluation order follows the spec (factor first, then count / clusters) so results are
  bit-for-bit those of Picchu (e.g. ``0.81 × 5`` → ceil 5);
* a missing ``scale.min`` is treated as 0 (spec §17.2), so the first release of a revision without a
  minimum still ramps;
* the gate never lowers its requirement below the load it must carry (capped only by the fleet total of
  ``scale.max``, spec): a revision whose pods are not there yet is provisioned ahead (:func:`provision_ahead`
  raises its autoscaler floor or ReplicaSet size for the next step) and holds, with a reason, until they
  are ready.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from picchu.release.ramp import RampPolicy, next_increment

CAPACITY_THRESHOLD = 0.9
"""Fraction of the expected replicas that must be available before a ramp step (spec §10.3)."""

#: states in which an incarnation only needs one pod per cluster (spec §10.2 divideReplicas).
SINGLE_POD_STATES = frozenset({"deploying", "deployed", "pendingrelease"})


def controller_divide(count: int, percent: int, live_clusters: int) -> int:
    """Per-cluster share of ``count`` replicas at ``percent`` traffic; at least 1."""
    factor = min(100, max(percent, 0)) / 100
    return max(1, math.ceil(factor * (count / max(live_clusters, 1))))


def expected_total_replicas(count: int, percent: int, live_factors: Sequence[float]) -> int:
    """Fleet-wide replicas expected for ``count`` at ``percent``, each live cluster × its factor.

    ``live_factors`` holds the effective scaling factor of every live cluster (0 for a cluster that runs
    this revision with zero replicas). No live cluster → 0.
    """
    if not live_factors:
        return 0
    n = math.ceil((min(100, max(percent, 0)) / 100) * count)
    per_cluster = math.ceil(n / len(live_factors))
    return sum(math.ceil(per_cluster * factor) for factor in live_factors)


@dataclass(frozen=True)
class ServingLoad:
    """What another incarnation serves right now, from the RM status as read at the start of the pass."""

    current_percent: int
    available: int
    peak_percent: int


@dataclass(frozen=True)
class ScaleBounds:
    """The fleet-wide ``target.scale`` numbers the gate needs."""

    min: int | None
    max: int
    has_autoscaler: bool
    worker: bool = False  # worker or kedaWorker: autoscaled by queue length, not by load


@dataclass(frozen=True)
class CapacityCheck:
    """Outcome of the gate, kept so status can say "v2 waits for capacity: 4/22 pods"."""

    ok: bool
    available: int
    required: int


def base_capacity(others: Iterable[ServingLoad], bounds: ScaleBounds) -> int:
    """Replicas the app needs at 100 % traffic, estimated from the incarnations serving now."""
    serving = [o for o in others if o.current_percent > 0 and o.available > 0]
    pods = sum(o.available for o in serving)
    traffic = sum(o.current_percent for o in serving)
    scale_min = bounds.min or 0
    if pods == 0 or traffic == 0:
        return scale_min
    unscaled = any(o.peak_percent == 100 and o.current_percent < 100 for o in serving)
    if unscaled:
        if bounds.has_autoscaler:
            return pods
        return scale_min if scale_min != 0 else bounds.max
    return math.ceil(pods / (traffic / 100))


def required_replicas(
    desired: int,
    others: Iterable[ServingLoad],
    bounds: ScaleBounds,
    live_factors: Sequence[float],
) -> int:
    """Available replicas this incarnation needs before serving ``desired`` percent (spec §10.3).

    Never lowered to what the revision happens to run: ramping into a load the ready pods cannot carry is
    what the gate exists to prevent. Pods are provisioned ahead instead (:func:`provision_ahead`).
    """
    base = base_capacity(others, bounds)
    required = math.ceil(CAPACITY_THRESHOLD * expected_total_replicas(base, desired, live_factors))
    if bounds.max > 0:
        required = min(required, expected_total_replicas(bounds.max, 100, live_factors))
    return required


def can_ramp_to(
    desired: int,
    available: int,
    others: Iterable[ServingLoad],
    bounds: ScaleBounds,
    live_factors: Sequence[float],
) -> CapacityCheck:
    """The capacity gate: enough available pods (summed over live clusters) for ``desired`` percent."""
    required = required_replicas(desired, others, bounds, live_factors)
    return CapacityCheck(ok=available >= required, available=available, required=required)


def divide_replicas(
    count: int,
    *,
    state: str,
    current_percent: int,
    is_ramping: bool,
    canary_percent: int,
    policy: RampPolicy,
    live_clusters: int,
) -> int:
    """Per-cluster replicas for ``count`` fleet-wide, aware of the incarnation's phase (spec §10.2)."""
    if state in SINGLE_POD_STATES:
        return 1
    if state == "canarying":
        return controller_divide(count, canary_percent, live_clusters)
    if is_ramping:
        return controller_divide(
            count, next_increment(policy, current_percent, policy.max_percent), live_clusters
        )
    return controller_divide(count, current_percent, live_clusters)


def target_scale(policy: RampPolicy, current_percent: int, is_ramping: bool) -> float:
    """Factor applied to autoscaler utilisation targets so pods exist for the next step (spec §10.2)."""
    if not is_ramping or current_percent <= 0 or current_percent >= 100:
        return 1.0
    nxt = next_increment(policy, current_percent, 100)
    if nxt <= 0:
        return 1.0
    return current_percent / nxt


def provision_ahead(
    *,
    state: str,
    current_percent: int,
    is_ramping: bool,
    policy: RampPolicy,
    others: Iterable[ServingLoad],
    bounds: ScaleBounds,
    live_factors: Sequence[float],
    canary_percent: int = 0,
) -> int:
    """Per-cluster pods to keep for the next ramp step, so the gate's requirement can be met (or 0).

    Picchu's proactive minimum (spec §10.3) raises an autoscaler's floor this way; the same number is also
    the floor of a ReplicaSet without autoscaler (written when it is created or revived from zero, §11.1).
    Capped at the per-cluster share of ``scale.max``, which also caps the requirement.
    """
    if bounds.min is None or bounds.worker:
        return 0
    if state == "canarying":
        nxt = canary_percent
    elif state in ("releasing", "released") and is_ramping:  # released: the roll-back target grows too
        nxt = next_increment(policy, current_percent, policy.max_percent)
    else:
        return 0
    if nxt <= current_percent:
        return 0
    live = len(live_factors)
    required = required_replicas(nxt, others, bounds, live_factors)
    cap = controller_divide(bounds.max, 100, live)
    per_cluster = min(controller_divide(required, 100, live), cap)
    # Each cluster multiplies by its own factor: grow until the fleet total meets the requirement (the cap
    # always does, since the requirement is capped by the same scale.max).
    while per_cluster < cap and sum(math.ceil(per_cluster * f) for f in live_factors) < required:
        per_cluster += 1
    return per_cluster
