"""The Revision kind: one deployable tag of an app and how to roll it out to each target (spec §3.1).

Why: users (kbfd) write Revisions; every other component reads them through these models. Field names on the
wire are Picchu's exactly, attributes are their snake_case; Picchu's own structured types are strict (unknown
field = error), embedded Kubernetes / Istio / prometheus-operator objects are passthrough dicts kept verbatim.

Neighbours: `common` (wire types), `defaults` (§3.2 defaults + §3.3 webhook mutations, applied by
`load_revision`), `validation` (cross-field rules), `crdgen` (schema). Invariant: parsing then dumping with
`exclude_unset` returns the manifest unchanged; these models apply no defaults themselves.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from picchu.api.v1alpha1.common import (
    WIRE_REQUIRED,
    Duration,
    Int32,
    Int64,
    KedaTrigger,
    NamedObject,
    OpenModel,
    Passthrough,
    PassthroughList,
    Percent,
    PrometheusRuleSpec,
    Quantity,
    Resource,
    StatusCondition,
    StrictBool,
    StrictStr,
    StringMap,
    Time,
    TopologySpreadConstraint,
    UInt32,
    VolumeMount,
    WireModel,
    parse_time,
)
from picchu.api.v1alpha1.monitoring import (
    ServiceLevelObjectiveLabels,
    ServiceMonitor,
    SlothServiceLevelObjective,
)
from picchu.keys import ANNOTATION_FAILED_AT, ANNOTATION_GIT_COMMIT_TIMESTAMP

# Wire constants (§2.4)
PORT_MODE_PUBLIC = "public"
PORT_MODE_PRIVATE = "private"
PORT_MODE_LOCAL = "local"
PORT_MODES = ("", PORT_MODE_PUBLIC, PORT_MODE_PRIVATE, PORT_MODE_LOCAL)
INGRESS_PUBLIC = "public"
INGRESS_PRIVATE = "private"
SCALING_LINEAR = "linear"
SCALING_GEOMETRIC = "geometric"
SCALING_STRATEGIES = ("", SCALING_LINEAR, SCALING_GEOMETRIC)
SCHEDULE_HUMANE = "humane"
SCHEDULE_INHUMANE = "inhumane"
SCHEDULE_ALWAYS = "always"


# ---- spec.app -------------------------------------------------------------------------------------------
class RevisionApp(WireModel):
    """The application and the build this Revision deploys."""

    name: StrictStr
    """Application name: ReleaseManager spec.app, namespace prefix, container and Service name."""
    ref: StrictStr
    """Git ref (informational)."""
    tag: StrictStr
    """Revision tag, unique per app: names the ReplicaSet, HPA and routing subset."""
    image: StrictStr
    """Container image of the main container."""


class SentryInfo(WireModel):
    release: StrictBool = False


# ---- scale ----------------------------------------------------------------------------------------------
class WorkerScaleInfo(WireModel):
    """WorkerPodAutoscaler settings (queue-driven workers)."""

    queue_uri: StrictStr
    target_messages_per_worker: Int32
    seconds_to_process_one_job_string: StrictStr | None = None
    max_disruption: StrictStr


class KedaScaleInfo(WireModel):
    """KEDA ScaledObject settings; min/max replicas come from scale.min/max."""

    cooldown_period: Int32 | None = None
    idle_replica_count: Int32 | None = None
    min_replica_count: Int32 | None = None
    max_replica_count: Int32 | None = None
    advanced: Passthrough | None = None
    triggers: list[KedaTrigger]
    fallback: Passthrough | None = None
    aws_eks_auth: StrictBool | None = None


class ScaleInfo(WireModel):
    """Replica counts (fleet-wide) and autoscaling targets."""

    min: Int32 | None = None
    """Minimum replicas across the fleet (required by picchu)."""
    default: Int32 | None = None
    """Initial or fixed replicas across the fleet (default 1)."""
    max: Int32 | None = None
    """Maximum replicas across the fleet (default 1)."""
    min_ready_seconds: Int32 | None = None
    """ReplicaSet minReadySeconds."""
    target_cpu_utilization_percentage: Int32 | None = Field(
        default=None,
        alias="targetCPUUtilizationPercentage",
    )
    """HPA CPU utilisation target."""
    target_memory_utilization_percentage: Int32 | None = Field(
        default=None,
        alias="targetMemoryUtilizationPercentage",
    )
    """HPA memory utilisation target."""
    target_requests_rate: Quantity | None = None
    """Per-pod request rate target (a Kubernetes quantity)."""
    requests_rate_metric: StrictStr | None = None
    """Pods metric name for the requests-rate target (default istio_requests_rate)."""
    worker: WorkerScaleInfo | None = None
    """WorkerPodAutoscaler settings (queue-driven workers)."""
    keda_worker: KedaScaleInfo | None = None
    """KEDA ScaledObject settings; min/max replicas come from scale.min/max."""


# ---- release --------------------------------------------------------------------------------------------
class GeometricScaling(WireModel):
    """Geometric ramp: start percent, multiplied by factor every delay."""

    start: Percent | None = None
    """First ramp step in percent (default 10)."""
    factor: UInt32 | None = None
    """Multiplier per step (default 2)."""
    delay: Duration | None = None
    """Minimum time between steps, a Go duration (default 10s)."""


class LinearScaling(WireModel):
    """Linear ramp: increment percent every delay."""

    increment: Percent | None = None
    """Percent added per step (default 5)."""
    delay: Duration | None = None
    """Minimum time between steps, a Go duration (default 10s)."""


class ReleaseInfo(WireModel):
    """How traffic ramps to this revision once it may be released."""

    eligible: StrictBool | None = None
    """Whether this revision may be released."""
    max: Percent | None = None
    """Cap on this revision's traffic percent (default 100)."""
    scaling_strategy: StrictStr | None = None
    """linear or geometric (default geometric)."""
    geometric_scaling: GeometricScaling | None = None
    linear_scaling: LinearScaling | None = None
    schedule: StrictStr | None = None
    """Release window: humane, inhumane (default) or always."""
    ttl: Int64 | None = None
    """Seconds before an ineligible or old revision is retired (default 432000)."""


