"""Incarnations and the facts the state machine reads (spec §8.1–§8.6).

An *incarnation* pairs a tag with its optional Revision and a working copy of its RM status entry. This
module builds them from a Snapshot, applies the observation, orders them newest first, and derives the
booleans of spec §8.3 (``None`` where the observation cannot tell).

Neighbours: ``states.py`` (handlers read :class:`Incarnation` facts), ``decide.py`` (owns the collection
for one pass), ``status.py`` (converts :class:`Entry` from/to the API model).

Invariants: an :class:`Incarnation` is a private, mutable working copy that never outlives one
``decide`` call; the Snapshot's models are never mutated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum

from picchu.api.v1alpha1.common import ZERO_TIME, parse_time
from picchu.api.v1alpha1.durations import parse_duration
from picchu.api.v1alpha1.revision import Revision, RevisionTarget
from picchu.release import steering
from picchu.release.capacity import ScaleBounds
from picchu.release.ramp import GEOMETRIC, RampPolicy
from picchu.release.snapshot import ClusterView, Observation

DEFAULT_TTL = timedelta(seconds=432000)
DEFAULT_EXTERNAL_TEST_TIMEOUT = timedelta(hours=2)
DEFAULT_DELAY = timedelta(seconds=10)


class TestStatus(Enum):
    UNKNOWN = "unknown"
    DISABLED = "disabled"
    PENDING = "pending"
    STARTED = "started"
    FAILED = "failed"
    SUCCEEDED = "succeeded"

    @property
    def enabled(self) -> bool:
        return self not in (TestStatus.UNKNOWN, TestStatus.DISABLED)

    @property
    def finished(self) -> bool:
        return self in (TestStatus.SUCCEEDED, TestStatus.FAILED)


@dataclass
class Entry:
    """Working copy of one ``status.revisions[]`` entry (field names follow the API model)."""

    tag: str
    state: str = "created"
    state_last_updated: datetime | None = None
    current_percent: int = 0
    peak_percent: int = 0
    release_eligible: bool = False
    last_updated: datetime | None = None
    git_timestamp: datetime | None = None
    revision_timestamp: datetime | None = None
    deploying_start: datetime | None = None
    canary_start: datetime | None = None
    pending_release_start: datetime | None = None
    release_start: datetime | None = None
    ttl: int | None = None
    metrics: dict[str, int] = field(default_factory=dict)
    scale_current: int = 0
    scale_desired: int = 0
    scale_peak: int = 0
    deleted: bool | None = None
    promoted: str | None = None
    """Id of the last ``promote`` step request used (additive status field ``promoted``)."""
    hold_reason: str | None = None
    """Why this tag does not move this pass (additive status field ``holdReason``), None when it moves."""
    next_step_at: datetime | None = None
    """When the next upward step (or the end of the canary) is due, if one is ahead (``nextStepAt``)."""


@dataclass
class Incarnation:
    tag: str
    revision: Revision | None
    target: RevisionTarget | None
    entry: Entry
    is_new: bool = False
    """No status entry existed: a fresh ``created`` entry was made this pass."""
    is_ramping: bool = False
    deployed_flag: bool | None = False
    """Every live cluster reports a ReplicaSet with an available pod; None when a live cluster is unknown."""
    available: int = 0

    # -- identity and ordering -------------------------------------------------------------------------
    @property
    def has_revision(self) -> bool:
        return self.revision is not None

    @property
    def created_at(self) -> datetime | None:
        if self.revision is None:
            return None
        raw = self.revision.metadata.get("creationTimestamp")
        return raw.astimezone(UTC) if isinstance(raw, datetime) else parse_time(raw)

    @property
    def git_time(self) -> datetime:
        if self.revision is None:
            return ZERO_TIME
        return self.revision.git_timestamp or ZERO_TIME

    # -- configuration views (tolerant of non-defaulted models) ---------------------------------------
    @property
    def policy(self) -> RampPolicy:
        """The target's ramp policy; a pending promotion drops delays (and increments, when full)."""
        base = ramp_policy(self.target)
        return base if self.paused else steering.promoted_policy(base, self.promotion)

    @property
    def natural_policy(self) -> RampPolicy:
        return ramp_policy(self.target)

    @property
    def paused(self) -> bool:
        return steering.paused(self.revision)

    @property
    def promotion(self) -> steering.Promotion | None:
        return steering.promotion(self.revision, self.entry.promoted)

    @property
    def bounds(self) -> ScaleBounds:
        return scale_bounds(self.target)

    @property
    def canary_percent(self) -> int:
        return self.target.canary_percent if self.target is not None else 0

    @property
    def schedule(self) -> str:
        release = self.target.release if self.target is not None else None
        return (release.schedule if release is not None else None) or "inhumane"

    # -- facts of spec §8.3 --------------------------------------------------------------------------------
    @property
    def marked_as_failed(self) -> bool:
        return self.revision is not None and bool(self.revision.spec.failed)

    @property
    def test_status(self) -> TestStatus:
        if self.target is None:
            return TestStatus.UNKNOWN
        t = self.target.external_test
        if t is None:
            return TestStatus.DISABLED
        if t.completed and t.succeeded:
            return TestStatus.SUCCEEDED
        if t.completed:
            return TestStatus.FAILED
        if t.started:
            return TestStatus.STARTED
        if t.enabled:
            return TestStatus.PENDING
        return TestStatus.DISABLED

    @property
    def has_failed(self) -> bool:
        return self.marked_as_failed or self.test_status is TestStatus.FAILED

    @property
    def is_deployed(self) -> bool | None:
        if self.deployed_flag is None:
            return None
        return self.entry.scale_current >= self.entry.scale_desired and self.deployed_flag

    def is_canary_pending(self, now: datetime) -> bool:
        """The canary still runs: its TTL has not elapsed (a promotion ends it at once unless paused)."""
        if self.promotion is not None and not self.paused:
            return False
        return self.canary_ttl_pending(now)

    def canary_ttl_pending(self, now: datetime) -> bool:
        t = self.target
        if t is None or t.canary is None or t.canary.percent == 0 or t.canary.ttl == 0:
            return False
        if not t.service_level_objectives:
            return False
        start = self.entry.canary_start
        return start is None or start + timedelta(seconds=t.canary.ttl) > now

    def is_timing_out(self, now: datetime) -> bool:
        """External test overdue: only while the test is pending or started (``externalTest.timeout``)."""
        if self.test_status not in (TestStatus.PENDING, TestStatus.STARTED) or self.target is None:
            return False
        test = self.target.external_test
        assert test is not None  # PENDING/STARTED imply a test
        reference = test.last_updated or self.entry.state_last_updated
        timeout = _duration(test.timeout, DEFAULT_EXTERNAL_TEST_TIMEOUT)
        if reference is None or not timeout:
            return False
        return reference + timeout < now

    def is_expired(self, now: datetime) -> bool:
        created = self.created_at
        if created is None:
            return False
        return created + timedelta(seconds=self.entry.ttl or 0) < now

    @property
    def routable(self) -> bool:
        return self.entry.state not in ("canaried", "pendingrelease")


