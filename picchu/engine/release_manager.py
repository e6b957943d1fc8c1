"""One pass of the ReleaseManager controller: observe → decide → apply → report (spec §7, architecture).

1. read the RM, its fleet (enabled Clusters, connected through the pool), its Revisions and FaultInjectors;
2. observe the app's ReplicaSets on every cluster at once (one LIST per cluster);
3. `picchu.release.decide` (pure) gives states, weights, replicas, GC marks and reasons;
4. render every cluster's objects (`engine.rendering` → `picchu.plans`) and apply them with the one applier
   to every cluster that could be observed;
5. only when every observed cluster applied, persist the decision: one status patch (skipped when nothing
   changed) including `status.applied` (the weights each cluster now holds; an unreachable cluster keeps its
   last record), GC labels on Revisions, events for state changes, metrics.

Holding is explicit: an unreachable cluster, no live cluster, or an unreadable alert source holds the ramp,
with a condition and an event naming the cause; other apps are unaffected. Traffic still moves toward safety
(the core lets failing tags shed traffic) and that is applied at once to every reachable cluster; a cluster
that answers again gets the decided weights in its first pass (`status.applied` says it lags) and loses the
pods of tags it no longer routes to in the next. A cluster whose apply fails holds the pass (nothing persisted).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from picchu import keys
from picchu.api.v1alpha1 import InvalidSpec, Revision, load_release_manager, load_revision
from picchu.clusters import core_api
from picchu.clusters.applier import ClusterApplyResult
from picchu.clusters.connection import ClusterConnection
from picchu.clusters.desired import ClusterPlan, RememberedPlan
from picchu.clusters.fanout import fan_out
from picchu.engine import conditions
from picchu.engine.context import EngineContext
from picchu.engine.events import NORMAL, WARNING, ObjectRef
from picchu.engine.fleet import FleetMember, load_fleet
from picchu.engine.rendering import cluster_plans, plan_inputs
from picchu.logs import fields
from picchu.monitoring import AlertFailurePolicy
from picchu.notify.events import EventKind, ReleaseEvent
from picchu.outcome import Park
from picchu.release.decide import decide
from picchu.release.snapshot import ClusterView, Decision, Observation, ReplicaCount, Snapshot
from picchu.release.snapshot import Settings as CoreSettings
from picchu.release.states import STATES
from picchu.release.status import date_steps

log = logging.getLogger(__name__)
NOTIFIED_STATES = {"releasing": EventKind.ROLLOUT_STARTED, "released": EventKind.RELEASED,
                   "failed": EventKind.ROLLED_BACK}


SOONEST_RECHECK = 0.5  # seconds: the least wait before a pass that time alone has unblocked


def reconcile_release_manager(ctx: EngineContext, namespace: str, name: str) -> float | Park | None:
    period = ctx.settings.sync_period_seconds
    obj = ctx.delivery.get("ReleaseManager", namespace, name)
    if obj is None:
        ctx.last_pass.pop((namespace, name), None)
        ctx.rendered.pop((namespace, name), None)
        return None
    if keys.LABEL_IGNORE in (obj["metadata"].get("labels") or {}):
        return period
    ref = ObjectRef.of(obj)
    try:
        rm = ctx.parsed.load(obj, load_release_manager)
    except InvalidSpec as exc:
        message = f"invalid ReleaseManager, fix or delete it: {exc}"[:1000]
        old = obj.get("status") or {}
        merged = conditions.merge(old.get("conditions"),
                                  [conditions.Condition("Progressing", False, "InvalidSpec", message)], ctx.clock())
        if merged != old.get("conditions"):  # once per change: status, Event and log line
            ctx.delivery.patch_status("ReleaseManager", namespace, name, {
                "conditions": merged, "lastUpdated": old.get("lastUpdated") or ctx.clock().strftime("%Y-%m-%dT%H:%M:%SZ")})
            ctx.events.emit(ref, WARNING, "InvalidSpec", message)
            log.warning(message, extra=fields(kind="ReleaseManager", object=name, namespace=namespace))
        return Park("InvalidSpec", period)
    app, target, fleet = rm.spec.app, rm.spec.target, rm.spec.fleet
    _observe_interval(ctx, namespace, name, app, target)
    members = load_fleet(ctx, namespace, fleet)
    if obj["metadata"].get("deletionTimestamp"):
        return _finalize(ctx, obj, members, f"{app}-{target}")
    revisions = _revisions(ctx, namespace, app, fleet, target)
    snapshot, unreachable = _snapshot(ctx, rm, name, revisions, members, _alert_hold(ctx, rm, revisions))
    decision = decide(snapshot)
    if decision.delete_release_manager:
        ctx.delivery.delete("ReleaseManager", namespace, name)
        ctx.events.emit(ref, NORMAL, "Deleted", "no Revision targets this app and target any more")
        return None
    failed: dict[str, str] = {}
    applied: set[str] = set()
    if not decision.held:
        failed, applied = _apply(ctx, namespace, members, revisions, decision, snapshot, set(unreachable))
        # A step is dated when every cluster holds it, not when it was decided: the ramp delay then separates
        # two weight changes on any cluster however long this apply took.
        decision = replace(decision, rm_status=date_steps(decision.rm_status, snapshot.rm_status, snapshot.now,
                                                          ctx.clock()))
    outcome = Outcome(unreachable, failed, applied, frozenset(m.name for m in members if m.model is not None))
    _report(ctx, obj, ref, decision, outcome, revisions, app, target)
    if not any(m.connection is not None and not m.connection.breaker.dead for m in members):
        # No cluster it could reach (none in the fleet, none with usable credentials, or all dead): reported.
        # Retry with growing back-off; a change to this ReleaseManager or a Cluster of its fleet (its Ready
        # condition flips when it answers again) wakes it. A cluster counts as dead only when it gave no
        # connection at all (refused, or none within a timeout) or rejected its credentials: a slow apiserver
        # is alive, so a healthy app whose cluster is briefly slow never waits out a back-off.
        return Park("no usable cluster in the fleet", period)
    if decision.held or failed or unreachable or decision.recheck_in is None:
        return period
    # Time alone moves it on sooner than the period: a state change (the next handler acts at once), the end
    # of a ramp delay or a canary TTL. Counted from now: steps are dated when applied, after `snapshot.now`.
    since_decided = (ctx.clock() - snapshot.now).total_seconds()
    return min(period, max(SOONEST_RECHECK, decision.recheck_in + since_decided))


def _snapshot(ctx: EngineContext, rm: Any, name: str, revisions: list[Revision], members: list[FleetMember],
              hold_traffic: str) -> tuple[Snapshot, dict[str, str]]:
    """Observe every connected cluster once and build the core's input; also {cluster: why} unreachable."""
    app, target, fleet = rm.spec.app, rm.spec.target, rm.spec.fleet
    connected = [m for m in members if m.connection is not None]
    observation = ctx.observer.observe([m.connection for m in connected], f"{app}-{target}")
    unreachable = {m.name: m.problem for m in members if m.connection is None and m.model is not None}
    unreachable.update(observation.errors)
    snapshot = Snapshot(
        app=app, target=target, fleet=fleet, now=ctx.clock(), rm_name=name,
        revisions=tuple(revisions), rm_status=tuple((rm.status.revisions or []) if rm.status else []),
        clusters=tuple(ClusterView(m.name, m.live, _factor(m), bool(m.model and m.model.spec.disable_event_driven))
                       for m in members if m.model is not None),
        observation=Observation(replicas=_replicas(observation), unreachable=frozenset(unreachable)),
        settings=_core_settings(ctx),
        hold_traffic=hold_traffic,
        applied={a.cluster: dict(a.weights) for a in ((rm.status.applied if rm.status else None) or [])},
    )
    return snapshot, unreachable


