"""The ReleaseManager kind: one per (app, target), holding the per-tag rollout state in its status (spec §3.4).

Why: the release engine keeps each incarnation's progress in `status.revisions[]`; a Python operator can take
over from a running Go Picchu only if this status is read and written with Picchu's exact keys (note the
capitalised `scale.Current/Desired/Peak`). Status sections keep unknown keys (kopf and future Picchu
versions may add some). `state.current` is a free string: unknown or legacy names are the release engine's
concern, not a parse error.

Neighbours: `common` (wire types), the release engine (reads/writes these), `crdgen`. Pure: `fresh` takes
`now` as an argument.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from picchu.api.v1alpha1.common import (
    Int32,
    Int64,
    OpenModel,
    Resource,
    StatusCondition,
    StrictBool,
    StrictStr,
    Time,
    UInt32,
    WireModel,
)

STATE_CREATED = "created"


class Variant(WireModel):
    name: StrictStr
    """Variant name."""
    enabled: StrictBool
    """Whether the variant is enabled."""


class ReleaseManagerSpec(WireModel):
    """The app/target pair this ReleaseManager rolls out (created by the Revision reconciler)."""

    fleet: StrictStr
    """Fleet (Cluster label picchu.medium.engineering/fleet) the app is rolled out to."""
    app: StrictStr
    """Application name (Revision spec.app.name)."""
    target: StrictStr
    """Target name (Revision spec.targets[].name)."""
    variants: list[Variant] | None = None
    """Feature variants (Picchu field, unused by picchu)."""


class ReleaseManagerRevisionState(OpenModel):
    current: StrictStr = Field(default=STATE_CREATED)
    """Current state (created, deploying, deployed, ..., released, retired, failed)."""
    target: StrictStr = Field(default=STATE_CREATED)
    """State being entered (same as current in picchu)."""
    last_updated: Time | None = None
    """When the state last changed."""


class ReleaseManagerRevisionMetrics(OpenModel):
    git_create_seconds_int: Int64 | None = None
    """Commit to Revision creation."""
    git_deploy_seconds_int: Int64 | None = None
    """Commit to deployed."""
    git_canary_seconds_int: Int64 | None = None
    """Commit to canaried."""
    git_pending_release_seconds_int: Int64 | None = None
    """Commit to pendingrelease."""
    git_release_seconds_int: Int64 | None = None
    """Commit to released."""
    revision_deploy_seconds_int: Int64 | None = None
    """Revision creation to deployed."""
    revision_canary_seconds_int: Int64 | None = None
    """Revision creation to canaried."""
    revision_release_seconds_int: Int64 | None = None
    """Revision creation to released."""
    revision_pending_release_seconds_int: Int64 | None = None
    """Revision creation to pendingrelease."""
    revision_rollback_seconds_int: Int64 | None = None
    """Failure to rolled back."""
    deploy_seconds_int: Int64 | None = None
    """Start of deploying to deployed."""
    canary_seconds_int: Int64 | None = None
    """Start of canarying to canaried."""
    release_seconds_int: Int64 | None = None
    """Start of releasing to released."""


class ReleaseManagerRevisionScaleStatus(OpenModel):
    current: Int32 = Field(default=0, alias="Current")
    """Available pods over the live clusters."""
    desired: Int32 = Field(default=0, alias="Desired")
    """Desired pods over the live clusters."""
    peak: Int32 = Field(default=0, alias="Peak")
    """Most pods ever available."""


class ReleaseManagerRevisionWaiting(OpenModel):
    """Why a tag does not advance (picchu extension, ignored by Go Picchu)."""

    reason: StrictStr
    """WaitingForCapacity or OutsideReleaseWindow."""
    message: StrictStr = ""
    """Details, e.g. "v2 waits for capacity: 4/22 pods"."""


class ReleaseManagerRevisionStatus(OpenModel):
    """Rollout state of one tag (an incarnation) on this app/target."""

    tag: StrictStr
    """Revision tag this entry tracks."""
    state: ReleaseManagerRevisionState = Field(
        default_factory=ReleaseManagerRevisionState
    )
    """Rollout state of the tag."""
    current_percent: UInt32 = Field(default=0)
    """Traffic percent right now."""
    peak_percent: UInt32 = Field(default=0)
    """Highest percent ever reached."""
    release_eligible: StrictBool = Field(default=False)
    """Whether this tag may take traffic (copied from the Revision while deploying)."""
    triggered_alerts: list[StrictStr] | None = None
    """SLO alerts that failed this tag."""
    last_updated: Time | None = Field(default=None)
    """When currentPercent last changed; ramp delays count from it."""
    git_timestamp: Time | None = None
    """Commit time of the build (Revision annotation)."""
    revision_timestamp: Time | None = None
    """When the Revision was created."""
    deploying_start_timestamp: Time | None = None
    """When the tag entered deploying."""
    canary_start_timestamp: Time | None = None
    """When the tag entered canarying."""
    pending_release_start_timestamp: Time | None = None
    """When the tag entered pendingrelease."""
    release_start_timestamp: Time | None = None
    """When the tag entered releasing."""
    ttl: Int64 | None = None
    """Seconds after which an unreleased or superseded tag is retired."""
    metrics: ReleaseManagerRevisionMetrics = Field(default_factory=ReleaseManagerRevisionMetrics)
    """Latencies already observed for this tag, in whole seconds (each is recorded once)."""
    scale: ReleaseManagerRevisionScaleStatus = Field(
        default_factory=ReleaseManagerRevisionScaleStatus
    )
    """Replicas summed over live clusters (keys Current, Desired, Peak)."""
    deleted: StrictBool | None = None
    """No ReplicaSet for the tag was observed."""
    waiting: ReleaseManagerRevisionWaiting | None = None
    """What the tag waits for this pass (picchu extension; absent when it is not waiting)."""
    # Additive fields (ours, Go Picchu ignores them): what `picchu status` shows.
    promoted: StrictStr | None = None
    """Id of the last `picchu promote` step request the ramp used (each request is used once)."""
    hold_reason: StrictStr | None = None
    """Why the tag is not moving right now (capacity, release window, paused, canary...), if it waits."""
    next_step_at: Time | None = None
    """When its next upward step (or the end of its canary) is due, if one is ahead."""

    @classmethod
    def fresh(cls, tag: str, now: datetime) -> ReleaseManagerRevisionStatus:
        """A brand-new entry (§3.4): state created/created, lastUpdated = now, percents 0."""
        return cls(
            tag=tag,
            state=ReleaseManagerRevisionState(current=STATE_CREATED, target=STATE_CREATED, last_updated=now),
            current_percent=0,
            peak_percent=0,
            release_eligible=False,
            last_updated=now,
            scale=ReleaseManagerRevisionScaleStatus(current=0, desired=0, peak=0),
        )


class ReleaseManagerClusterApplied(OpenModel):
    """The release-route weights last applied to one cluster (a picchu extension; Go Picchu ignores it)."""

    cluster: StrictStr
    """Name of the Cluster in the fleet."""
    weights: dict[StrictStr, UInt32] = Field(default_factory=dict)
    """Tag to weight of the release route in that cluster's VirtualService (absent: no route, 0)."""
    applied_at: Time | None = None
    """When these weights were applied there."""


