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
    """Create a Sentry release for this tag."""


# ---- scale ----------------------------------------------------------------------------------------------
class WorkerScaleInfo(WireModel):
    """WorkerPodAutoscaler settings (queue-driven workers)."""

    queue_uri: StrictStr
    """URI of the queue whose depth drives the WorkerPodAutoscaler."""
    target_messages_per_worker: Int32
    """Queue messages each worker should handle."""
    seconds_to_process_one_job_string: StrictStr | None = None
    """Average seconds to process one job, as a decimal string."""
    max_disruption: StrictStr
    """Largest share of workers that may be scaled down at once (e.g. "10%")."""


class KedaScaleInfo(WireModel):
    """KEDA ScaledObject settings; min/max replicas come from scale.min/max."""

    cooldown_period: Int32 | None = None
    """Seconds after the last active trigger before scaling to idle (KEDA cooldownPeriod)."""
    idle_replica_count: Int32 | None = None
    """Replicas while no trigger is active (KEDA idleReplicaCount)."""
    min_replica_count: Int32 | None = None
    """KEDA minReplicaCount; picchu derives it from scale.min when unset."""
    max_replica_count: Int32 | None = None
    """KEDA maxReplicaCount; picchu derives it from scale.max when unset."""
    advanced: Passthrough | None = None
    """KEDA advanced settings, copied verbatim into the ScaledObject."""
    triggers: list[KedaTrigger]
    """KEDA triggers (type and metadata), copied into the ScaledObject."""
    fallback: Passthrough | None = None
    """KEDA fallback settings, copied verbatim into the ScaledObject."""
    aws_eks_auth: StrictBool | None = None
    """Authenticate triggers with the pod's AWS EKS identity (a TriggerAuthentication)."""


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
    """Ramp settings when scalingStrategy is geometric."""
    linear_scaling: LinearScaling | None = None
    """Ramp settings when scalingStrategy is linear."""
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
    """Gate the release on an external test (set by the test system)."""
    started: StrictBool
    """The external test has started."""
    completed: StrictBool
    """The external test has finished."""
    succeeded: StrictBool | None = None
    """The external test passed (meaningful once completed)."""
    timeout: Duration | None = None
    """How long tests may run, a Go duration (default 2h)."""
    last_updated: Time | None = None
    """When the test system last updated this section."""


class DatadogMonitoring(WireModel):
    enabled: StrictBool
    """Create Datadog SLOs/monitors for this target."""


# ---- ports ----------------------------------------------------------------------------------------------
class HTTPRetries(WireModel):
    attempts: Int32 | None = None
    """Number of retries."""
    per_try_timeout: Duration | None = None
    """Timeout per attempt, a Go duration (e.g. 2s)."""
    retry_on: StrictStr | None = None
    """Retry conditions, e.g. "5xx,connect-failure"."""


class PortHTTP(WireModel):
    retries: HTTPRetries | None = None
    """Istio HTTPRetry of the route."""
    timeout: Duration | None = None
    """Route timeout, a Go duration."""


class PortIstio(WireModel):
    http: PortHTTP | None = None
    """HTTP route settings (retries, timeout)."""


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
    """Istio settings of this port's routes."""


# ---- misc target sections -------------------------------------------------------------------------------
class IAMInfo(WireModel):
    role_arn: StrictStr | None = Field(default=None, alias="role_arn")
    """IAM role the pods' service account assumes."""


class AWSInfo(WireModel):
    iam: IAMInfo | None = None
    """IAM settings (IRSA)."""


class IstioSidecar(WireModel):
    egress_hosts: list[StrictStr] | None = None
    """Hosts the app's sidecar may reach ("namespace/host")."""


class TargetIstio(WireModel):
    traffic_policy: Passthrough | None = None
    """Istio TrafficPolicy of this tag's DestinationRule subset."""
    sidecar: IstioSidecar | None = None
    """Istio Sidecar resource settings of the app."""


class WaypointHPA(WireModel):
    min_replicas: Int32 | None = None
    """Minimum waypoint replicas."""
    max_replicas: Int32 | None = None
    """Maximum waypoint replicas."""
    target_cpu_utilization_percentage: Int32 | None = Field(
        default=None, alias="targetCPUUtilizationPercentage"
    )
    """Waypoint CPU utilisation target."""


