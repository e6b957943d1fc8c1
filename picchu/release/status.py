"""Conversion between the API's ``ReleaseManagerRevisionStatus`` and the core's working :class:`Entry`,
status initialisation (spec §8.2), the once-only latency metrics (spec §15) and the final assembly with
recommissioning (spec §7.3).

Neighbours: ``decide.py`` calls these in order: :func:`read_entry` / :func:`initialise`,
:func:`record_latencies` (before the tick), :func:`assemble` (at the end).

Invariant: the input models are never mutated; :func:`write_entry` returns a new model that keeps every
field the core does not manage (unknown status keys round-trip).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from picchu.api.v1alpha1.release_manager import ReleaseManagerRevisionStatus
from picchu.release.facts import Entry, Incarnation, release_ttl
from picchu.release.snapshot import LatencyObservation
from picchu.release.states import canonical_state


def read_entry(model: ReleaseManagerRevisionStatus) -> Entry:
    metrics = model.metrics.model_dump(by_alias=True, exclude_none=True)
    return Entry(
        tag=model.tag,
        state=canonical_state(model.state.current),
        state_last_updated=model.state.last_updated,
        current_percent=model.current_percent,
        peak_percent=model.peak_percent,
        release_eligible=model.release_eligible,
        last_updated=model.last_updated,
        git_timestamp=model.git_timestamp,
        revision_timestamp=model.revision_timestamp,
        deploying_start=model.deploying_start_timestamp,
        canary_start=model.canary_start_timestamp,
        pending_release_start=model.pending_release_start_timestamp,
        release_start=model.release_start_timestamp,
        ttl=model.ttl,
        metrics={k: v for k, v in metrics.items() if isinstance(v, int)},
        scale_current=model.scale.current,
        scale_desired=model.scale.desired,
        scale_peak=model.scale.peak,
        deleted=model.deleted,
        promoted=model.promoted,
        hold_reason=model.hold_reason,
        next_step_at=model.next_step_at,
    )


def fresh_entry(tag: str, now: datetime) -> Entry:
    """A brand-new entry (spec §3.4): ``created``, percents 0, ``lastUpdated`` = now."""
    return Entry(tag=tag, state="created", state_last_updated=now, last_updated=now)


def write_entry(entry: Entry, original: ReleaseManagerRevisionStatus | None) -> ReleaseManagerRevisionStatus:
    wire: dict[str, Any] = original.model_dump(by_alias=True, exclude_none=True) if original else {}
    state: dict[str, Any] = dict(wire.get("state") or {})
    state.update(current=entry.state, target=entry.state, lastUpdated=entry.state_last_updated)
    scale: dict[str, Any] = dict(wire.get("scale") or {})
    scale.update(Current=entry.scale_current, Desired=entry.scale_desired, Peak=entry.scale_peak)
    metrics: dict[str, Any] = dict(wire.get("metrics") or {})
    metrics.update(entry.metrics)
    wire.update(
        tag=entry.tag,
        state=state,
        currentPercent=entry.current_percent,
        peakPercent=entry.peak_percent,
        releaseEligible=entry.release_eligible,
        lastUpdated=entry.last_updated,
        gitTimestamp=entry.git_timestamp,
        revisionTimestamp=entry.revision_timestamp,
        deployingStartTimestamp=entry.deploying_start,
        canaryStartTimestamp=entry.canary_start,
        pendingReleaseStartTimestamp=entry.pending_release_start,
        releaseStartTimestamp=entry.release_start,
        ttl=entry.ttl,
        metrics=metrics,
        scale=scale,
        deleted=entry.deleted,
        promoted=entry.promoted,
        holdReason=entry.hold_reason,
        nextStepAt=entry.next_step_at,
    )
    return ReleaseManagerRevisionStatus.model_validate({k: v for k, v in wire.items() if v is not None})


def initialise(inc: Incarnation, now: datetime) -> None:
    """Spec §8.2: copy eligibility, TTL and git time from the Revision while created/deploying."""
    e = inc.entry
    if e.state in ("created", "deploying"):
        if inc.revision is not None:
            e.git_timestamp = inc.revision.git_timestamp
            e.release_eligible = (
                bool(inc.target.release.eligible) if inc.target and inc.target.release else False
            )
            e.ttl = release_ttl(inc.target)
        else:
            e.release_eligible = False
    if e.revision_timestamp is None:
        e.revision_timestamp = inc.created_at or now


# metric name → (status metrics key, the Entry timestamp it measures from)
_LATENCIES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "created": (("picchu_git_create_latency", "gitCreateSecondsInt", "git"),),
    "deployed": (
        ("picchu_git_deploy_latency", "gitDeploySecondsInt", "git"),
        ("picchu_revision_deploy_latency", "revisionDeploySecondsInt", "revision"),
        ("picchu_deploy_latency", "deploySecondsInt", "deploying"),
    ),
    "canaried": (
        ("picchu_git_canary_latency", "gitCanarySecondsInt", "git"),
        ("picchu_revision_canary_latency", "revisionCanarySecondsInt", "revision"),
        ("picchu_canary_latency", "canarySecondsInt", "canary"),
    ),
    "pendingrelease": (
        ("picchu_git_pending_release_latency", "gitPendingReleaseSecondsInt", "git"),
        ("picchu_revision_pending_release_latency", "revisionPendingReleaseSecondsInt", "revision"),
    ),
    "released": (
        ("picchu_git_release_latency", "gitReleaseSecondsInt", "git"),
        ("picchu_revision_release_latency", "revisionReleaseSecondsInt", "revision"),
        ("picchu_release_latency", "releaseSecondsInt", "release"),
    ),
    "failed": (("picchu_revision_rollback_latency", "revisionRollbackSecondsInt", "failed_at"),),
}


def record_latencies(inc: Incarnation, now: datetime) -> list[LatencyObservation]:
    """Spec §15: observe each latency once (for the state reached last pass) and remember it in status."""
    e = inc.entry
    origins = {
        "git": e.git_timestamp or (inc.revision.git_timestamp if inc.revision else None),
        "revision": e.revision_timestamp,
        "deploying": e.deploying_start,
        "canary": e.canary_start,
        "release": e.release_start,
        "failed_at": inc.revision.failed_at if inc.revision else None,
    }
    out: list[LatencyObservation] = []
    for metric, key, origin in _LATENCIES.get(e.state, ()):
        start = origins[origin]
        if key in e.metrics or start is None:
            continue
        seconds = (now - start).total_seconds()
        e.metrics[key] = int(seconds)
        out.append(LatencyObservation(metric=metric, tag=inc.tag, seconds=seconds))
    return out


_GOOD_STATES = frozenset({"deploying", "deployed", "pendingrelease", "releasing", "released"})


def assemble(
    incarnations: Sequence[Incarnation], originals: dict[str, ReleaseManagerRevisionStatus]
) -> tuple[list[ReleaseManagerRevisionStatus], str | None]:
    """Spec §7.3: drop deleted entries whose Revision is gone; recommission the newest retired revision
    when nothing healthy serves. ``incarnations`` is newest first; returns (status oldest first, the
    recommissioned tag)."""
    kept: list[Incarnation] = []
    latest_retired: Incarnation | None = None
    good = False
    for inc in reversed(incarnations):
        e = inc.entry
        if e.state == "deleted" and inc.revision is None:
            continue
        if e.state in ("retired", "retiring"):
            latest_retired = inc
        if (
            e.state in _GOOD_STATES
            and inc.revision is not None
            and not inc.revision.is_failed
            and e.peak_percent > 0
        ):
            good = True
        kept.append(inc)
    recommissioned = None
    if not good and latest_retired is not None:
        latest_retired.entry.release_eligible = True
        latest_retired.entry.peak_percent = 100
        recommissioned = latest_retired.tag
    return [write_entry(i.entry, originals.get(i.tag)) for i in kept], recommissioned


def date_steps(
    entries: Sequence[ReleaseManagerRevisionStatus],
    before: Sequence[ReleaseManagerRevisionStatus],
    decided_at: datetime,
    applied_at: datetime,
) -> tuple[ReleaseManagerRevisionStatus, ...]:
    """Date the percent changes of a pass decided at ``decided_at`` at ``applied_at``, when every cluster
    held them: ``lastUpdated`` is where the ramp delay starts, and the delay is the least time between two
    weight changes on a cluster. Dated at the decision, a step that took long to apply would let the next one
    follow it on a cluster sooner than the delay (the kill -9 run saw 40 → 50 → 60 within 0.6 s).

    Only entries this pass stamped (percent changed, or new) are moved; ``nextStepAt`` of a ramping entry,
    derived from ``lastUpdated``, moves with it. Everything else is returned unchanged."""
    shift = applied_at - decided_at
    old = {e.tag: e for e in before}
    dated = []
    for entry in entries:
        previous = old.get(entry.tag)
        stamped = entry.last_updated == decided_at and (
            previous is None or previous.current_percent != entry.current_percent)
        if stamped and shift > timedelta(0):
            update: dict[str, Any] = {"last_updated": applied_at}
            if entry.next_step_at is not None and entry.state.current == "releasing":
                update["next_step_at"] = entry.next_step_at + shift
            entry = entry.model_copy(update=update)
        dated.append(entry)
    return tuple(dated)