class ReleaseManagerStatus(OpenModel):
    """Per-tag rollout state, written by the ReleaseManager reconciler."""

    last_updated: Time | None = Field(default=None)
    """When the status content last changed."""
    revisions: list[ReleaseManagerRevisionStatus] | None = None
    """One entry per tag (incarnation) of the app on this target, oldest first."""
    applied: list[ReleaseManagerClusterApplied] | None = None
    """Per cluster, the weights last applied there (picchu extension; a cluster that answers again is brought
    to the decided weights)."""
    conditions: list[StatusCondition] | None = None
    """ClustersSynced (every enabled cluster holds the desired objects) and Progressing (reason Decided, or
    what holds the whole app: NoClusterInFleet, ClusterUnreachable, AlertSourceUnavailable)."""

    def revision(self, tag: str) -> ReleaseManagerRevisionStatus | None:
        """The status entry for `tag`, or None."""
        return next((entry for entry in self.revisions or [] if entry.tag == tag), None)


class ReleaseManager(Resource):
    """Rolls out every Revision of one app to one target across its fleet (Picchu ReleaseManager)."""

    KIND = "ReleaseManager"
    PLURAL = "releasemanagers"

    kind: Literal["ReleaseManager"] | None = None
    spec: ReleaseManagerSpec
    status: ReleaseManagerStatus | None = None
