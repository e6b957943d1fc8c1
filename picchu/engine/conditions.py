"""Status conditions in the standard Kubernetes shape, so `kubectl describe` and `kubectl wait` work.

`merge` keeps `lastTransitionTime` when a condition's status did not change, which keeps a pass over an
unchanged world from rewriting status (a status write with identical content is skipped by the caller).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Condition:
    type: str
    status: bool
    reason: str
    message: str


def merge(existing: list[dict[str, Any]] | None, updates: list[Condition], now: datetime) -> list[dict[str, Any]]:
    by_type = {c.get("type"): dict(c) for c in (existing or []) if isinstance(c, dict)}
    for cond in updates:
        status = "True" if cond.status else "False"
        old = by_type.get(cond.type)
        changed = old is None or old.get("status") != status
        by_type[cond.type] = {
            "type": cond.type,
            "status": status,
            "reason": cond.reason,
            "message": cond.message,
            "lastTransitionTime": now.strftime("%Y-%m-%dT%H:%M:%SZ")
            if changed
            else old.get("lastTransitionTime") if old else None,
        }
    return [by_type[k] for k in sorted(by_type, key=str)]


# -- a Revision's summary conditions -------------------------------------------------------------------------
# `Released`, `Progressing` and `Failed` follow the Kubernetes API conventions (`kubectl wait
# --for=condition=Released revision/NAME`, `picchu wait`): exactly one of Released=True, Failed=True or
# Progressing=True describes a Revision that is getting somewhere; Progressing=False with a reason names what
# blocks it (NoClusterInFleet, ClusterUnreachable, AlertsFiring, ...). Derived from what the Revision pass
# reads anyway: the target statuses, each ReleaseManager's conditions and per-tag `waiting` notes.

RELEASED = "Released"
PROGRESSING = "Progressing"
FAILED = "Failed"
FAILED_STATES = frozenset({"failing", "failed", "timingout"})
RETIRED_STATES = frozenset({"retiring", "retired", "deleting", "deleted"})
# Progressing=False reasons: something outside the rollout must change before it moves again.
# AlertsFiring is not one: below the acceptance percentage firing alerts fail the Revision, above it (or with
# ignoreSLOs) the ramp goes on, so it is reported with Progressing=True.
BLOCKED_REASONS = frozenset({"NoClusterInFleet", "ClusterUnreachable", "AlertSourceUnavailable"})


@dataclass(frozen=True)
class TargetView:
    """What the Revision pass knows about one of its targets."""

    name: str
    state: str
    current_percent: int
    ready: int
    desired: int
    release_eligible: bool
    has_entry: bool
    rm_conditions: tuple[dict[str, Any], ...] = ()
    waiting: dict[str, Any] | None = None


def _rm_condition(view: TargetView, kind: str) -> dict[str, Any] | None:
    return next((c for c in view.rm_conditions if c.get("type") == kind), None)


def target_progress(view: TargetView) -> tuple[bool, str, str]:
    """(still progressing, reason, message) for one target."""
    name = view.name
    synced = _rm_condition(view, "ClustersSynced")
    if synced is not None and synced.get("status") == "False":
        return False, "ClusterUnreachable", f"{name}: {synced.get('message', '')}"
    rm_progress = _rm_condition(view, "Progressing")
    if rm_progress is not None and rm_progress.get("reason") in BLOCKED_REASONS:
        return False, str(rm_progress["reason"]), f"{name}: {rm_progress.get('message', '')}"
    if not view.has_entry:
        return True, "Pending", f"{name}: waiting for the ReleaseManager to pick up the revision"
    state = view.state
    if state in FAILED_STATES:
        return False, "Failed", f"{name}: {state}"
    if state == "released":
        return False, "Released", f"{name}: released at {view.current_percent}%"
    if state in RETIRED_STATES:
        return False, "Retired", f"{name}: {state}"
    if view.waiting and view.waiting.get("reason"):
        return True, str(view.waiting["reason"]), f"{name}: {view.waiting.get('message', '')}"
    if state in ("created", "deploying"):
        if view.desired:
            return True, "WaitingForPods", f"{name}: WaitingForPods {view.ready}/{view.desired} pods ready"
        return True, "WaitingForPods", f"{name}: WaitingForPods, no ReplicaSet observed yet"
    if state == "pendingrelease":  # the core notes OutsideReleaseWindow when the schedule holds it
        return True, "PendingRelease", f"{name}: deployed, the release starts next"
    if state == "releasing":
        return True, "Releasing", f"{name}: releasing at {view.current_percent}%"
    if state in ("canarying", "canaried"):
        return True, "Canarying", f"{name}: {state} at {view.current_percent}%"
    if state in ("pendingtest", "testing", "tested"):
        return True, "Testing", f"{name}: {state}"
    if state == "deployed" and not view.release_eligible:
        return False, "Deployed", f"{name}: deployed, not release-eligible"
    if state == "deployed":
        return True, "Deployed", f"{name}: deployed, the release starts next"
    return True, "Deploying", f"{name}: {state}"


def revision_conditions(views: list[TargetView], marked_failed: bool, failure_reason: str,
                        alerts: Condition | None, failure_message: str = "") -> list[Condition]:
    """Released, Progressing and Failed for a Revision (see the comment above). `failure_reason` and
    `failure_message` say why it failed when the Revision pass knows (SLO alerts, timeout)."""
    progress = [target_progress(v) for v in views]
    failed_targets = [msg for (_, reason, msg) in progress if reason == "Failed"]
    failed = marked_failed or bool(failed_targets)
    if failed:
        why = failure_reason or ("TimedOut" if any(v.state == "timingout" for v in views) else "RolledBack")
        failed_cond = Condition(FAILED, True, why, failure_message or "; ".join(failed_targets)
                                or "the Revision is marked failed (spec.failed)")
    else:
        failed_cond = Condition(FAILED, False, "NotFailed", "no target failed")
    released = bool(views) and all(v.state == "released" for v in views) and not failed
    released_cond = Condition(RELEASED, released, "Released" if released else "NotReleased",
                              "; ".join(m for (_, r, m) in progress if r == "Released") if released
                              else "; ".join(m for (_, r, m) in progress if r != "Released") or "no target")
    if failed:
        progressing = Condition(PROGRESSING, False, "Failed", failed_cond.message)
    elif alerts is not None and not alerts.status and alerts.reason in BLOCKED_REASONS:
        progressing = Condition(PROGRESSING, False, alerts.reason, alerts.message)
    else:
        blocked = next(((r, m) for (p, r, m) in progress if not p and r in BLOCKED_REASONS), None)
        moving = next(((r, m) for (p, r, m) in progress if p), None)
        if blocked is not None:
            progressing = Condition(PROGRESSING, False, *blocked)
        elif moving is not None and alerts is not None and alerts.reason == "AlertsFiring":
            progressing = Condition(PROGRESSING, True, "AlertsFiring", f"{alerts.message}; {moving[1]}")
        elif moving is not None:
            progressing = Condition(PROGRESSING, True, *moving)
        elif released:
            progressing = Condition(PROGRESSING, False, "Released", released_cond.message)
        else:
            done = "; ".join(m for (_, _, m) in progress) or "no target"
            reason = progress[0][1] if progress else "NoTargets"
            progressing = Condition(PROGRESSING, False, reason, done)
    return [released_cond, progressing, failed_cond]
