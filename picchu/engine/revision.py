"""One pass of the Revision controller (spec §6, with the §17 fixes): label, create ReleaseManagers,
aggregate status, mirror (§6.5), decide SLO/timeout failure, delete when garbage-collected.

Order of a pass: read → validate (an invalid Revision gets a `Valid=False` condition and a Warning event,
nothing else happens to it) → labels → delete if every target is marked deletable → one ReleaseManager per
target (looked up by name, labels and spec reconciled: §17 #32) → mirror when deployed (`mirror`) → alert
verdict → failure decision → one status patch, written only when its content changed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from kubernetes.client.exceptions import ApiException

from picchu import keys
from picchu.api.v1alpha1 import InvalidSpec, Revision, load_revision
from picchu.engine import conditions, mirror, steering
from picchu.engine.context import EngineContext
from picchu.engine.events import NORMAL, WARNING, ObjectRef
from picchu.logs import fields
from picchu.monitoring import AlertDecision, AlertVerdict
from picchu.notify.events import EventKind, ReleaseEvent
from picchu.outcome import Park

log = logging.getLogger(__name__)

ACCEPTANCE_PERCENTAGE = 50  # SLO failure only while the first acceptance target's peak is below this (§2.4)


def release_manager_name(app: str, target: str) -> str:
    return f"{app}-{target}"


@dataclass(frozen=True)
class FailureDecision:
    failing: bool
    reason: str = ""
    alerts: tuple[str, ...] = ()
    acceptance_target: str | None = None


def reconcile_revision(ctx: EngineContext, namespace: str, name: str) -> float | Park | None:
    """Run one pass; returns the delay before the next pass (None when the Revision is gone)."""
    period = ctx.settings.sync_period_seconds
    obj = ctx.delivery.get("Revision", namespace, name)
    if obj is None:
        return None
    meta = obj.get("metadata", {})
    if keys.LABEL_IGNORE in (meta.get("labels") or {}):  # §17 #36: honoured here too
        return period
    ref = ObjectRef.of(obj)
    try:
        revision = ctx.parsed.load(obj, load_revision)
    except InvalidSpec as exc:
        _report_invalid(ctx, obj, ref, exc)
        return Park("InvalidSpec", period)  # reported; a change to the Revision wakes it
    if _ensure_labels(ctx, obj, revision):
        # The labels choose which Revisions a ReleaseManager reads, and the store already holds the labelled
        # object: its ReleaseManagers can roll it out now, without waiting for the watch to echo the write.
        for target in revision.spec.targets:
            ctx.wake_release_manager(namespace, release_manager_name(revision.spec.app.name, target.name))
        return 0.0  # labels changed: rerun on the fresh object
    if _marked_for_deletion(obj, revision):
        ctx.delivery.delete("Revision", namespace, name)
        ctx.events.emit(ref, NORMAL, "GarbageCollected", "every target marked it deletable; deleting the Revision")
        return None
    steering.record_action(ctx, obj, revision, ref)
    rms = _sync_release_managers(ctx, namespace, revision)
    entries = {target: _entry(rm, revision.spec.app.tag) for target, rm in rms.items()}
    targets_status = [_target_status(t.name, entries.get(t.name)) for t in revision.spec.targets]
    if not revision.spec.disable_mirroring and mirror.deployed(targets_status):
        mirror.mirror_revision(ctx, obj, revision)  # §6.5; failures are counted and reported, never raised
    decision, alert_condition = _decide_failure(ctx, revision, targets_status, entries)
    app, tag = revision.spec.app.name, revision.spec.app.tag
    if decision.failing:
        _fail(ctx, obj, revision, decision, ref)
    ctx.metrics.revision_failed.labels(app, tag).set(1 if decision.failing else 0)
    now = ctx.clock()
    old_conditions = (obj.get("status") or {}).get("conditions")
    reason, message = _failure(decision, old_conditions)
    summary = conditions.revision_conditions(
        _target_views(revision, targets_status, rms), bool(obj.get("spec", {}).get("failed")) or decision.failing,
        reason, alert_condition, message)
    status = {
        "sentry": {"release": False},
        "targets": targets_status,
        "conditions": conditions.merge(
            old_conditions,
            [conditions.Condition("Valid", True, "Valid", "the Revision passed validation"), alert_condition,
             *summary],
            now,
        ),
    }
    if status != _comparable(obj.get("status")):
        ctx.delivery.patch_status("Revision", namespace, name, status)
        _announce(ctx, ref, old_conditions, summary, fields(app=app, tag=tag))
    elif _blocked(summary):
        # Nothing changed and nothing can until its clusters answer: back off; a change to the Revision or
        # to its app's ReleaseManager status wakes it at once.
        return Park("blocked", period)
    return period


def _blocked(summary: list[conditions.Condition]) -> bool:
    progressing = next((c for c in summary if c.type == conditions.PROGRESSING), None)
    return progressing is not None and not progressing.status and progressing.reason in _PARKING_REASONS


# Blocked on clusters only: a Revision blocked on its alert source must keep evaluating alerts every period.
_PARKING_REASONS = frozenset({"NoClusterInFleet", "ClusterUnreachable"})


def _entry(rm: dict[str, Any] | None, tag: str) -> dict[str, Any] | None:
    return next((e for e in ((rm or {}).get("status") or {}).get("revisions") or [] if e.get("tag") == tag), None)


def _target_views(revision: Revision, targets_status: list[dict[str, Any]],
                  rms: dict[str, dict[str, Any] | None]) -> list[conditions.TargetView]:
    views = []
    for target, status in zip(revision.spec.targets, targets_status, strict=True):
        rm = rms.get(target.name) or {}
        entry = _entry(rm, revision.spec.app.tag)
        views.append(conditions.TargetView(
            name=target.name, state=status["state"], current_percent=status["release"]["currentPercent"],
            ready=status["scale"]["current"], desired=status["scale"]["desired"],
            release_eligible=bool(target.release and target.release.eligible), has_entry=entry is not None,
            rm_conditions=tuple((rm.get("status") or {}).get("conditions") or []),
            waiting=(entry or {}).get("waiting")))
    return views


FAILURE_REASONS = {"SLO violation": "SLOViolation", "test timing out": "TimedOut"}


def _failure(decision: FailureDecision, old_conditions: list[dict[str, Any]] | None) -> tuple[str, str]:
    """The Failed condition's reason and message: this pass's failure, else the one recorded when it failed."""
    if decision.failing:
        alerts = f" ({', '.join(decision.alerts)} fired below {ACCEPTANCE_PERCENTAGE}% on " \
                 f"{decision.acceptance_target})" if decision.alerts else ""
        return FAILURE_REASONS.get(decision.reason, "RolledBack"), f"{decision.reason}{alerts}; rolling back"
    old = next((c for c in old_conditions or [] if c.get("type") == conditions.FAILED), None)
    if old and old.get("status") == "True":
        return str(old["reason"]), str(old.get("message") or "")
    return "", ""


def _announce(ctx: EngineContext, ref: ObjectRef, old: list[dict[str, Any]] | None,
              summary: list[conditions.Condition], extra: dict[str, Any]) -> None:
    """One Event per summary-condition change a person must notice (Warning when it went wrong)."""
    before = {c.get("type"): c for c in old or [] if isinstance(c, dict)}
    for cond in summary:
        prev = before.get(cond.type) or {}
        status = "True" if cond.status else "False"
        if prev.get("status") == status and prev.get("reason") == cond.reason:
            continue
        if cond.type == conditions.RELEASED and cond.status:
            ctx.events.emit(ref, NORMAL, "Released", cond.message)
        elif cond.type == conditions.FAILED and cond.status:
            ctx.events.emit(ref, WARNING, cond.reason, cond.message)
        elif cond.type == conditions.PROGRESSING and cond.reason not in ("Released", "Failed"):
            blocked = not cond.status and cond.reason in conditions.BLOCKED_REASONS
            ctx.events.emit(ref, WARNING if blocked or cond.reason == "AlertsFiring" else NORMAL, cond.reason,
                            cond.message)
            (log.warning if blocked else log.info)(cond.message, extra={**extra, "reason": cond.reason})


def _comparable(status: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (status or {}).items() if k in ("sentry", "targets", "conditions")}


def _report_invalid(ctx: EngineContext, obj: dict[str, Any], ref: ObjectRef, exc: InvalidSpec) -> None:
    """Valid=False (and Progressing=False, so `kubectl get rev` says why); the Warning Event and log line are
    written once per change of the problem, not on every pass."""
    message = f"invalid Revision, fix the manifest and re-apply it: {exc}"
    old = obj.get("status") or {}
    merged = conditions.merge(old.get("conditions"), [
        conditions.Condition("Valid", False, "InvalidSpec", message),
        conditions.Condition(conditions.PROGRESSING, False, "InvalidSpec", message),
        conditions.Condition(conditions.RELEASED, False, "InvalidSpec", message),
    ], ctx.clock())
    if merged == old.get("conditions"):
        return
    ctx.delivery.patch_status("Revision", ref.namespace, ref.name, {  # sentry and targets are required
        "sentry": old.get("sentry") or {"release": False}, "targets": old.get("targets") or [],
        "conditions": merged})
    ctx.events.emit(ref, WARNING, "InvalidSpec", message)
    app = ((obj.get("spec") or {}).get("app") or {})
    log.warning(message, extra=fields(kind="Revision", object=ref.name, namespace=ref.namespace,
                                      app=app.get("name") if isinstance(app, dict) else None,
                                      tag=app.get("tag") if isinstance(app, dict) else None))


def _ensure_labels(ctx: EngineContext, obj: dict[str, Any], revision: Revision) -> bool:
    """§6.2: one fleet label per target fleet, stale fleet labels removed, the app label when absent."""
    labels: dict[str, str] = dict(obj["metadata"].get("labels") or {})
    wanted_fleets = {keys.fleet_label(t.fleet) for t in revision.spec.targets}
    patch: dict[str, str | None] = {}
    for label in wanted_fleets - labels.keys():
        patch[label] = ""
    for label in labels:
        if label.startswith(keys.LABEL_FLEET_PREFIX) and label not in wanted_fleets:
            patch[label] = None
    if keys.LABEL_APP not in labels:
        patch[keys.LABEL_APP] = revision.spec.app.name
    if not patch:
        return False
    meta = obj["metadata"]
    ctx.delivery.patch("Revision", meta["namespace"], meta["name"], {"metadata": {"labels": patch}})
    return True


def _marked_for_deletion(obj: dict[str, Any], revision: Revision) -> bool:
    """§6.4 with §17 #2: every target (and at least one) carries `target-deletable…/<target>: "true"`."""
    labels = obj["metadata"].get("labels") or {}
    targets = revision.spec.targets
    return bool(targets) and all(labels.get(keys.target_deletable_label(t.name)) == "true" for t in targets)


