"""The entry point: everything one target cluster must hold for one app × target, as an ordered value.

`render_cluster(inputs, cluster)` returns a `RenderedPlan`: the desired objects in apply order (namespace
and identity, waypoint, per tag — configs, ReplicaSet, autoscalers, canary rules — then Service, Sidecar,
DestinationRule, rules, VirtualService, ServiceMonitors, SLO rules, service levels), each with its
`WritePolicy`, plus the prune scopes. The applier contract:

1. Apply `objects` in order (server-side apply, field manager `picchu`), honouring each `policy`.
2. Then, for each `PruneScope`, delete every object of those kinds in that namespace that matches the
   selector and is not among `objects` (by apiVersion group, kind, namespace, name). Kinds the cluster does
   not serve are skipped. Everything rendered carries `app.kubernetes.io/managed-by: picchu` and the app
   label, so nothing foreign is ever pruned; objects a Go Picchu wrote are recognised by Picchu's own
   labels and names (`LegacyOwned`), so a switch-over leaves no orphans.

Hence deleting a tag (DeleteRevision) is rendering without it; retiring it is rendering it with 0 replicas
and no autoscaler; a branch change of autoscaler, a dropped ServiceMonitor or SLO, the end of a canary all
prune the leftovers. DeleteApp is not a plan: delete Namespace `AppInput.namespace`.

Rendering is pure; bad input raises `RenderError` for the whole cluster (a partial plan would prune
objects that must stay).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from picchu import keys
from picchu.plans import configs, monitoring, namespace, routing, scaling, slo, waypoint, workloads
from picchu.plans.desired import DesiredObject, WritePolicy
from picchu.plans.inputs import AppInput, ClusterInput
from picchu.plans.wire import Manifest, plain

APP_NAMESPACE_KINDS: tuple[tuple[str, str], ...] = (
    ("v1", "Secret"),
    ("v1", "ConfigMap"),
    ("v1", "ServiceAccount"),
    ("v1", "Service"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("policy/v1", "PodDisruptionBudget"),
    ("apps/v1", "ReplicaSet"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("k8s.practo.dev/v1", "WorkerPodAutoScaler"),
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("keda.sh/v1alpha1", "TriggerAuthentication"),
    ("datadoghq.com/v1alpha1", "DatadogMetric"),
    ("external-secrets.io/v1", "ExternalSecret"),
    ("networking.istio.io/v1alpha3", "DestinationRule"),
    ("networking.istio.io/v1alpha3", "VirtualService"),
    ("networking.istio.io/v1alpha3", "Sidecar"),
    ("gateway.networking.k8s.io/v1", "Gateway"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
)
"""Every namespaced kind the renderers can produce in the app namespace."""


@dataclass(frozen=True)
class LegacyOwned:
    """Recognises an object Go Picchu wrote (without our managed-by label) by Picchu's own labels (all of
    `labels`; None = any value) or names, so a switch-over leaves no orphans (§11.17 inventory)."""

    labels: dict[str, str | None] = field(default_factory=dict)
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class PruneScope:
    """Delete what matches here but was not rendered."""

    namespace: str
    kinds: tuple[tuple[str, str], ...]
    """(apiVersion, kind) pairs."""
    selector: dict[str, str] = field(default_factory=dict)
    """Equality label selector (all must match)."""
    legacy: tuple[LegacyOwned, ...] = ()
    """Objects without the managed-by label that are Go Picchu's and pruned like ours."""

    def __str__(self) -> str:
        kinds = ", ".join(kind for _, kind in self.kinds)
        selector = ",".join(f"{key}={value}" for key, value in self.selector.items())
        return f"prune in {self.namespace} [{selector}]: {kinds}"


@dataclass(frozen=True)
class RenderedPlan:
    """All objects one cluster must hold for one app × target, in apply order, and what to prune."""

    cluster: str
    objects: tuple[DesiredObject, ...]
    prune: tuple[PruneScope, ...]

    def find(self, kind: str, name: str) -> DesiredObject | None:
        """The rendered object of that kind and name, if any (first match)."""
        return next((item for item in self.objects if item.kind == kind and item.name == name), None)

    def manifests(self) -> list[Manifest]:
        """The desired objects' manifests, in apply order (e.g. for `picchu render`)."""
        return [plain(item.manifest) for item in self.objects]

    def __str__(self) -> str:
        lines = [f"plan for cluster {self.cluster}:"]
        lines += [f"  {item}" for item in self.objects]
        lines += [f"  {scope}" for scope in self.prune]
        return "\n".join(lines)