@dataclass(frozen=True)
class Preview:
    """What the next pass of a ReleaseManager would decide and write (`picchu render`), nothing applied."""

    snapshot: Snapshot
    decision: Decision
    plans: dict[str, ClusterPlan]
    members: list[FleetMember]
    unreachable: dict[str, str]


def preview(ctx: EngineContext, rm_obj: dict[str, Any], extra: tuple[Revision, ...] = ()) -> Preview:
    """Run observe → decide → render for `rm_obj` without applying or persisting anything. `extra`
    Revisions (e.g. a manifest not applied yet) replace stored ones with the same tag."""
    rm = ctx.parsed.load(rm_obj, load_release_manager)
    namespace, name = rm_obj["metadata"].get("namespace", ""), rm_obj["metadata"]["name"]
    app, target, fleet = rm.spec.app, rm.spec.target, rm.spec.fleet
    members = load_fleet(ctx, namespace, fleet)
    stored = _revisions(ctx, namespace, app, fleet, target) if rm_obj["metadata"].get("uid") else []
    tags = {r.tag for r in extra}
    revisions = [r for r in stored if r.tag not in tags] + [r for r in extra if r.target(target) is not None]
    snapshot, unreachable = _snapshot(ctx, rm, name, revisions, members, "")
    decision = decide(snapshot)
    plans = {} if decision.held or decision.delete_release_manager else cluster_plans(
        ctx, snapshot, decision, revisions, members)
    return Preview(snapshot, decision, plans, members, unreachable)


