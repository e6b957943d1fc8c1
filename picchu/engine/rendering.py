"""From a release Decision to each cluster's ClusterPlan: the glue between `picchu.release`, `picchu.plans`
and `picchu.clusters` (which, being siblings, never import each other).

Which tags are rendered (the objects they must have right now):
* a tag with a Revision is rendered every pass with the sizes the core decided for its state, retired
  (0 replicas, no autoscaler) when its state is retired/failed or the pass retires it, and not at all when the
  pass deletes it (DeleteRevision is "render without it", the applier prunes);
* a tag whose Revision is gone but whose entry still drains traffic cannot be rendered (no spec): its
  objects are *protected* from pruning until the core says `deleted`, so pods never vanish under traffic;
* per cluster, a tag the core lists in `Decision.kept` for it (that cluster still routed traffic to the tag
  when last applied, e.g. it was unreachable while the tag was rolled back) is left exactly as it is there
  instead of being retired or deleted: its routes go first, its pods the pass after.
Config copies (`configSelector`) are read from the delivery cluster only for rendered tags.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any

from kubernetes.client.exceptions import ApiException

from picchu import keys
from picchu.api.v1alpha1 import Revision
from picchu.api.v1alpha1.common import to_wire
from picchu.clusters.desired import ClusterPlan, PruneScope
from picchu.engine.context import EngineContext
from picchu.engine.fleet import FleetMember
from picchu.engine.selectors import selector_string
from picchu.plans import inputs as pi
from picchu.plans.plan import render_cluster
from picchu.release.decide import DEPLOYED_STATES
from picchu.release.snapshot import Decision, Snapshot, TagPlan

RETIRED = {"retired", "failed"}
ALERTABLE = (("canarying", "canaried", "pendingrelease"), ("releasing", "released"))


@dataclass(frozen=True)
class GuardedScope(PruneScope):
    """A prune scope that never matches the objects of `protected` tags (still draining, spec-less)."""

    protected: tuple[str, ...] = ()

    def label_selector(self) -> str:
        base = super().label_selector()
        if not self.protected:
            return base
        return f"{base},{keys.LABEL_TAG} notin ({','.join(sorted(self.protected))})"


@dataclass(frozen=True)
class PlanInput:
    """Everything one cluster's plan is rendered from. Rendering is pure, so equal inputs give an equal plan:
    a pass whose `fingerprint` matches the last applied plan's, and whose objects the applier still remembers
    as written, need not render at all (rendering and hashing the manifests were about a third of an idle
    operator's CPU at 500 apps, measured with py-spy)."""

    app: pi.AppInput
    cluster: pi.ClusterInput
    guarded: tuple[str, ...]

    def fingerprint(self) -> str:
        """SHA-256 of the inputs' repr: dataclasses, pydantic models, dicts and strings, all of whose fields
        show in it. Two inputs that differ in any field differ here; equal ones that were built differently
        (another dict order) merely render again."""
        return hashlib.sha256(repr((self.app, self.cluster, self.guarded)).encode()).hexdigest()

    def render(self) -> ClusterPlan:
        plan = ClusterPlan.adapt(render_cluster(self.app, self.cluster))
        return ClusterPlan(plan.objects, tuple(
            GuardedScope(s.namespaces, _prunable(s.kinds, self.app), s.selector, s.legacy, self.guarded)
            for s in plan.prune))


def plan_inputs(ctx: EngineContext, snapshot: Snapshot, decision: Decision, revisions: list[Revision],
                members: list[FleetMember]) -> dict[str, PlanInput]:
    by_tag = {r.tag: r for r in revisions}
    app_input, protected = app_input_for(ctx, snapshot, decision, by_tag)
    inputs = {}
    for member in members:
        if member.model is None:
            continue
        leaving = _leaving(decision, decision.kept.get(member.name, ()))
        tag_input = replace(app_input, tags=tuple(t for t in app_input.tags if t.tag not in leaving))
        cluster = pi.ClusterInput(name=member.name, spec=to_wire(member.model.spec))
        inputs[member.name] = PlanInput(tag_input, cluster, (*protected, *leaving))
    return inputs


def cluster_plans(ctx: EngineContext, snapshot: Snapshot, decision: Decision, revisions: list[Revision],
                  members: list[FleetMember]) -> dict[str, ClusterPlan]:
    return {name: given.render() for name, given in plan_inputs(ctx, snapshot, decision, revisions, members).items()}


def _leaving(decision: Decision, kept: tuple[str, ...]) -> tuple[str, ...]:
    """The kept tags this pass would retire or delete (or no longer render at all): left as they are."""
    plans = {p.tag: p for p in decision.plans}
    return tuple(t for t in kept if t not in plans or plans[t].delete or plans[t].retire
                 or plans[t].state in RETIRED)


ROUTING_KINDS = {"Service", "DestinationRule", "VirtualService", "Sidecar"}


def _prunable(kinds: tuple[tuple[str, str], ...], app_input: pi.AppInput) -> tuple[tuple[str, str], ...]:
    """Without a routing input this pass (nothing deployed), existing routes are left as they are, not pruned."""
    if app_input.routing is not None:
        return kinds
    return tuple(k for k in kinds if k[1] not in ROUTING_KINDS)


def app_input_for(ctx: EngineContext, snapshot: Snapshot, decision: Decision,
                  by_tag: dict[str, Revision]) -> tuple[pi.AppInput, tuple[str, ...]]:
    """The renderers' input for this pass, and the tags whose objects must not be pruned."""
    app, target = snapshot.app, snapshot.target
    tags: list[pi.TagInput] = []
    protected: list[str] = []
    state = {e.tag: e.state.current for e in decision.rm_status}
    for plan in decision.plans:  # newest first
        revision = by_tag.get(plan.tag)
        rev_target = revision.target(target) if revision is not None else None
        if plan.delete:
            continue
        retired = plan.retire or plan.state in RETIRED
        if revision is None or rev_target is None or (plan.share is None and not retired):
            protected.append(plan.tag)  # no spec (draining) or an unknown state: leave its objects alone
            continue
        tags.append(pi.TagInput(
            tag=plan.tag,
            image=revision.spec.app.image,
            target=to_wire(rev_target),
            scale=_scale(plan, retired),
            event_driven=bool(revision.spec.event_driven),
            configs=_configs(ctx, revision, rev_target) if not retired else (),
            external_secrets=_external_secrets(ctx, revision, rev_target) if not retired else (),
            canary_rules=plan.state == "canarying" or plan.sync_canary_rules,
        ))
    incs = [(p, by_tag.get(p.tag)) for p in decision.plans]
    deployed = [(p, r) for p, r in incs if state.get(p.tag, p.state) in DEPLOYED_STATES and r is not None]
    deploying = [(p, r) for p, r in incs if state.get(p.tag, p.state) == "deploying" and r is not None]
    alertable = _first(incs, state, target, *ALERTABLE) if deployed else None
    routing = None
    if decision.routes and (deployed or deploying):
        targets = tuple(r.target(target) for _, r in deployed + deploying)
        revisions = tuple(pi.RouteRevision(rt.tag, rt.weight, rt.tag_routing_header or "",
                                           dict(rt.traffic_policy) if rt.traffic_policy else None)
                          for rt in sorted(decision.routes, key=lambda r: r.tag))
        alert_rules = tuple(alertable.alert_rules or ()) if alertable is not None else ()
        routing = pi.RoutingInput.from_targets(targets, revisions, alert_rules)  # type: ignore[arg-type]
    monitoring = pi.MonitoringInput(
        alertable_target=alertable,
        releasable_target=_first(incs, state, target, ("canarying",), ("releasing", "released")) if deployed else None,
    )
    s = ctx.settings
    app_input = pi.AppInput(
        app=app, target=target, fleet=snapshot.fleet, tags=tuple(tags), routing=routing, monitoring=monitoring,
        mesh=_mesh(snapshot, decision, by_tag, target), faults=_faults(ctx, snapshot),
        settings=pi.Settings(
            service_levels_namespace=s.service_levels_namespace,
            cluster_prometheus_address=s.cluster_prometheus_address,
            dev_routes_service_host=s.dev_routes_service_host,
            dev_routes_service_port=s.dev_routes_service_port,
        ),
    )
    return app_input, tuple(protected)


def _first(incs: list[tuple[TagPlan, Revision | None]], state: dict[str, str], target: str,
           *groups: tuple[str, ...]) -> Any:
    """Target of the first incarnation (newest first) in the first non-empty state group, or None."""
    for group in groups:
        for plan, revision in incs:
            if revision is not None and state.get(plan.tag, plan.state) in group:
                found = revision.target(target)
                if found is not None:
                    return found
    return None


def _scale(plan: TagPlan, retired: bool) -> pi.TagScale:
    if retired or plan.share is None:
        return pi.TagScale(replicas=0, autoscaled=False)
    share = plan.share
    return pi.TagScale(
        replicas=share.replicas, min_replicas=share.autoscaler_min, max_replicas=share.autoscaler_max,
        cpu_target=plan.autoscaler.cpu, memory_target=plan.autoscaler.memory,
        requests_rate_target=plan.autoscaler.requests_rate,
    )


def _configs(ctx: EngineContext, revision: Revision, target: Any) -> tuple[pi.ConfigCopy, ...]:
    selector = selector_string(target.config_selector)
    if selector is None:
        return ()
    namespace = revision.namespace
    found: list[pi.ConfigCopy] = []
    for kind in ("Secret", "ConfigMap"):
        for obj in ctx.delivery.list_core(kind, namespace, selector or None):
            found.append(pi.ConfigCopy(kind=kind, name=obj["metadata"]["name"],
                                       data=obj.get("data") or {}, type=obj.get("type") or ""))
    return tuple(found)


def _external_secrets(ctx: EngineContext, revision: Revision, target: Any) -> tuple[pi.ExternalSecretCopy, ...]:
    selector = selector_string(target.config_selector)
    if selector is None:
        return ()
    from kubernetes import client

    try:
        result = client.CustomObjectsApi(ctx.delivery.api_client).list_namespaced_custom_object(
            "external-secrets.io", "v1", revision.namespace, "externalsecrets",
            label_selector=selector or None, _request_timeout=ctx.settings.cluster_timeout_seconds)
    except ApiException as exc:
        if exc.status == 404:  # External Secrets is not installed in the delivery cluster
            return ()
        raise
    return tuple(pi.ExternalSecretCopy(o["metadata"]["name"], o.get("spec") or {})
                 for o in result.get("items", []))


def _mesh(snapshot: Snapshot, decision: Decision, by_tag: dict[str, Revision], target: str) -> pi.MeshFacts:
    ambient = sidecar = False
    for entry in snapshot.rm_status:
        revision = by_tag.get(entry.tag)
        rev_target = revision.target(target) if revision else None
        if rev_target is None or entry.scale.desired <= 0:
            continue
        if rev_target.ambient_mesh:
            ambient = True
        else:
            sidecar = True
    newest = next((by_tag[p.tag] for p in decision.plans if p.tag in by_tag), None)
    newest_target = newest.target(target) if newest else None
    return pi.MeshFacts(ambient, sidecar, bool(newest_target and newest_target.ambient_mesh))


def _faults(ctx: EngineContext, snapshot: Snapshot) -> tuple[Any, ...]:
    namespace = snapshot.revisions[0].namespace if snapshot.revisions else ""
    if not namespace:
        return ()
    faults: list[Any] = []
    for obj in ctx.delivery.list("FaultInjector", namespace, {keys.LABEL_APP: snapshot.app}):
        if (obj["metadata"].get("labels") or {}).get(keys.LABEL_TARGET) not in ("", snapshot.target):
            continue
        faults.extend(f for f in (obj.get("spec") or {}).get("httpPortFaults") or [] if f.get("portSelector"))
    return tuple(faults)