def render_cluster(inputs: AppInput, cluster: ClusterInput) -> RenderedPlan:
    """Render every object of `inputs` for `cluster` (raises RenderError on bad input)."""
    ordered: list[DesiredObject] = [DesiredObject(namespace.render_namespace(inputs))]
    if namespace.mesh_mode(inputs.mesh).waypoint:
        ordered += _apply(waypoint.render_waypoint(inputs))
    for manifest in namespace.render_identity(inputs):
        token = manifest["kind"] == "Secret" and manifest["metadata"]["name"] == namespace.TOKEN_SECRET
        ordered.append(DesiredObject(manifest, WritePolicy.CREATE_ONLY if token else WritePolicy.APPLY))
    if inputs.tags:
        ordered += _apply([workloads.render_pod_disruption_budget(inputs, inputs.tags[0])])
    for tag in inputs.tags:
        factor = scaling.scaling_factor(cluster, tag)
        ordered += _apply(configs.render_configs(inputs, tag))
        autoscalers = scaling.render_autoscalers(inputs, cluster, tag, factor)
        policy = WritePolicy.SCALE_ONLY if autoscalers else WritePolicy.SCALE_OWNED
        ordered.append(DesiredObject(workloads.render_replica_set(inputs, tag, factor), policy))
        ordered += _apply(autoscalers)
        if tag.canary_rules:
            ordered += _apply(monitoring.render_canary_rules(inputs, tag))
    if inputs.routing is not None:
        ordered += _apply(routing.render_routing(inputs, cluster, inputs.routing))
    ordered += _apply(monitoring.render_service_monitors(inputs))
    ordered += _apply(slo.render_slo_rules(inputs))
    prune = [PruneScope(inputs.namespace, APP_NAMESPACE_KINDS, _selector(inputs.app), _app_legacy(inputs))]
    levels_namespace = inputs.settings.service_levels_namespace
    if levels_namespace and cluster.service_levels:
        levels = slo.render_service_levels(inputs)
        if levels:
            ordered.append(
                DesiredObject(namespace.render_service_levels_namespace(inputs), WritePolicy.CREATE_ONLY)
            )
            ordered += _apply(levels)
        selector = {**_selector(inputs.app), keys.LABEL_TARGET: inputs.target}
        prune.append(
            PruneScope(levels_namespace, (("sloth.slok.dev/v1", "PrometheusServiceLevel"),), selector, (
                LegacyOwned({keys.LABEL_TAG: None}),  # pre-1.5 per-tag levels (DeleteTaggedServiceLevels)
                LegacyOwned(names=(slo.service_levels_name(inputs),)),
            ))
        )
    return RenderedPlan(cluster=cluster.name, objects=_unique(ordered), prune=tuple(prune))


def _app_legacy(inputs: AppInput) -> tuple[LegacyOwned, ...]:
    """Go Picchu's per-tag objects carry the incarnation labels (tag, target); its app objects the
    ReleaseManager owner labels (§8.7). ServiceMonitors carry only the user's labels: never recognised."""
    return (
        LegacyOwned({keys.LABEL_TAG: None, keys.LABEL_TARGET: inputs.target}),
        LegacyOwned({keys.LABEL_OWNER_TYPE: keys.OWNER_TYPE_RELEASE_MANAGER,
                     keys.LABEL_OWNER_NAME: inputs.release_manager}),
    )  # fmt: skip


def _apply(manifests: list[Manifest]) -> list[DesiredObject]:
    return [DesiredObject(manifest) for manifest in manifests]


def _selector(app: str) -> dict[str, str]:
    return {keys.LABEL_MANAGED_BY: keys.MANAGED_BY, keys.LABEL_APP: app}


def _unique(ordered: list[DesiredObject]) -> tuple[DesiredObject, ...]:
    """First rendering of each (kind, namespace, name) wins: tags sharing a config name (§17 #35)."""
    seen: set[tuple[str, str, str]] = set()
    unique = []
    for item in ordered:
        identity = (item.kind, item.namespace, item.name)
        if identity not in seen:
            seen.add(identity)
            # A private tree copy: renderers share sub-dicts (one authority regex across matches), and
            # deepcopy would keep that sharing.
            unique.append(DesiredObject(plain(item.manifest), item.policy))
    return tuple(unique)