@dataclass(frozen=True)
class Outcome:
    """Where this pass's plans went: clusters not observed, clusters whose apply failed, clusters applied."""

    unreachable: dict[str, str]
    failed: dict[str, str]
    applied: set[str]
    members: frozenset[str]


RAMPING_STATES = ("canarying", "releasing")


def _alert_hold(ctx: EngineContext, rm: Any, revisions: list[Revision]) -> str:
    """Architecture principle 4: when the SLO alerts of a ramping tag cannot be read, hold its traffic
    (unless the operator is fail-closed, in which case the Revision pass rolls it back instead)."""
    if ctx.settings.alert_failure_policy is not AlertFailurePolicy.HOLD:
        return ""
    entries = (rm.status.revisions or []) if rm.status else []
    ramping = {e.tag for e in entries if e.state.current in RAMPING_STATES}
    for revision in revisions:
        if revision.tag in ramping:
            verdict = ctx.alerts.triggered_alerts(revision.app, revision.tag,
                                                  bool(revision.spec.canary_with_sli_rules))
            if verdict.is_unknown:
                return f"SLO alerts of {revision.tag} cannot be read ({verdict.reason})"
    return ""


def _factor(member: FleetMember) -> float:
    try:
        return member.model.scaling_factor if member.model else 0.0
    except ValueError:
        return 0.0


def _core_settings(ctx: EngineContext) -> CoreSettings:
    return CoreSettings(calendar=ctx.calendar, humane_releases_enabled=ctx.settings.humane_releases_enabled)


def _observe_interval(ctx: EngineContext, namespace: str, name: str, app: str, target: str) -> None:
    now = time.monotonic()
    last = ctx.last_pass.get((namespace, name))
    if last is not None:
        ctx.metrics.release_manager_reconcile_interval.labels(app, target).observe(now - last)
    ctx.last_pass[(namespace, name)] = now


def _revisions(ctx: EngineContext, namespace: str, app: str, fleet: str, target: str) -> list[Revision]:
    """Valid Revisions of the app with a target named `target` (invalid ones are reported by their own pass)."""
    found = []
    for obj in ctx.delivery.list("Revision", namespace, {keys.LABEL_APP: app, keys.fleet_label(fleet): ""}):
        try:
            revision = ctx.parsed.load(obj, load_revision)
        except InvalidSpec:
            continue
        if revision.target(target) is not None:
            found.append(revision)
    return found