def _sync_release_managers(ctx: EngineContext, namespace: str, revision: Revision) -> dict[str, dict[str, Any] | None]:
    """§6.3: one RM per target, found by name; returns the ReleaseManager of each target."""
    app = revision.spec.app.name
    rms: dict[str, dict[str, Any] | None] = {}
    for target in revision.spec.targets:
        name = release_manager_name(app, target.name)
        labels = {keys.LABEL_TARGET: target.name, keys.LABEL_FLEET: target.fleet, keys.LABEL_APP: app}
        spec = {"fleet": target.fleet, "app": app, "target": target.name}
        rm = ctx.delivery.get("ReleaseManager", namespace, name)
        created = False
        if rm is None:  # two Revisions of one app may race here: the loser reads the winner's object
            rm, created = ctx.delivery.create_or_get("ReleaseManager", namespace, {
                "apiVersion": keys.API_VERSION,
                "kind": "ReleaseManager",
                "metadata": {"name": name, "namespace": namespace, "labels": labels,
                             "finalizers": [keys.FINALIZER_RELEASE_MANAGER]},
                "spec": spec,
            })
        if created:
            ctx.events.emit(ObjectRef.of(rm), NORMAL, "Created", f"ReleaseManager for {app} on target {target.name}")
            ctx.wake_release_manager(namespace, name)
        else:
            current = rm.get("metadata", {}).get("labels") or {}
            wrong = {k: v for k, v in labels.items() if current.get(k) != v}
            if wrong or {k: rm.get("spec", {}).get(k) for k in spec} != spec:
                rm = ctx.delivery.patch("ReleaseManager", namespace, name, {"metadata": {"labels": labels}, "spec": spec})
        rms[target.name] = rm
    return rms


