"""One pass of the ReleaseManager controller: observe → decide → apply → report (spec §7, architecture).

1. read the RM, its fleet (enabled Clusters, connected through the pool), its Revisions and FaultInjectors;
2. observe the app's ReplicaSets on every cluster at once (one LIST per cluster);
3. `picchu.release.decide` (pure) gives states, weights, replicas, GC marks and reasons;
4. render every cluster's objects (`engine.rendering` → `picchu.plans`) and apply them with the one applier;
5. only when every cluster applied, persist the decision: one status patch (skipped when nothing changed),
   GC labels on Revisions, events for state changes, metrics.

Holding is explicit: an unreachable or failing cluster, no live cluster, or an unreadable alert source stops
the ramp (nothing persisted), with a condition and an event naming the cause; other apps are unaffected.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from picchu import keys
from picchu.api.v1alpha1 import InvalidSpec, Revision, load_release_manager, load_revision
from picchu.clusters.desired import ClusterPlan
from picchu.clusters.fanout import fan_out
from picchu.engine import conditions
from picchu.engine.context import EngineContext
from picchu.engine.events import NORMAL, WARNING, ObjectRef
from picchu.engine.fleet import FleetMember, load_fleet
from picchu.engine.rendering import cluster_plans
from picchu.logs import fields
from picchu.monitoring import AlertFailurePolicy
from picchu.notify.events import EventKind, ReleaseEvent
from picchu.release.decide import decide
from picchu.release.snapshot import ClusterView, Decision, Observation, ReplicaCount, Snapshot
from picchu.release.snapshot import Settings as CoreSettings
from picchu.release.states import STATES

log = logging.getLogger(__name__)
NOTIFIED_STATES = {"releasing": EventKind.ROLLOUT_STARTED, "released": EventKind.RELEASED,
                   "failed": EventKind.ROLLED_BACK}


def reconcile_release_manager(ctx: EngineContext, namespace: str, name: str) -> float | None:
    period = ctx.settings.sync_period_seconds
    obj = ctx.delivery.get("ReleaseManager", namespace, name)
    if obj is None:
        ctx.last_pass.pop((namespace, name), None)
        return None
    if keys.LABEL_IGNORE in (obj["metadata"].get("labels") or {}):
        return period
    ref = ObjectRef.of(obj)
    try:
        rm = load_release_manager(obj)
    except InvalidSpec as exc:
        ctx.events.emit(ref, WARNING, "InvalidSpec", f"invalid ReleaseManager: {exc}")
        return period
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
    problems = dict(unreachable)
    if not decision.held and not unreachable:
        problems.update(_apply(ctx, obj, members, revisions, decision, snapshot))
    _report(ctx, obj, ref, decision, problems, revisions, app, target)
    return period


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
    rm = load_release_manager(rm_obj)
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
            revision = load_revision(obj)
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


def _apply(ctx: EngineContext, rm_obj: dict[str, Any], members: list[FleetMember], revisions: list[Revision],
           decision: Decision, snapshot: Snapshot) -> dict[str, str]:
    """Render and apply every cluster's plan; returns {cluster: reason} for each cluster that failed."""
    plans: dict[str, ClusterPlan] = cluster_plans(ctx, snapshot, decision, revisions, members)
    targets = [(m.connection, plans[m.name]) for m in members if m.connection is not None and m.name in plans]
    results = ctx.applier.apply(targets)
    problems = {}
    for cluster, result in results.items():
        if not result.ok:
            problems[cluster] = "; ".join(str(f) for f in result.failed)[:500]
            ctx.metrics.cluster_errors.labels(cluster).inc()
    return problems


def _report(ctx: EngineContext, obj: dict[str, Any], ref: ObjectRef, decision: Decision,
            problems: dict[str, str], revisions: list[Revision], app: str, target: str) -> None:
    namespace, name = ref.namespace, ref.name
    now = ctx.clock()
    old_status = obj.get("status") or {}
    if problems:
        message = "holding, clusters not in sync: " + "; ".join(f"{c}: {r}" for c, r in sorted(problems.items()))
        conds = [conditions.Condition("ClustersSynced", False, "ClusterUnavailable", message[:1000])]
        ctx.events.emit(ref, WARNING, "ClusterUnavailable", message[:1000])
        log.warning(message, extra=fields(app=app, target=target))
        merged = conditions.merge(old_status.get("conditions"), conds, now)
        if merged != old_status.get("conditions"):  # lastUpdated is required by the status schema
            ctx.delivery.patch_status("ReleaseManager", namespace, name, {
                "conditions": merged,
                "lastUpdated": old_status.get("lastUpdated") or now.strftime("%Y-%m-%dT%H:%M:%SZ")})
        return
    entries = [e.model_dump(by_alias=True, exclude_none=True, mode="json") for e in decision.rm_status]
    progress = "; ".join(decision.reasons) or "in sync"
    conds = [
        conditions.Condition("ClustersSynced", True, "Applied", "every enabled cluster holds the desired objects"),
        conditions.Condition("Progressing", not decision.held, "Held" if decision.held else "Decided",
                             progress[:1000]),
    ]
    status: dict[str, Any] = {"revisions": entries,
                              "conditions": conditions.merge(old_status.get("conditions"), conds, now)}
    if {k: old_status.get(k) for k in status} != status:
        status["lastUpdated"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        ctx.delivery.patch_status("ReleaseManager", namespace, name, status)
        _traffic_event(ctx, ref, old_status, decision)
    _mark_garbage(ctx, namespace, target, revisions, decision.deletable_tags)
    by_tag = {r.tag: r for r in revisions}
    for tag, state in decision.entered:
        revision = by_tag.get(tag)
        message = f"{tag} on {target}: {state}"
        ctx.events.emit(_revision_ref(revision) if revision else ref, NORMAL, "StateChanged", message)
        log.info(message, extra=fields(app=app, target=target, tag=tag, state=state))
        kind = NOTIFIED_STATES.get(state)
        if kind is not None and ctx.notifier is not None:
            percent = next((e.current_percent for e in decision.rm_status if e.tag == tag), None)
            ctx.notifier.notify(ReleaseEvent(kind, app, tag, target=target, namespace=namespace, percent=percent))
    _metrics(ctx, decision, app, target, now)


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
        if previous is not None and previous != tag:
            m.revision_oldest_age_seconds.remove(app, target, state, previous)
        ctx.metric_series[("oldest", app, target, state)] = tag
        age = (now - oldest.state.last_updated).total_seconds() if oldest is not None else 0.0
        m.revision_oldest_age_seconds.labels(app, target, state, tag).set(age)
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
            client.CoreV1Api(connection.api).delete_namespace(namespace, _request_timeout=timeout)
        except ApiException as exc:
            if exc.status != 404:
                raise
        if not levels_namespace:
            return
        selector = ",".join(f"{k}={v}" for k, v in sorted(levels_labels.items()))
        try:
            client.CustomObjectsApi(connection.api).delete_collection_namespaced_custom_object(
                "sloth.slok.dev", "v1", levels_namespace, "prometheusservicelevels", label_selector=selector,
                _request_timeout=timeout)
        except ApiException as exc:
            if exc.status != 404:  # Sloth not installed, or the namespace does not exist
                raise

    outcomes = fan_out(connections, work, timeout)
    return {name: o.error.reason for name, o in outcomes.items() if o.error is not None}