class RevisionTarget(WireModel):
    """Where and how the revision is rolled out: one ReleaseManager per target."""

    name: StrictStr
    """Target name (e.g. production): ReleaseManager and namespace suffix."""
    fleet: StrictStr
    """Fleet of Clusters (their picchu.medium.engineering/fleet label)."""
    scale: ScaleInfo
    """Replica counts across the fleet and autoscaling targets."""
    release: ReleaseInfo | None = None
    """How traffic ramps to this revision."""
    datadog_monitoring: DatadogMonitoring | None = None
    """Datadog monitoring of this target (SLOs and monitors)."""
    service_monitors: list[ServiceMonitor] | None = None
    """prometheus-operator ServiceMonitors to create."""
    service_level_objectives: list[SlothServiceLevelObjective] | None = None
    """SLOs: recording rules, canary alerts and the Sloth service level."""
    service_level_objective_labels: ServiceLevelObjectiveLabels | None = None
    """Labels added to every SLO's rules and alerts of this target."""
    acceptance_target: StrictBool | None = None
    """SLO alerts on this target may fail the revision (also implied by a name containing production)."""
    config_selector: Passthrough | None = None
    """Selects Secrets/ConfigMaps to copy and inject; absent selects nothing, {} everything."""
    aws: AWSInfo | None = None
    """AWS settings of the pods."""
    alert_rules: list[PrometheusRuleSpec] | None = None
    """prometheus-operator rules put in the app's PrometheusRule."""
    sidecars: list[NamedObject] | None = None
    """Extra containers appended to the pod."""
    volume_mounts: list[VolumeMount] | None = None
    """Volume mounts applied to every container."""
    volumes: list[NamedObject] | None = None
    """Pod volumes (core/v1 Volume), mounted with volumeMounts."""
    pod_annotations: StringMap | None = None
    """Pod template annotations."""
    karpenter_do_not_disrupt: StrictStr | None = None
    """'true' or a Go duration (e.g. 30m) for the karpenter.sh/do-not-disrupt pod annotation."""
    service_account_name: StrictStr | None = None
    """Pod serviceAccountName."""
    resources: Passthrough | None = None
    """Main container resources."""
    liveness_probe: Passthrough | None = None
    """Liveness probe of the main container (core/v1 Probe)."""
    readiness_probe: Passthrough | None = None
    """Readiness probe of the main container (core/v1 Probe); readiness gates traffic."""
    lifecycle: Passthrough | None = None
    """Lifecycle hooks of the main container (core/v1 Lifecycle)."""
    affinity: Passthrough | None = None
    """Pod affinity rules (core/v1 Affinity)."""
    priority_class_name: StrictStr | None = None
    """PriorityClass of the pods."""
    tolerations: PassthroughList | None = None
    """Pod tolerations (core/v1 Toleration)."""
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
    """Istio settings for this target (traffic policy, sidecar egress)."""
    pod_disruption_budget: Passthrough | None = None
    """App-level PodDisruptionBudget spec (default maxUnavailable 10%)."""
    topology_spread_constraint: TopologySpreadConstraint | None = None
    """Pod topology spread constraint (DoNotSchedule is applied as ScheduleAnyway)."""
    ambient_mesh: StrictBool | None = None
    """Use Istio ambient mode with a waypoint for the namespace."""
    waypoint_hpa: WaypointHPA | None = Field(default=None, alias="waypointHPA")
    """Autoscaling of the app's Istio waypoint proxy."""
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
    """The application and build (image, tag) this Revision deploys."""
    targets: list[RevisionTarget]
    """Where and how to roll the revision out: one entry per target (e.g. production), each with its fleet."""
    failed: StrictBool
    """Rollback switch: true fails the revision everywhere."""
    ignore_slos: StrictBool | None = Field(default=None, alias="ignoreSLOs")
    """Never fail this revision on SLO alerts (timeouts still fail it)."""
    canary_with_sli_rules: StrictBool | None = Field(default=None, alias="canaryWithSLIRules")
    """Fail on canary alerts of this tag instead of SLO alerts."""
    sentry: SentryInfo | None = None
    """Sentry release tracking."""
    tag_routing_header: StrictStr | None = None
    """HTTP header whose value routes a request straight to a tag."""
    disable_mirroring: StrictBool | None = None
    """Skip Mirror processing for this revision."""
    event_driven: StrictBool | None = None
    """Run with zero replicas on clusters with disableEventDriven."""


# ---- status ---------------------------------------------------------------------------------------------
class RevisionTargetStatusScale(OpenModel):
    current: Int32 = 0
    """Available pods."""
    desired: Int32 = 0
    """Desired pods."""
    peak: Int32 = 0
    """Most pods ever available."""


class RevisionTargetStatusRelease(OpenModel):
    current_percent: UInt32 = 0
    """Percent of the target's traffic right now."""
    peak_percent: UInt32 = 0
    """Highest percent ever reached."""


class RevisionTargetStatus(OpenModel):
    name: StrictStr = ""
    """Target name."""
    scale: RevisionTargetStatusScale = Field(default_factory=RevisionTargetStatusScale)
    """Ready and desired pods summed over the live clusters of the fleet."""
    release: RevisionTargetStatusRelease = Field(default_factory=RevisionTargetStatusRelease)
    """Traffic share of this revision on the target."""
    state: StrictStr = ""
    """Rollout state on the target: created, deploying, deployed, canarying, pendingrelease, releasing,
    released, retired, failing, failed, ..."""


class RevisionStatusSentry(OpenModel):
    release: StrictBool = Field(default=False)
    """Whether a Sentry release was created."""


class RevisionStatus(OpenModel):
    """Rebuilt by the Revision reconciler from each target's ReleaseManager entry for this tag."""

    sentry: RevisionStatusSentry = Field(
        default_factory=RevisionStatusSentry
    )
    """Sentry release tracking state."""
    targets: list[RevisionTargetStatus] = Field(default_factory=list)
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