def _replicas(observation: Any) -> dict[str, dict[str, ReplicaCount]]:
    """Live and standby ReplicaSets per tag per cluster (the core keeps only the live ones)."""
    result: dict[str, dict[str, ReplicaCount]] = {}
    for rs in observation.replicasets:
        per_cluster = result.setdefault(rs.tag, {})
        old = per_cluster.get(rs.cluster, ReplicaCount(0, 0))
        per_cluster[rs.cluster] = ReplicaCount(old.desired + rs.desired, old.available + rs.available)
    return result


def _apply(ctx: EngineContext, namespace: str, members: list[FleetMember], revisions: list[Revision],
           decision: Decision, snapshot: Snapshot, unreachable: set[str]) -> tuple[dict[str, str], set[str]]:
    """Render and apply the plan of every cluster that could be observed; returns {cluster: reason} for each
    cluster that failed and the set of clusters that applied. A cluster whose plan inputs are those of its last
    plan applied without failure, and whose objects the applier still remembers as written, is settled without
    rendering (`rendering.PlanInput`)."""
    inputs = plan_inputs(ctx, snapshot, decision, revisions, members)
    remembered = ctx.rendered.setdefault((namespace, snapshot.rm_name), {})
    for gone in set(remembered) - set(inputs):
        del remembered[gone]
    observed = snapshot.observation.replicas
    results: dict[str, ClusterApplyResult] = {}
    to_render: list[tuple[ClusterConnection, str, ClusterPlan]] = []
    for member in members:
        connection = member.connection
        if connection is None or member.name not in inputs or member.name in unreachable:
            continue
        fingerprint = inputs[member.name].fingerprint()
        last = remembered.get(member.name)
        if last is not None and last[0] == fingerprint:
            _forget_missing(ctx, connection, last[1], observed)
            settled = ctx.applier.settle_unchanged(connection, last[1])
            if settled is not None:
                results[member.name] = settled
                continue
        plan = inputs[member.name].render()
        _forget_missing(ctx, connection, plan, observed)
        to_render.append((connection, fingerprint, plan))
    shared_keys = {key: key for _, last in remembered.values() for key in last.keys} if to_render else {}
    for _, _, plan in to_render:
        plan.share_keys(shared_keys)  # before the applier files them: one instance per key for all clusters
    results.update(ctx.applier.apply([(c, plan) for c, _, plan in to_render],
                                     log_fields=fields(app=snapshot.app, target=snapshot.target)))
    for connection, fingerprint, plan in to_render:
        if results[connection.name].ok:
            remembered[connection.name] = (fingerprint, RememberedPlan.of(plan))
        else:
            remembered.pop(connection.name, None)
    problems = {}
    for cluster, result in results.items():
        if not result.ok:
            problems[cluster] = "; ".join(str(f) for f in result.failed)[:500]
            ctx.metrics.cluster_errors.labels(cluster).inc()
    return problems, {c for c, r in results.items() if r.ok}


def _forget_missing(ctx: EngineContext, connection: ClusterConnection, plan: ClusterPlan | RememberedPlan,
                    observed: Mapping[str, Mapping[str, Any]]) -> None:
    """A ReplicaSet deleted behind picchu's back is written again at once, not when the memory expires."""
    missing = [d.key for d in plan.objects
               if d.key.kind == "ReplicaSet" and connection.name not in observed.get(d.key.name, {})]
    ctx.applier.forget_objects(connection, missing)


def applied_records(old: list[dict[str, Any]] | None, decision: Decision, members: frozenset[str],
                    applied: set[str], now: str) -> list[dict[str, Any]]:
    """`status.applied`: the decided weights for clusters applied this pass, the last record for the others
    (clusters that left the fleet are dropped); `appliedAt` changes only with the weights."""
    records: dict[str, dict[str, Any]] = {r["cluster"]: r for r in old or []
                                          if isinstance(r, dict) and r.get("cluster") in members}
    weights = decision.weights()
    for cluster in applied:
        previous = records.get(cluster) or {}
        if previous.get("weights") != weights or "appliedAt" not in previous:
            records[cluster] = {"cluster": cluster, "weights": weights, "appliedAt": now}
    return [records[c] for c in sorted(records)]


