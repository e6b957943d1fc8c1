"""What the renderers need to know, and nothing more: small frozen dataclasses filled by the controller.

The controller (engine) fills these from the API models (`picchu.api.v1alpha1`) and the release engine's
Decision (`picchu.release`); the renderers (`picchu.plans.*`) turn them into manifests for one cluster at a
time (`plan.render_cluster`). All numbers here are *already decided*: replicas and autoscaler bounds are the
per-cluster share before the cluster's own scaling factor (spec §10.2 `divideReplicas`, §10.7), CPU/memory/
request-rate targets are already multiplied by `targetScale`, and traffic weights come from §10.4. The
renderers only multiply by the cluster's scaling factor (§11.7 step 5) and lay out objects.

Passthrough values (`TagInput.target`, `ClusterInput.spec`, ports, traffic policies, faults, ...) are API model objects (e.g. a
`RevisionTarget`, a `ClusterSpec`) or the equivalent wire mappings; see `wire.py`.

Invariant: these values are never mutated; every renderer reads copies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from picchu.plans.wire import Wire, as_wire, objects


@dataclass(frozen=True)
class ClusterInput:
    """One target cluster (live or hot standby) of the fleet."""

    name: str
    spec: Wire
    """The Cluster's spec: ingresses, scalingFactorString, enableDevRoutes, devRouteTagTemplate,
    disableEventDriven."""
    service_levels: bool = True
    """Whether Sloth PrometheusServiceLevels go to this cluster (spec §11.12 writes them to every fleet
    cluster; pass False to choose the §17 #16 placement elsewhere)."""


@dataclass(frozen=True)
class TagScale:
    """Decided scale of one tag, per cluster, before the cluster's scaling factor."""

    replicas: int
    """ReplicaSet replicas (already 0 when the tag is not routable or retired)."""
    min_replicas: int = 0
    max_replicas: int = 0
    cpu_target: int | None = None
    """Utilization percent, already multiplied by targetScale (§10.7)."""
    memory_target: int | None = None
    requests_rate_target: str | None = None
    """Kubernetes quantity, already multiplied by targetScale (e.g. "5", "500m")."""
    autoscaled: bool = True
    """False when the tag is retired: no HPA / WorkerPodAutoScaler / KEDA objects are rendered (§11.14)."""


@dataclass(frozen=True)
class ConfigCopy:
    """A Secret or ConfigMap read from the delivery cluster by `target.configSelector` (§8.7)."""

    kind: Literal["Secret", "ConfigMap"]
    name: str
    data: Mapping[str, str] = field(default_factory=dict)
    """As read from the API server: base64 values for Secrets, plain strings for ConfigMaps."""
    type: str = ""
    """Secret type ("" → Opaque)."""


@dataclass(frozen=True)
class ExternalSecretCopy:
    """An external-secrets.io ExternalSecret read from the delivery cluster by `configSelector`."""

    name: str
    spec: Wire


@dataclass(frozen=True)
class TagInput:
    """One incarnation whose per-tag objects must exist on the target clusters.

    A tag that is absent from `AppInput.tags` has no objects at all (DeleteRevision, §11.15): the applier
    prunes them. A retired tag is present with `scale.replicas == 0` and `scale.autoscaled == False`.
    """

    tag: str
    image: str
    target: Wire
    """The Revision's RevisionTarget for this release manager's target (defaults applied)."""
    scale: TagScale
    event_driven: bool = False
    """Revision `spec.eventDriven`: clusters with `disableEventDriven` run it with factor 0."""
    configs: tuple[ConfigCopy, ...] = ()
    """Secrets first, then ConfigMaps, in list order (that is the envFrom order)."""
    external_secrets: tuple[ExternalSecretCopy, ...] = ()
    canary_rules: bool = False
    """Render the tag's canary PrometheusRule (state canarying / canaried, §11.13)."""


@dataclass(frozen=True)
class RouteRevision:
    """One entry of the traffic-weight allocation (§10.4)."""

    tag: str
    weight: int
    tag_routing_header: str = ""
    """"" when the incarnation is not routable or has no Revision (no tagged routes)."""
    traffic_policy: Wire | None = None
    """Istio TrafficPolicy of the tag's target (`istio.trafficPolicy`)."""


@dataclass(frozen=True)
class RoutingInput:
    """Everything SyncApp needs (§11.9); absent from AppInput when nothing is deployed or deploying."""

    ports: tuple[Wire, ...]
    """Union of PortInfo by name over the deployed/deploying incarnations, newest first wins."""
    revisions: tuple[RouteRevision, ...] = ()
    """Empty → only the Service (and Sidecar) are rendered."""
    default_ingress_ports: Mapping[str, str] = field(default_factory=dict)
    sidecar_egress_hosts: tuple[str, ...] | None = None
    """`istio.sidecar.egressHosts` of the newest deployed target (§17 #9); None → no Sidecar."""
    alert_rules: tuple[Wire, ...] = ()
    """`alertRules` of the first alertable incarnation; empty → no app PrometheusRule."""

    @classmethod
    def from_targets(
        cls,
        targets: tuple[Wire, ...],
        revisions: tuple[RouteRevision, ...],
        alert_rules: tuple[Wire, ...] = (),
    ) -> RoutingInput:
        """Build from the targets of the deployed-then-deploying incarnations, newest first (§11.9)."""
        ports: dict[str, Wire] = {}
        for target in targets:
            for port in objects(as_wire(target).get("ports")):
                ports.setdefault(str(port.get("name", "")), port)
        newest = as_wire(targets[0]) if targets else {}
        sidecar = (newest.get("istio") or {}).get("sidecar") or {}
        egress = sidecar.get("egressHosts")
        return cls(
            ports=tuple(ports.values()),
            revisions=revisions,
            default_ingress_ports=dict(newest.get("defaultIngressPorts") or {}),
            sidecar_egress_hosts=tuple(egress) if egress else None,
            alert_rules=alert_rules,
        )


@dataclass(frozen=True)
class MonitoringInput:
    """Sources of the app-level monitoring objects (§11.10 – §11.12); None → that family is not rendered."""

    alertable_target: Wire | None = None
    """Target of the first alertable incarnation: its `serviceMonitors`, whose `sloRegex` reads this
    target's enabled SLOs (§11.10)."""
    releasable_target: Wire | None = None
    """Target of the first releasable incarnation: its enabled SLOs give the recording rules and the
    PrometheusServiceLevel (§11.11, §11.12)."""


@dataclass(frozen=True)
class MeshFacts:
    """Observed facts deciding the namespace's Istio mode and the waypoint (§11.3 table)."""

    ambient_replicas: bool = False
    """Some revisioned incarnation whose target has ambientMesh has scale.Desired > 0."""
    sidecar_replicas: bool = False
    """Same for targets without ambientMesh."""
    newest_ambient: bool = False
    """The newest incarnation's target has ambientMesh."""


@dataclass(frozen=True)
class Settings:
    """Operator flags that shape rendered objects (§4.1)."""

    service_levels_namespace: str = ""
    """`--service-levels-namespace`; "" → no PrometheusServiceLevel."""
    cluster_prometheus_address: str = ""
    """`--cluster-prometheus-address`; enables the ambient KEDA branch (§11.8 #3)."""
    dev_routes_service_host: str = ""
    dev_routes_service_port: int = 0
    alert_channel: str = "#eng-releases"
    """`channel` label of canary alerts (hard-coded in Picchu, §17 #25)."""


@dataclass(frozen=True)
class AppInput:
    """One ReleaseManager pass (app × target) as far as the target clusters are concerned."""

    app: str
    target: str
    fleet: str
    tags: tuple[TagInput, ...] = ()
    """Newest first; the first one also gives the app PDB and the waypoint settings."""
    routing: RoutingInput | None = None
    monitoring: MonitoringInput = field(default_factory=MonitoringInput)
    mesh: MeshFacts = field(default_factory=MeshFacts)
    faults: tuple[Wire, ...] = ()
    """`httpPortFaults` entries of the matching FaultInjectors, in list order (last match wins)."""
    settings: Settings = field(default_factory=Settings)
    namespace: str = ""
    """Target namespace; "" → `«app»-«target»` (the only value the operator uses)."""

    def __post_init__(self) -> None:
        if not self.namespace:
            object.__setattr__(self, "namespace", f"{self.app}-{self.target}")

    @property
    def release_manager(self) -> str:
        """Name of the ReleaseManager (owner label value)."""
        return f"{self.app}-{self.target}"