class Canary(WireModel):
    """Canary phase: percent of traffic for ttl seconds (percent 0 = no canary)."""

    percent: Percent
    """Canary traffic percent; 0 means no canary phase."""
    ttl: Int64
    """Canary duration in seconds, counted from the first canary traffic."""


class ExternalTest(WireModel):
    """External test gate, written by a test runner."""

    enabled: StrictBool
    started: StrictBool
    completed: StrictBool
    succeeded: StrictBool | None = None
    timeout: Duration | None = None
    """How long tests may run, a Go duration (default 2h)."""
    last_updated: Time | None = None


class DatadogMonitoring(WireModel):
    enabled: StrictBool


# ---- ports ----------------------------------------------------------------------------------------------
class HTTPRetries(WireModel):
    attempts: Int32 | None = None
    per_try_timeout: Duration | None = None
    retry_on: StrictStr | None = None


class PortHTTP(WireModel):
    retries: HTTPRetries | None = None
    timeout: Duration | None = None


class PortIstio(WireModel):
    http: PortHTTP | None = None


class PortInfo(WireModel):
    """A port exposed by the app; routing uses ingresses (derived from mode when empty)."""

    name: StrictStr
    """Port name: container port name and Service targetPort; 'status' enables default probes."""
    hosts: list[StrictStr] | None = None
    """Extra hostnames routed to this port."""
    ingress_port: Int32 | None = None
    """Gateway port matched by ingress routes (default 443; 443 also matches 80)."""
    port: Int32 | None = None
    """Service and mesh port (default 80)."""
    container_port: Int32 | None = None
    """Container port (default 80)."""
    protocol: StrictStr | None = None
    """Protocol (default TCP)."""
    mode: StrictStr | None = Field(default=None, json_schema_extra=WIRE_REQUIRED)
    """public, private or local: derives ingresses when they are empty (default private)."""
    default: StrictBool | None = None
    """Prefer this port for its ingresses' default hostnames."""
    ingresses: list[StrictStr] | None = None
    """Ingresses (public, private) exposing this port; derived from mode when empty."""
    istio: PortIstio | None = None


# ---- misc target sections -------------------------------------------------------------------------------
class IAMInfo(WireModel):
    role_arn: StrictStr | None = Field(default=None, alias="role_arn")


