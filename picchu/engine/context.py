"""Everything one pass needs, built once per process: the delivery client, settings, clock and collaborators.

Passes take an `EngineContext` instead of reaching for globals, so tests build one around the local control
plane and the operator builds one at start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from picchu.clusters.desired import RememberedPlan
from picchu.engine.delivery import DeliveryCluster
from picchu.engine.events import EventRecorder
from picchu.engine.parsed import ParsedModels
from picchu.metrics import OperatorMetrics
from picchu.settings import Settings


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class EngineContext:
    settings: Settings
    delivery: DeliveryCluster
    events: EventRecorder
    metrics: OperatorMetrics
    alerts: Any  # picchu.monitoring AlertSource
    pool: Any = None  # picchu.clusters.pool.ClientPool: one client per target cluster
    applier: Any = None  # picchu.clusters applier (server-side apply, prune, skip unchanged)
    observer: Any = None  # picchu.clusters observer (ReplicaSets per tag per cluster)
    calendar: Any = None  # picchu.release.schedule.ReleaseCalendar (zone + holidays), built once
    notifier: Any = None  # picchu.notify Notifier
    clock: Callable[[], datetime] = field(default=utc_now)
    wake_release_manager: Callable[[str, str], None] = field(default=lambda namespace, name: None)
    last_pass: dict[tuple[str, str], float] = field(default_factory=dict)
    """Monotonic time of each ReleaseManager's last pass (for the reconcile-interval histogram)."""
    metric_series: dict[tuple[str, ...], str] = field(default_factory=dict)
    """Label values last exported per series family, so series of departed tags can be removed."""
    parsed: ParsedModels = field(default_factory=ParsedModels)
    """Models of the delivery objects, per object version (`parsed.ParsedModels`)."""
    rendered: dict[tuple[str, str], dict[str, tuple[str, RememberedPlan]]] = field(default_factory=dict)
    """Per ReleaseManager (namespace, name), per cluster: the fingerprint of the inputs of the last plan applied
    without failure and that plan as a `RememberedPlan` (see `rendering.PlanInput`)."""