def _report(ctx: EngineContext, obj: dict[str, Any], ref: ObjectRef, decision: Decision, outcome: Outcome,
            revisions: list[Revision], app: str, target: str) -> None:
    namespace, name = ref.namespace, ref.name
    now = ctx.clock()
    old_status = obj.get("status") or {}
    problems = {**outcome.unreachable, **outcome.failed}
    message = "holding, clusters not in sync: " + "; ".join(f"{c}: {r}" for c, r in sorted(problems.items()))
    if problems:
        ctx.events.emit(ref, WARNING, "ClusterUnavailable", message[:1000])  # repeats are aggregated
        if _condition_message(old_status, "ClustersSynced") != message[:1000]:  # logged once per change
            log.warning(message, extra=fields(app=app, target=target, cluster=",".join(sorted(problems))))
    if outcome.failed:
        conds = [conditions.Condition("ClustersSynced", False, "ClusterUnavailable", message[:1000])]
        merged = conditions.merge(old_status.get("conditions"), conds, now)
        if merged != old_status.get("conditions"):  # lastUpdated is required by the status schema
            ctx.delivery.patch_status("ReleaseManager", namespace, name, {
                "conditions": merged,
                "lastUpdated": old_status.get("lastUpdated") or now.strftime("%Y-%m-%dT%H:%M:%SZ")})
        return
    entries = _entries(decision)
    progress = "; ".join(decision.reasons) or "in sync"
    synced = (conditions.Condition("ClustersSynced", False, "ClusterUnavailable", message[:1000]) if problems else
              conditions.Condition("ClustersSynced", True, "Applied", "every enabled cluster holds the desired objects"))
    conds = [synced, conditions.Condition("Progressing", not decision.held,
                                          decision.hold_reason or ("Held" if decision.held else "Decided"),
                                          progress[:1000])]
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    status: dict[str, Any] = {"revisions": entries,
                              "conditions": conditions.merge(old_status.get("conditions"), conds, now)}
    if not decision.held:
        records = applied_records(old_status.get("applied"), decision, outcome.members, outcome.applied, stamp)
        if records or old_status.get("applied"):
            status["applied"] = records
    if decision.hold_reason and _condition_changed(old_status, "Progressing", decision.hold_reason):
        ctx.events.emit(ref, WARNING, decision.hold_reason, progress[:1000])
        log.warning(progress, extra=fields(app=app, target=target, reason=decision.hold_reason))
    if {k: old_status.get(k) for k in status} != status:
        status["lastUpdated"] = stamp
        ctx.delivery.patch_status("ReleaseManager", namespace, name, status)
        _traffic_event(ctx, ref, old_status, decision)
    _mark_garbage(ctx, namespace, target, revisions, decision.deletable_tags)
    by_tag = {r.tag: r for r in revisions}
    for tag, state in decision.entered:
        revision = by_tag.get(tag)
        message = f"{tag} on {target}: {state}"
        bad = state in WARNING_STATES
        ctx.events.emit(_revision_ref(revision) if revision else ref, WARNING if bad else NORMAL,
                        WARNING_STATES.get(state, "StateChanged"), message)
        (log.warning if bad else log.info)(message, extra=fields(app=app, target=target, tag=tag, state=state))
        kind = NOTIFIED_STATES.get(state)
        if kind is not None and ctx.notifier is not None:
            percent = next((e.current_percent for e in decision.rm_status if e.tag == tag), None)
            ctx.notifier.notify(ReleaseEvent(kind, app, tag, target=target, namespace=namespace, percent=percent))
    _announce_ramp_steps(ctx, ref, old_status, decision, by_tag, app, target)
    _metrics(ctx, decision, app, target, now)


def _condition_message(status: dict[str, Any], kind: str) -> str | None:
    old = next((c for c in status.get("conditions") or [] if isinstance(c, dict) and c.get("type") == kind), {})
    return old.get("message") if isinstance(old.get("message"), str) else None


