"""The two values that cross the pure core's boundary: :class:`Snapshot` in, :class:`Decision` out.

Neighbours: the engine builds a Snapshot from what it read (Revisions, the ReleaseManager status, one
observation of every cluster, settings, ``now``), calls ``picchu.release.decide`` and applies the Decision
(plans, routes, GC labels, one status write). The simulator builds Snapshots without any cluster.

Invariants: everything here is immutable; a Decision is a pure function of its Snapshot. Nothing in a
Decision is persisted by the core: the engine writes ``rm_status`` only after every plan applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from picchu.api.v1alpha1.release_manager import ReleaseManagerRevisionStatus
from picchu.api.v1alpha1.revision import Revision
from picchu.release.schedule import ReleaseCalendar


@dataclass(frozen=True)
class ClusterView:
    """One *enabled* cluster of the fleet. ``live`` = enabled and not hot-standby."""

    name: str
    live: bool = True
    scaling_factor: float = 1.0
    disable_event_driven: bool = False


@dataclass(frozen=True)
class ReplicaCount:
    """ReplicaSets labelled with a tag in one cluster, summed: ``spec.replicas`` and ``availableReplicas``."""

    desired: int
    available: int


@dataclass(frozen=True)
class Observation:
    """What the clusters report, read once per pass before deciding (Picchu observes twice).

    ``replicas[tag][cluster]`` exists only when that cluster has at least one ReplicaSet labelled with the
    tag. A tag with no entry in any *reachable* cluster is absent ("deleted"). Clusters listed in
    ``unreachable`` could not be observed: their data is unknown, not zero. While a live cluster is
    unreachable the core holds: no readiness verdict, no ramp, no timeout; only failing tags shed traffic.
    """

    replicas: Mapping[str, Mapping[str, ReplicaCount]] = field(default_factory=dict)
    unreachable: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Settings:
    """Operator-wide knobs the core reads (flags of spec §4.1).

    The default calendar (UTC, no holidays) is for tests; the engine passes the configured one.
    """

    calendar: ReleaseCalendar = field(default_factory=lambda: ReleaseCalendar(zone=UTC))
    humane_releases_enabled: bool = True


@dataclass(frozen=True)
class Snapshot:
    """Everything one ReleaseManager pass may look at."""

    app: str
    target: str
    fleet: str
    now: datetime
    revisions: tuple[Revision, ...] = ()
    """Defaulted Revisions of the app having a target named ``target``."""
    rm_status: tuple[ReleaseManagerRevisionStatus, ...] = ()
    clusters: tuple[ClusterView, ...] = ()
    observation: Observation = field(default_factory=Observation)
    settings: Settings = field(default_factory=Settings)
    rm_name: str = ""
    hold_traffic: str = ""
    """Non-empty: keep every weight where it is this pass, for this reason (e.g. the alert source cannot be
    read, so a step could neither be justified nor rolled back). States still advance, and failing tags
    still shed traffic (``safety.py``)."""
    applied: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """Release-route weights last applied to each cluster (``status.applied``); a cluster without a record is
    taken to hold the weights of ``rm_status``."""

    @property
    def namespace(self) -> str:
        """Target namespace on every cluster: ``«app»-«target»``."""
        return f"{self.app}-{self.target}"

    @property
    def live_clusters(self) -> tuple[ClusterView, ...]:
        return tuple(c for c in self.clusters if c.live)


@dataclass(frozen=True)
class ClusterScale:
    """Per-cluster numbers for one tag, already multiplied by the cluster's factor (0 for event-driven
    revisions on a ``disableEventDriven`` cluster)."""

    cluster: str
    replicas: int
    autoscaler_min: int
    autoscaler_max: int


@dataclass(frozen=True)
class AutoscalerTargets:
    """Autoscaler utilisation targets scaled by ``targetScale`` (copies; the Revision is never mutated)."""

    cpu: int | None = None
    memory: int | None = None
    requests_rate: str | None = None
    scale: float = 1.0


@dataclass(frozen=True)
class TagPlan:
    """What the engine must do for one tag this pass (the actions of its state handler, spec §9.2)."""

    tag: str
    previous_state: str
    state: str
    has_revision: bool
    routable: bool
    """In the *new* state: whether the tag gets a tagged route (canaried/pendingrelease do not). Replicas in
    ``share``/``clusters`` are the larger of those for the handler's state and for the new state (0 only when
    neither is routable)."""
    sync: bool = False
    """Apply SyncRevision + ScaleRevision (spec §8.7) with ``clusters`` and ``autoscaler``."""
    retire: bool = False
    delete: bool = False
    sync_canary_rules: bool = False
    delete_canary_rules: bool = False
    delete_tagged_service_levels: bool = False
    clusters: tuple[ClusterScale, ...] = ()
    share: ClusterScale | None = None
    """The per-cluster share before any cluster's scaling factor (renderers apply the factor); set for every
    tag with a spec that is neither retired nor deleted this pass."""
    autoscaler: AutoscalerTargets = field(default_factory=AutoscalerTargets)
    current_percent: int = 0


@dataclass(frozen=True)
class Route:
    """One weighted destination of the release routes (spec §10.4 output, sorted newest first)."""

    tag: str
    weight: int
    tag_routing_header: str | None = None
    traffic_policy: Mapping[str, object] | None = None


@dataclass(frozen=True)
class LatencyObservation:
    """A latency histogram sample to observe once (spec §15); the status field recording it is set."""

    metric: str
    tag: str
    seconds: float


@dataclass(frozen=True)
class Wait:
    """Why one tag does not advance this pass; ``reason`` is a CamelCase condition reason."""

    tag: str
    reason: str
    message: str


@dataclass(frozen=True)
class Decision:
    """The outcome of one pass. Persist ``rm_status`` only if every plan applied."""

    rm_status: tuple[ReleaseManagerRevisionStatus, ...] = ()
    plans: tuple[TagPlan, ...] = ()
    routes: tuple[Route, ...] = ()
    sync_app: bool = False
    """Whether SyncApp (Service, DestinationRule, VirtualService…) should run with ``routes``."""
    deletable_tags: tuple[str, ...] = ()
    kept: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Per cluster, tags whose objects stay as they are there this pass: that cluster still routed traffic to
    them when last applied, so they are neither retired nor deleted nor pruned there until it no longer does."""
    delete_release_manager: bool = False
    entered: tuple[tuple[str, str], ...] = ()
    """(tag, state) for every state change this pass, for events and counters."""
    latencies: tuple[LatencyObservation, ...] = ()
    reasons: tuple[str, ...] = ()
    """Human-readable explanations and holds ("v2 waits for capacity: 4/22 pods")."""
    held: bool = False
    """True when the pass made no change at all (e.g. no live cluster); nothing to apply."""
    hold_reason: str = ""
    """Why the whole app/target is held, as a condition reason: ``NoClusterInFleet``, ``ClusterUnreachable``,
    ``AlertSourceUnavailable`` (empty when nothing holds it)."""
    waits: tuple[Wait, ...] = ()
    """What individual tags wait for this pass (capacity, release window), for conditions and events."""
    recheck_in: float | None = None
    """Seconds after ``now`` when the next pass may decide something new with no outside event: 0 after a state
    change (the next state's handler may act at once), the rest of a ramp delay or canary TTL; None when only
    an outside change (pods, Revisions, alerts) or the period can move this app."""

    def plan(self, tag: str) -> TagPlan | None:
        return next((p for p in self.plans if p.tag == tag), None)

    def weights(self) -> dict[str, int]:
        return {r.tag: r.weight for r in self.routes}
