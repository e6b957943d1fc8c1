"""Per-tag progress notes written to status: why a tag holds, when its next step is due, which promotion
request it used (issue 13: ``picchu status`` shows what the engine decided, not a guess made by the CLI).

Neighbours: ``decide.py`` calls :func:`annotate` once per pass after ticking and allocating traffic; the
notes land in the additive status fields ``holdReason``, ``nextStepAt`` and ``promoted`` (``status.py``).

Invariant: pure; a note only changes when the tag's state, percent or blocking cause changes, so an
unchanged world still writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from picchu.release.capacity import CapacityCheck
from picchu.release.facts import Incarnation
from picchu.release.steering import pause_note

MOVING_STATES = frozenset({"deployed", "canarying", "canaried", "pendingrelease", "releasing"})
CANARY_SKIPPABLE = frozenset({"deployed", "tested", "canarying"})


def annotate(
    incs: Sequence[Incarnation],
    *,
    pre_state: Mapping[str, str],
    pre_percent: Mapping[str, int],
    step_reasons: Mapping[str, str],
    checks: Mapping[str, CapacityCheck],
    traffic_hold: str,
    now: datetime,
) -> list[str]:
    """Record used promotions, hold reasons and next-step times on every incarnation; returns the extra
    human-readable reasons of this pass (e.g. pauses) for the Progressing condition."""
    extra: list[str] = []
    for i in incs:
        e = i.entry
        request = i.promotion
        if request is not None and not i.paused and _used(i, pre_state.get(i.tag, e.state),
                                                          pre_percent.get(i.tag, 0), now):
            e.promoted = request.id
        e.hold_reason = _hold_reason(i, step_reasons, checks, traffic_hold)
        if i.paused and e.state in MOVING_STATES:
            extra.append(e.hold_reason or f"{i.tag} is paused")
        e.next_step_at = None if i.paused else _next_step(i)
    return extra


def _used(i: Incarnation, before: str, percent_before: int, now: datetime) -> bool:
    """A promotion was used when the tag stepped up, or left (or skipped) a canary it would still run."""
    e = i.entry
    if e.current_percent > percent_before and before in ("releasing", "released"):
        return True
    return before in CANARY_SKIPPABLE and e.state in ("canaried", "pendingrelease") and i.canary_ttl_pending(now)


def _hold_reason(i: Incarnation, step_reasons: Mapping[str, str], checks: Mapping[str, CapacityCheck],
                 traffic_hold: str) -> str | None:
    e = i.entry
    if i.paused and e.state in MOVING_STATES:
        note = pause_note(i.revision)
        return f"{i.tag} is paused at {e.current_percent}%" + (f" ({note})" if note else "")
    if traffic_hold and e.state in ("canarying", "releasing"):
        return f"holding traffic: {traffic_hold}"
    if i.tag in step_reasons:
        return step_reasons[i.tag]
    check = checks.get(i.tag)
    if check is not None and not check.ok and e.state in ("canarying", "releasing"):
        return f"{i.tag} waits for capacity: {check.available}/{check.required} pods ready"
    return None


def _next_step(i: Incarnation) -> datetime | None:
    e = i.entry
    target = i.target
    if e.state == "canarying" and e.canary_start is not None and target is not None and target.canary:
        return e.canary_start + timedelta(seconds=target.canary.ttl or 0)
    policy = i.policy
    if e.state == "releasing" and i.is_ramping and e.current_percent < policy.max_percent:
        return e.last_updated + policy.delay if e.last_updated is not None else None
    return None