class AWSInfo(WireModel):
    iam: IAMInfo | None = None


class IstioSidecar(WireModel):
    egress_hosts: list[StrictStr] | None = None


class TargetIstio(WireModel):
    traffic_policy: Passthrough | None = None
    sidecar: IstioSidecar | None = None


class WaypointHPA(WireModel):
    min_replicas: Int32 | None = None
    max_replicas: Int32 | None = None
    target_cpu_utilization_percentage: Int32 | None = Field(
        default=None, alias="targetCPUUtilizationPercentage"
    )


class RevisionTarget(WireModel):
    """Where and how the revision is rolled out: one ReleaseManager per target."""

    name: StrictStr
    """Target name (e.g. production): ReleaseManager and namespace suffix."""
    fleet: StrictStr
    """Fleet of Clusters (their picchu.medium.engineering/fleet label)."""
    scale: ScaleInfo
    release: ReleaseInfo | None = None
    """How traffic ramps to this revision."""
    datadog_monitoring: DatadogMonitoring | None = None
    service_monitors: list[ServiceMonitor] | None = None
    """prometheus-operator ServiceMonitors to create."""
    service_level_objectives: list[SlothServiceLevelObjective] | None = None
    """SLOs: recording rules, canary alerts and the Sloth service level."""
    service_level_objective_labels: ServiceLevelObjectiveLabels | None = None
    acceptance_target: StrictBool | None = None
    """SLO alerts on this target may fail the revision (also implied by a name containing production)."""
    config_selector: Passthrough | None = None
    """Selects Secrets/ConfigMaps to copy and inject; absent selects nothing, {} everything."""
    aws: AWSInfo | None = None
    alert_rules: list[PrometheusRuleSpec] | None = None
    """prometheus-operator rules put in the app's PrometheusRule."""
    sidecars: list[NamedObject] | None = None
    """Extra containers appended to the pod."""
    volume_mounts: list[VolumeMount] | None = None
    """Volume mounts applied to every container."""
    volumes: list[NamedObject] | None = None
    pod_annotations: StringMap | None = None
    """Pod template annotations."""
    karpenter_do_not_disrupt: StrictStr | None = None
    """'true' or a Go duration (e.g. 30m) for the karpenter.sh/do-not-disrupt pod annotation."""
    service_account_name: StrictStr | None = None
    """Pod serviceAccountName."""
    resources: Passthrough | None = None
    """Main container resources."""
    liveness_probe: Passthrough | None = None
    readiness_probe: Passthrough | None = None
    lifecycle: Passthrough | None = None
    affinity: Passthrough | None = None
    priority_class_name: StrictStr | None = None
    tolerations: PassthroughList | None = None
    external_test: ExternalTest | None = None
    """External test gate."""
    canary: Canary | None = None
    """Canary phase before the release ramp."""
    default_ingress_ports: StringMap | None = None
    """Ingress name to the port receiving that ingress's default hostnames."""
    ports: list[PortInfo] | None = None
    """Ports the app exposes."""
    env: list[NamedObject] | None = None
    """Environment of every container."""
    istio: TargetIstio | None = None
    pod_disruption_budget: Passthrough | None = None
    """App-level PodDisruptionBudget spec (default maxUnavailable 10%)."""
    topology_spread_constraint: TopologySpreadConstraint | None = None
    """Pod topology spread constraint (DoNotSchedule is applied as ScheduleAnyway)."""
    ambient_mesh: StrictBool | None = None
    """Use Istio ambient mode with a waypoint for the namespace."""
    waypoint_hpa: WaypointHPA | None = Field(default=None, alias="waypointHPA")
    waypoint_resources: Passthrough | None = None
    """istio-proxy resources of the waypoint."""
    scheduler_name: StrictStr | None = None
    """Pod schedulerName."""

    @property
    def has_autoscaler(self) -> bool:
        """§3.1 HasAutoscaler: a CPU, memory or requests-rate target, a worker or a KEDA worker is set."""
        scale = self.scale
        return any(
            value is not None
            for value in (
                scale.target_cpu_utilization_percentage,
                scale.target_memory_utilization_percentage,
                scale.target_requests_rate,
                scale.worker,
                scale.keda_worker,
            )
        )

    @property
    def canary_percent(self) -> int:
        """Canary traffic percent; 0 means the target has no canary phase."""
        return self.canary.percent if self.canary is not None else 0

    @property
    def is_acceptance(self) -> bool:
        """§6.6: an acceptance target (explicit flag, or a name containing `production`)."""
        return bool(self.acceptance_target) or "production" in self.name

    def port(self, name: str) -> PortInfo | None:
        return next((port for port in self.ports or [] if port.name == name), None)


