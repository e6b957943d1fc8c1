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
    StrictBool,
    StrictStr,
    Time,
    UInt32,
    WireModel,
)

STATE_CREATED = "created"


class Variant(WireModel):
    name: StrictStr
    enabled: StrictBool


class ReleaseManagerSpec(WireModel):
    """The app/target pair this ReleaseManager rolls out (created by the Revision reconciler)."""

    fleet: StrictStr
    app: StrictStr
    target: StrictStr
    variants: list[Variant] | None = None


class ReleaseManagerRevisionState(OpenModel):
    current: StrictStr = Field(default=STATE_CREATED)
    target: StrictStr = Field(default=STATE_CREATED)
    last_updated: Time | None = None


class ReleaseManagerRevisionMetrics(OpenModel):
    git_create_seconds_int: Int64 | None = None
    git_deploy_seconds_int: Int64 | None = None
    git_canary_seconds_int: Int64 | None = None
    git_pending_release_seconds_int: Int64 | None = None
    git_release_seconds_int: Int64 | None = None
    revision_deploy_seconds_int: Int64 | None = None
    revision_canary_seconds_int: Int64 | None = None
    revision_release_seconds_int: Int64 | None = None
    revision_pending_release_seconds_int: Int64 | None = None
    revision_rollback_seconds_int: Int64 | None = None
    deploy_seconds_int: Int64 | None = None
    canary_seconds_int: Int64 | None = None
    release_seconds_int: Int64 | None = None


class ReleaseManagerRevisionScaleStatus(OpenModel):
    current: Int32 = Field(default=0, alias="Current")
    desired: Int32 = Field(default=0, alias="Desired")
    peak: Int32 = Field(default=0, alias="Peak")


class ReleaseManagerRevisionStatus(OpenModel):
    """Rollout state of one tag (an incarnation) on this app/target."""

    tag: StrictStr
    state: ReleaseManagerRevisionState = Field(default_factory=ReleaseManagerRevisionState)
    current_percent: UInt32 = Field(default=0)
    """Traffic percent right now."""
    peak_percent: UInt32 = Field(default=0)
    """Highest percent ever reached."""
    release_eligible: StrictBool = Field(default=False)
    triggered_alerts: list[StrictStr] | None = None
    last_updated: Time | None = Field(default=None)
    """When currentPercent last changed; ramp delays count from it."""
    git_timestamp: Time | None = None
    revision_timestamp: Time | None = None
    deploying_start_timestamp: Time | None = None
    canary_start_timestamp: Time | None = None
    pending_release_start_timestamp: Time | None = None
    release_start_timestamp: Time | None = None
    ttl: Int64 | None = None
    metrics: ReleaseManagerRevisionMetrics = Field(default_factory=ReleaseManagerRevisionMetrics)
    scale: ReleaseManagerRevisionScaleStatus = Field(default_factory=ReleaseManagerRevisionScaleStatus)
    """Replicas summed over live clusters (keys Current, Desired, Peak)."""
    deleted: StrictBool | None = None
    """No ReplicaSet for the tag was observed."""

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
    weights: dict[StrictStr, UInt32] = Field(default_factory=dict)
    """Tag to weight of the release route in that cluster's VirtualService (absent: no route, 0)."""
    applied_at: Time | None = None
    """When these weights were applied there."""


class ReleaseManagerStatus(OpenModel):
    """Per-tag rollout state, written by the ReleaseManager reconciler."""

    last_updated: Time | None = Field(default=None)
    revisions: list[ReleaseManagerRevisionStatus] | None = None
    applied: list[ReleaseManagerClusterApplied] | None = None
    """Per cluster, the weights last applied there (picchu extension; a cluster that answers again is brought to the decided weights)."""

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
