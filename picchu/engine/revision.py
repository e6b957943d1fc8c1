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

from picchu import keys
from picchu.api.v1alpha1 import InvalidSpec, Revision, load_revision
from picchu.engine import conditions, mirror, steering
from picchu.engine.context import EngineContext
from picchu.engine.events import NORMAL, WARNING, ObjectRef
from picchu.logs import fields
from picchu.monitoring import AlertDecision, AlertVerdict
from picchu.notify.events import EventKind, ReleaseEvent

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


def reconcile_revision(ctx: EngineContext, namespace: str, name: str) -> float | None:
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
        revision = load_revision(obj)
    except InvalidSpec as exc:
        _report_invalid(ctx, obj, ref, exc)
        return period
    if _ensure_labels(ctx, obj, revision):
        return 0.0  # labels changed: rerun on the fresh object
    if _marked_for_deletion(obj, revision):
        ctx.delivery.delete("Revision", namespace, name)
        ctx.events.emit(ref, NORMAL, "GarbageCollected", "every target marked it deletable; deleting the Revision")
        return None
    steering.record_action(ctx, obj, revision, ref)
    entries = _sync_release_managers(ctx, namespace, revision)
    targets_status = [_target_status(t.name, entries.get(t.name)) for t in revision.spec.targets]
    if not revision.spec.disable_mirroring and mirror.deployed(targets_status):
        mirror.mirror_revision(ctx, obj, revision)  # §6.5; failures are counted and reported, never raised
    decision, alert_condition = _decide_failure(ctx, revision, targets_status, entries)
    app, tag = revision.spec.app.name, revision.spec.app.tag
    if decision.failing:
        _fail(ctx, obj, revision, decision, ref)
    ctx.metrics.revision_failed.labels(app, tag).set(1 if decision.failing else 0)
    now = ctx.clock()
    status = {
        "sentry": {"release": False},
        "targets": targets_status,
        "conditions": conditions.merge(
            (obj.get("status") or {}).get("conditions"),
            [conditions.Condition("Valid", True, "Valid", "the Revision passed validation"), alert_condition],
            now,
        ),
    }
    if status != _comparable(obj.get("status")):
        ctx.delivery.patch_status("Revision", namespace, name, status)
    return period


def _comparable(status: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (status or {}).items() if k in ("sentry", "targets", "conditions")}


def _report_invalid(ctx: EngineContext, obj: dict[str, Any], ref: ObjectRef, exc: InvalidSpec) -> None:
    message = f"invalid Revision, fix the manifest and re-apply it: {exc}"
    old = obj.get("status") or {}
    merged = conditions.merge(old.get("conditions"), [conditions.Condition("Valid", False, "InvalidSpec", message)],
                              ctx.clock())
    if merged != old.get("conditions"):  # sentry and targets are required by the status schema
        ctx.delivery.patch_status("Revision", ref.namespace, ref.name, {
            "sentry": old.get("sentry") or {"release": False}, "targets": old.get("targets") or [],
            "conditions": merged})
    ctx.events.emit(ref, WARNING, "InvalidSpec", message)
    log.warning(message, extra=fields(kind="Revision", object=ref.name, namespace=ref.namespace))


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
    """§6.3: one RM per target, found by name; returns the RM status entry for this tag, per target."""
    app, tag = revision.spec.app.name, revision.spec.app.tag
    entries: dict[str, dict[str, Any] | None] = {}
    for target in revision.spec.targets:
        name = release_manager_name(app, target.name)
        labels = {keys.LABEL_TARGET: target.name, keys.LABEL_FLEET: target.fleet, keys.LABEL_APP: app}
        spec = {"fleet": target.fleet, "app": app, "target": target.name}
        rm = ctx.delivery.get("ReleaseManager", namespace, name)
        if rm is None:
            rm = ctx.delivery.create("ReleaseManager", namespace, {
                "apiVersion": keys.API_VERSION,
                "kind": "ReleaseManager",
                "metadata": {"name": name, "namespace": namespace, "labels": labels,
                             "finalizers": [keys.FINALIZER_RELEASE_MANAGER]},
                "spec": spec,
            })
            ctx.events.emit(ObjectRef.of(rm), NORMAL, "Created", f"ReleaseManager for {app} on target {target.name}")
            ctx.wake_release_manager(namespace, name)
        else:
            current = rm.get("metadata", {}).get("labels") or {}
            wrong = {k: v for k, v in labels.items() if current.get(k) != v}
            if wrong or {k: rm.get("spec", {}).get(k) for k in spec} != spec:
                rm = ctx.delivery.patch("ReleaseManager", namespace, name, {"metadata": {"labels": labels}, "spec": spec})
        entries[target.name] = next(
            (e for e in (rm.get("status") or {}).get("revisions") or [] if e.get("tag") == tag), None
        )
    return entries


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
    if changed:
        ctx.delivery.patch_status("ReleaseManager", namespace, rm_name, {"revisions": revisions})