def _condition_changed(status: dict[str, Any], kind: str, reason: str) -> bool:
    old = next((c for c in status.get("conditions") or [] if isinstance(c, dict) and c.get("type") == kind), {})
    return bool(old.get("reason") != reason)


WARNING_STATES = {"failing": "RollingBack", "failed": "RolledBack", "timingout": "TimingOut"}


def _entries(decision: Decision) -> list[dict[str, Any]]:
    """The status entries to write, each with its `waiting` note (an additive key Go Picchu ignores) when the
    tag waits for capacity or its release window; the Revision pass turns it into its Progressing reason."""
    waits = {w.tag: w for w in decision.waits}
    entries = []
    for model in decision.rm_status:
        entry = model.model_dump(by_alias=True, exclude_none=True, mode="json")
        entry.pop("waiting", None)
        wait = waits.get(model.tag)
        if wait is not None:
            entry["waiting"] = {"reason": wait.reason, "message": wait.message[:500]}
        entries.append(entry)
    return entries


def _announce_ramp_steps(ctx: EngineContext, ref: ObjectRef, old_status: dict[str, Any], decision: Decision,
                         by_tag: dict[str, Revision], app: str, target: str) -> None:
    """One Event and one log line per traffic step of a tag (written only once the step was applied)."""
    before = {e.get("tag"): e.get("currentPercent", 0) for e in old_status.get("revisions") or []
              if isinstance(e, dict)}
    for entry in decision.rm_status:
        old = before.get(entry.tag)
        if old is None or old == entry.current_percent:
            continue
        revision = by_tag.get(entry.tag)
        message = f"{entry.tag} on {target}: traffic {old}% -> {entry.current_percent}%"
        ctx.events.emit(_revision_ref(revision) if revision else ref, NORMAL, "TrafficShifted", message)
        log.info(message, extra=fields(app=app, target=target, tag=entry.tag, percent=entry.current_percent,
                                       state=entry.state.current))


def _traffic_event(ctx: EngineContext, ref: ObjectRef, old_status: dict[str, Any], decision: Decision) -> None:
    """A `TrafficShifted` Event each time the persisted percents change: `picchu history` plots them."""
    before = {e.get("tag"): e.get("currentPercent", 0) for e in old_status.get("revisions") or []}
    after = {e.tag: e.current_percent for e in reversed(decision.rm_status)}  # newest first
    if {t: p for t, p in before.items() if p} == {t: p for t, p in after.items() if p}:
        return
    shares = ", ".join(f"{tag} {p}%" for tag, p in after.items() if p or before.get(tag))
    ctx.events.emit(ref, NORMAL, "TrafficShifted", shares or "no traffic", dedupe=False)


def _revision_ref(revision: Revision) -> ObjectRef:
    return ObjectRef(keys.API_VERSION, "Revision", revision.namespace, revision.name,
                     str(revision.metadata.get("uid") or ""))


def _mark_garbage(ctx: EngineContext, namespace: str, target: str, revisions: list[Revision],
                  tags: tuple[str, ...]) -> None:
    label = keys.target_deletable_label(target)
    for revision in revisions:
        if revision.tag in tags and revision.labels.get(label) != "true":
            ctx.delivery.patch("Revision", namespace, revision.name,
                               {"metadata": {"labels": {label: "true"}}})


