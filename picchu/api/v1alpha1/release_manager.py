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
    WIRE_REQUIRED,
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
    current: StrictStr = Field(default=STATE_CREATED, json_schema_extra=WIRE_REQUIRED)
    target: StrictStr = Field(default=STATE_CREATED, json_schema_extra=WIRE_REQUIRED)
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
    state: ReleaseManagerRevisionState = Field(
        default_factory=ReleaseManagerRevisionState, json_schema_extra=WIRE_REQUIRED
    )
    current_percent: UInt32 = Field(default=0, json_schema_extra=WIRE_REQUIRED)
    """Traffic percent right now."""
    peak_percent: UInt32 = Field(default=0, json_schema_extra=WIRE_REQUIRED)
    """Highest percent ever reached."""
    release_eligible: StrictBool = Field(default=False, json_schema_extra=WIRE_REQUIRED)
    triggered_alerts: list[StrictStr] | None = None
    last_updated: Time | None = Field(default=None, json_schema_extra=WIRE_REQUIRED)
    """When currentPercent last changed; ramp delays count from it."""
    git_timestamp: Time | None = None
    revision_timestamp: Time | None = None
    deploying_start_timestamp: Time | None = None
    canary_start_timestamp: Time | None = None
    pending_release_start_timestamp: Time | None = None
    release_start_timestamp: Time | None = None
    ttl: Int64 | None = None
    metrics: ReleaseManagerRevisionMetrics = Field(default_factory=ReleaseManagerRevisionMetrics)
    scale: ReleaseManagerRevisionScaleStatus = Field(
        default_factory=ReleaseManagerRevisionScaleStatus, json_schema_extra=WIRE_REQUIRED
    )
    """Replicas summed over live clusters (keys Current, Desired, Peak)."""
    deleted: StrictBool | None = None
    """No ReplicaSet for the tag was observed."""
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


class ReleaseManagerStatus(OpenModel):
    """Per-tag rollout state, written by the ReleaseManager reconciler."""

    last_updated: Time | None = Field(default=None, json_schema_extra=WIRE_REQUIRED)
    revisions: list[ReleaseManagerRevisionStatus] | None = None

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