class RevisionSpec(WireModel):
    """A deployable tag of an app and its rollout targets."""

    app: RevisionApp
    targets: list[RevisionTarget]
    failed: StrictBool
    """Rollback switch: true fails the revision everywhere."""
    ignore_slos: StrictBool | None = Field(default=None, alias="ignoreSLOs")
    """Never fail this revision on SLO alerts (timeouts still fail it)."""
    canary_with_sli_rules: StrictBool | None = Field(default=None, alias="canaryWithSLIRules")
    """Fail on canary alerts of this tag instead of SLO alerts."""
    sentry: SentryInfo | None = None
    tag_routing_header: StrictStr | None = None
    """HTTP header whose value routes a request straight to a tag."""
    disable_mirroring: StrictBool | None = None
    """Skip Mirror processing for this revision."""
    event_driven: StrictBool | None = None
    """Run with zero replicas on clusters with disableEventDriven."""


# ---- status ---------------------------------------------------------------------------------------------
class RevisionTargetStatusScale(OpenModel):
    current: Int32 = 0
    desired: Int32 = 0
    peak: Int32 = 0


class RevisionTargetStatusRelease(OpenModel):
    current_percent: UInt32 = 0
    peak_percent: UInt32 = 0


class RevisionTargetStatus(OpenModel):
    name: StrictStr = ""
    scale: RevisionTargetStatusScale = Field(default_factory=RevisionTargetStatusScale)
    release: RevisionTargetStatusRelease = Field(default_factory=RevisionTargetStatusRelease)
    state: StrictStr = ""


class RevisionStatusSentry(OpenModel):
    release: StrictBool = Field(default=False, json_schema_extra=WIRE_REQUIRED)


class RevisionStatus(OpenModel):
    """Rebuilt by the Revision reconciler from each target's ReleaseManager entry for this tag."""

    sentry: RevisionStatusSentry = Field(
        default_factory=RevisionStatusSentry, json_schema_extra=WIRE_REQUIRED
    )
    targets: list[RevisionTargetStatus] = Field(default_factory=list, json_schema_extra=WIRE_REQUIRED)
    """One entry per target, copied from that target's ReleaseManager."""
    conditions: list[StatusCondition] | None = None
    """Released (every target released), Progressing (reason says what it waits for or what blocks it),
    Failed (rolled back or timed out), Valid (spec accepted), AlertsClear (no SLO alert firing)."""


class Revision(Resource):
    """A deployable tag of an app and how to roll it out to each target (Picchu Revision)."""

    KIND = "Revision"
    PLURAL = "revisions"

    api_version: StrictStr | None = Field(default=None, alias="apiVersion")
    kind: Literal["Revision"] | None = None
    spec: RevisionSpec
    status: RevisionStatus | None = None

    @property
    def app(self) -> str:
        return self.spec.app.name

    @property
    def tag(self) -> str:
        return self.spec.app.tag

    @property
    def git_timestamp(self) -> datetime | None:
        """The `git-scm.com/committer-timestamp` annotation; None when missing or unparseable (sorts oldest)."""
        return parse_time(self.annotations.get(ANNOTATION_GIT_COMMIT_TIMESTAMP))

    @property
    def failed_at(self) -> datetime | None:
        """The `failed-at-timestamp` annotation Picchu sets when it fails the Revision; None if absent/bad."""
        return parse_time(self.annotations.get(ANNOTATION_FAILED_AT))

    @property
    def is_failed(self) -> bool:
        """Picchu's `Revision.Failed()`: the failed-at annotation is non-empty."""
        return bool(self.annotations.get(ANNOTATION_FAILED_AT))

    def target(self, name: str) -> RevisionTarget | None:
        """The target called `name`, or None."""
        return next((target for target in self.spec.targets if target.name == name), None)