def _target_status(name: str, entry: dict[str, Any] | None) -> dict[str, Any]:
    entry = entry or {}
    scale = entry.get("scale") or {}
    return {
        "name": name,
        "scale": {"current": scale.get("Current", 0), "desired": scale.get("Desired", 0), "peak": scale.get("Peak", 0)},
        "release": {"currentPercent": entry.get("currentPercent", 0), "peakPercent": entry.get("peakPercent", 0)},
        "state": (entry.get("state") or {}).get("current") or "created",
    }


def _decide_failure(
    ctx: EngineContext, revision: Revision, targets_status: list[dict[str, Any]],
    entries: dict[str, dict[str, Any] | None],
) -> tuple[FailureDecision, conditions.Condition]:
    """§6.6 (+ §17 #23): timeouts always fail; SLO alerts fail only below 50 % on the first acceptance target."""
    if any(t["state"] == "timingout" for t in targets_status):
        return FailureDecision(True, "test timing out"), conditions.Condition(
            "AlertsClear", True, "NotEvaluated", "failed because a target timed out")
    app, tag = revision.spec.app.name, revision.spec.app.tag
    verdict: AlertVerdict = ctx.alerts.triggered_alerts(app, tag, bool(revision.spec.canary_with_sli_rules))
    policy = ctx.settings.alert_failure_policy
    decision = policy.decide(verdict)
    if decision is AlertDecision.HOLD:
        return FailureDecision(False), conditions.Condition(
            "AlertsClear", False, "AlertSourceUnavailable", f"cannot evaluate SLO alerts, holding: {verdict.reason}")
    if decision is AlertDecision.PROCEED:
        return FailureDecision(False), conditions.Condition("AlertsClear", True, "NoAlertsFiring", "no SLO alert fires")
    alert_names = policy.alarm_names(verdict)
    firing = conditions.Condition("AlertsClear", False, "AlertsFiring", "firing: " + ", ".join(alert_names))
    if revision.spec.ignore_slos:
        return FailureDecision(False), firing
    by_name = {t["name"]: t for t in targets_status}
    for target in revision.spec.targets:
        if not (target.acceptance_target or "production" in target.name) or entries.get(target.name) is None:
            continue
        peak = by_name[target.name]["release"]["peakPercent"]
        failing = peak < ACCEPTANCE_PERCENTAGE
        return FailureDecision(failing, "SLO violation" if failing else "", alert_names, target.name), firing
    return FailureDecision(False), firing