# -- model adapters ---------------------------------------------------------------------------------------
def _duration(text: str | None, default: timedelta) -> timedelta:
    if not text:
        return default
    try:
        return parse_duration(text)
    except ValueError:
        return default


def ramp_policy(target: RevisionTarget | None) -> RampPolicy:
    """The target's release settings with the defaults of spec §3.2 (zero → default)."""
    release = target.release if target is not None else None
    if release is None:
        return RampPolicy()
    geo, lin = release.geometric_scaling, release.linear_scaling
    return RampPolicy(
        strategy=release.scaling_strategy or GEOMETRIC,
        max_percent=release.max or 100,
        geometric_start=(geo.start if geo else None) or 10,
        geometric_factor=(geo.factor if geo else None) or 2,
        geometric_delay=_duration(geo.delay if geo else None, DEFAULT_DELAY),
        linear_increment=(lin.increment if lin else None) or 5,
        linear_delay=_duration(lin.delay if lin else None, DEFAULT_DELAY),
    )


def scale_bounds(target: RevisionTarget | None) -> ScaleBounds:
    if target is None:
        return ScaleBounds(min=None, max=1, has_autoscaler=False)
    s = target.scale
    return ScaleBounds(
        min=s.min,
        max=s.max or 1,
        has_autoscaler=target.has_autoscaler,
        worker=s.worker is not None or s.keda_worker is not None,
    )


def release_ttl(target: RevisionTarget | None) -> int:
    release = target.release if target is not None else None
    return (release.ttl if release is not None else None) or int(DEFAULT_TTL.total_seconds())


# -- collection --------------------------------------------------------------------------------------------
def newest_first(incarnations: Sequence[Incarnation]) -> list[Incarnation]:
    """Spec §8.4: git timestamp desc, then creation desc; ties by tag (Picchu's order was undefined)."""

    def key(i: Incarnation) -> tuple[datetime, datetime, str]:
        return (i.git_time, i.created_at or ZERO_TIME, i.tag)

    return sorted(incarnations, key=key, reverse=True)


def apply_observation(
    inc: Incarnation, observation: Observation, clusters: Sequence[ClusterView], now: datetime
) -> None:
    """Spec §8.6 with unknown clusters: sums over reachable live clusters; readiness unknown if any live
    cluster is unreachable; "deleted" (percent forced to 0) only when every cluster was observed."""
    per_cluster = observation.replicas.get(inc.tag, {})
    live = [c for c in clusters if c.live]
    live_unknown = any(c.name in observation.unreachable for c in live)
    any_unknown = any(c.name in observation.unreachable for c in clusters)
    e = inc.entry
    if not per_cluster and not any_unknown:
        inc.deployed_flag = False
        if e.current_percent != 0:
            e.current_percent = 0
            e.last_updated = now
        e.scale_current = e.scale_desired = 0
        e.deleted = True
        inc.available = 0
        return
    seen = [per_cluster[c.name] for c in live if c.name in per_cluster]
    e.deleted = False if per_cluster else e.deleted
    e.scale_desired = sum(r.desired for r in seen)
    e.scale_current = sum(r.available for r in seen)
    e.scale_peak = max(e.scale_peak, e.scale_current)
    inc.available = e.scale_current
    if live_unknown:
        inc.deployed_flag = None
    else:
        inc.deployed_flag = bool(live) and len(seen) == len(live) and min(r.available for r in seen) > 0