def _metrics(ctx: EngineContext, decision: Decision, app: str, target: str, now: datetime) -> None:
    """§15 gauges and histograms. Series of tags that left (weights, oldest-per-state) are removed, so a
    dashboard never shows a stale revision's last value."""
    m = ctx.metrics
    by_state: dict[str, list[Any]] = {state: [] for state in STATES}
    for entry in decision.rm_status:
        by_state.setdefault(entry.state.current, []).append(entry)
    for state, entries in by_state.items():
        m.incarnation_count.labels(app, target, state).set(len(entries))
        dated = [e for e in entries if e.state.last_updated is not None]
        oldest = min(dated, key=lambda e: e.state.last_updated) if dated else None
        tag = oldest.tag if oldest is not None else ""
        previous = ctx.metric_series.get(("oldest", app, target, state))
        if previous and previous != tag:
            m.revision_oldest_age_seconds.remove(app, target, state, previous)
        ctx.metric_series[("oldest", app, target, state)] = tag
        if oldest is not None:  # an empty state has no series (no `revision=""` zeros)
            m.revision_oldest_age_seconds.labels(app, target, state, tag).set(
                (now - oldest.state.last_updated).total_seconds())
    tags = {route.tag for route in decision.routes}
    for route in decision.routes:
        m.revision_release_weight.labels(app, target, route.tag).set(route.weight)
    for gone in set(ctx.metric_series.get(("weights", app, target), "").split()) - tags:
        m.revision_release_weight.remove(app, target, gone)
    ctx.metric_series[("weights", app, target)] = " ".join(sorted(tags))
    for latency in decision.latencies:
        histogram = getattr(m, latency.metric, None)
        if histogram is not None:
            histogram.labels(app, target).observe(latency.seconds)


def _finalize(ctx: EngineContext, obj: dict[str, Any], members: list[FleetMember], namespace: str) -> float | None:
    """§7.1 step 12 with §17 #27: delete the app namespace wherever we can reach, then drop the finalizer."""
    meta = obj["metadata"]
    if keys.FINALIZER_RELEASE_MANAGER not in (meta.get("finalizers") or []):
        return None
    connected = [m for m in members if m.connection is not None]
    app, _, target = namespace.partition("-")
    rm_spec = obj.get("spec") or {}
    failures = delete_app([m.connection for m in connected if m.connection], namespace,
                          ctx.settings.service_levels_namespace,
                          {keys.LABEL_APP: rm_spec.get("app", app), keys.LABEL_TARGET: rm_spec.get("target", target)},
                          ctx.settings.cluster_timeout_seconds)
    if failures:
        ctx.events.emit(ObjectRef.of(obj), WARNING, "CleanupFailed",
                        "; ".join(f"{c}: {r}" for c, r in sorted(failures.items()))[:1000])
        return ctx.settings.sync_period_seconds
    finalizers = [f for f in meta.get("finalizers") or [] if f != keys.FINALIZER_RELEASE_MANAGER]
    ctx.delivery.patch("ReleaseManager", meta["namespace"], meta["name"], {"metadata": {"finalizers": finalizers}})
    return None


def delete_app(connections: list[Any], namespace: str, levels_namespace: str, levels_labels: dict[str, str],
               timeout: float) -> dict[str, str]:
    """DeleteApp (§11.16) on every connection at once: the app namespace and the app's shared
    PrometheusServiceLevel (it lives outside that namespace). NotFound counts as done. Returns failures."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    def work(connection: Any, deadline: Any) -> None:
        try:
            # A namespace a human labelled `ignore` is never deleted (with it everything inside would go).
            live = core_api.get(connection.api, "Namespace", None, namespace, timeout=timeout)
            meta = live.get("metadata") or {}
            if keys.LABEL_IGNORE not in (meta.get("labels") or {}):
                core_api.delete(connection.api, "Namespace", None, namespace, uid=meta.get("uid"), timeout=timeout)
        except ApiException as exc:
            if exc.status not in (404, 409):  # gone already / replaced meanwhile
                raise
        if not levels_namespace:
            return
        selector = ",".join([*(f"{k}={v}" for k, v in sorted(levels_labels.items())), f"!{keys.LABEL_IGNORE}"])
        try:
            client.CustomObjectsApi(connection.api).delete_collection_namespaced_custom_object(
                "sloth.slok.dev", "v1", levels_namespace, "prometheusservicelevels", label_selector=selector,
                _request_timeout=timeout)
        except ApiException as exc:
            if exc.status != 404:  # Sloth not installed, or the namespace does not exist
                raise

    outcomes = fan_out(connections, work, timeout)
    return {name: o.error.reason for name, o in outcomes.items() if o.error is not None}