def _fail(ctx: EngineContext, obj: dict[str, Any], revision: Revision, decision: FailureDecision,
          ref: ObjectRef) -> None:
    meta = obj["metadata"]
    app, tag = revision.spec.app.name, revision.spec.app.tag
    if decision.acceptance_target and decision.alerts:
        _record_triggered_alerts(ctx, meta["namespace"], release_manager_name(app, decision.acceptance_target), tag,
                                 list(decision.alerts))
    if obj.get("spec", {}).get("failed"):
        return
    stamp = ctx.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
    ctx.delivery.patch("Revision", meta["namespace"], meta["name"], {
        "metadata": {"annotations": {keys.ANNOTATION_FAILED_AT: stamp}},
        "spec": {"failed": True},
    })
    message = f"failing {app} {tag}: {decision.reason}" + (f" ({', '.join(decision.alerts)})" if decision.alerts else "")
    ctx.events.emit(ref, WARNING, "RevisionFailed", message)
    log.warning(message, extra=fields(app=app, tag=tag, reason=decision.reason))
    if ctx.notifier is not None:
        ctx.notifier.notify(ReleaseEvent(EventKind.REVISION_FAILED, app, tag, target=decision.acceptance_target or "",
                                         namespace=meta["namespace"], alerts=decision.alerts, reason=decision.reason))


def _record_triggered_alerts(ctx: EngineContext, namespace: str, rm_name: str, tag: str, alerts: list[str]) -> None:
    rm = ctx.delivery.get("ReleaseManager", namespace, rm_name)
    if rm is None:
        return
    revisions = list((rm.get("status") or {}).get("revisions") or [])
    changed = False
    for entry in revisions:
        if entry.get("tag") == tag and entry.get("triggeredAlerts") != alerts:
            entry["triggeredAlerts"] = alerts
            changed = True
    if not changed:
        return
    # The whole list is written back, percents and dates included: only onto the version it was read from (the
    # store may lag the ReleaseManager pass's last write), or a stale copy would undo that pass's steps.
    try:
        ctx.delivery.patch_status("ReleaseManager", namespace, rm_name, {"revisions": revisions},
                                  resource_version=(rm.get("metadata") or {}).get("resourceVersion"))
    except ApiException as exc:
        if exc.status != 409:
            raise
        log.info("triggered alerts of %s not recorded: the ReleaseManager changed meanwhile; next pass", tag,
                 extra=fields(namespace=namespace, object=rm_name, tag=tag))
