"""The operator's Prometheus metrics, with Picchu's names and buckets (spec §15) so dashboards keep working.

Differences from Picchu, on purpose (§17 #10, #11): `picchu_revision_release_weight` carries a `tag` label
(Picchu overwrote one series per app with an arbitrary revision's weight), and `picchu_revision_failed` /
`picchu_mirror_failure_counter` are served (Picchu registered them where nobody could scrape them).

Beside Picchu's names, the conventional ones (Prometheus naming: unit suffix `_seconds`, counters `_total`):
every latency histogram `picchu_X_latency` also as `picchu_X_latency_seconds`, the reconcile interval as
`picchu_release_manager_reconcile_interval_seconds`, `picchu_mirror_failures_total`. Added: pass duration
(`picchu_reconcile_duration_seconds{kind}`), the work queues with client-go's names (`workqueue_depth`,
`workqueue_adds_total`, `workqueue_queue_duration_seconds`, `workqueue_work_duration_seconds`,
`workqueue_retries_total`, label `name`), requests to target clusters (`picchu_cluster_requests_total{cluster,
method,code}`, `picchu_cluster_request_errors_total{cluster}` when no answer came), the leader gauge
(`leader_election_master_status{name}` as in client-go), `picchu_build_info{version,python_version}` and the
standard process/platform/gc collectors. No `_created` series (they doubled every counter and histogram).
One registry per process, created explicitly, so tests can build their own.
"""

from __future__ import annotations

import bisect
import itertools
import math
import platform
import threading
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

QUEUE_BUCKETS = (0.001, 0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
PASS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def _label_values(name: str, labelnames: tuple[str, ...], values: tuple[str, ...]) -> tuple[str, ...]:
    """One series' label values as strings, refused when they do not match the metric's label names."""
    if len(values) != len(labelnames):
        raise ValueError(f"{name}: expected labels {labelnames}, got {values!r}")
    return tuple(str(v) for v in values)


class Twin(Collector):
    """A per-app histogram exposed under Picchu's name and under its conventional `_seconds` name at once.

    Why not two `prometheus_client.Histogram`s: each of their children keeps one locked value object per
    bucket, so the 14 per-app histograms, twice over, cost ~94 KiB per app (measured with tracemalloc: 47 MiB
    at 500 apps). Here a label set is one list of bucket counts and a sum, shared by both names, under one
    lock; a scrape shows exactly what the two histograms showed.
    """

    def __init__(self, name: str, documentation: str, labelnames: list[str], buckets: tuple[float, ...],
                 registry: CollectorRegistry) -> None:
        self.names = (name, f"{name}_seconds")
        self.documentation, self.labelnames = documentation, tuple(labelnames)
        self.bounds = (*sorted(float(b) for b in buckets), math.inf)
        self._series: dict[tuple[str, ...], list[float]] = {}  # label values -> [count per bucket..., sum]
        self._lock = threading.Lock()
        registry.register(self)

    def labels(self, *values: str) -> _TwinChild:
        return _TwinChild(self, _label_values(self.names[0], self.labelnames, values))

    def observe(self, values: tuple[str, ...], amount: float) -> None:
        bucket = bisect.bisect_left(self.bounds, amount)  # the first bound >= amount: Prometheus' `le`
        with self._lock:
            series = self._series.get(values)
            if series is None:
                series = self._series[values] = [0.0] * (len(self.bounds) + 1)
            series[bucket] += 1
            series[-1] += amount

    def describe(self) -> list[HistogramMetricFamily]:
        return [HistogramMetricFamily(name, self.documentation, labels=self.labelnames) for name in self.names]

    def collect(self) -> list[HistogramMetricFamily]:
        with self._lock:
            snapshot = [(values, list(series)) for values, series in self._series.items()]
        families = self.describe()
        for values, series in snapshot:
            buckets = [(floatToGoString(bound), count)  # type: ignore[no-untyped-call]
                       for bound, count in zip(self.bounds, itertools.accumulate(series[:-1]), strict=True)]
            for family in families:
                family.add_metric(list(values), buckets, sum_value=series[-1])
        return families


@dataclass(frozen=True)
class _TwinChild:
    histogram: Twin
    values: tuple[str, ...]

    def observe(self, value: float) -> None:
        self.histogram.observe(self.values, value)


class LeanGauge(Collector):
    """A gauge with per-app label sets, each one dict entry (label values -> value) instead of a child object.

    Why not `prometheus_client.Gauge`: each child is an object with its own lock and value holder;
    `picchu_incarnation_count` alone has one per state (19) per app and target: 6.2 MiB at 500 apps, 1.1 MiB
    here (tracemalloc). The calls the engine makes (`labels(...).set(v)`, `remove(...)`) and the scrape are
    the same.
    """

    def __init__(self, name: str, documentation: str, labelnames: list[str], registry: CollectorRegistry) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, tuple(labelnames)
        self._values: dict[tuple[str, ...], float] = {}
        registry.register(self)

    def labels(self, *values: str) -> _LeanChild:
        return _LeanChild(self, _label_values(self.name, self.labelnames, values))

    def set(self, values: tuple[str, ...], value: float) -> None:
        self._values[values] = float(value)  # one dict store: atomic under the GIL

    def remove(self, *values: str) -> None:
        self._values.pop(tuple(str(v) for v in values), None)

    def describe(self) -> list[GaugeMetricFamily]:
        return [GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)]

    def collect(self) -> list[GaugeMetricFamily]:
        family = self.describe()[0]
        for values, value in list(self._values.items()):
            family.add_metric(list(values), value)
        return [family]


@dataclass(frozen=True)
class _LeanChild:
    gauge: LeanGauge
    values: tuple[str, ...]

    def set(self, value: float) -> None:
        self.gauge.set(self.values, value)


GIT_BUCKETS = tuple(120 * 3**k for k in range(7))
LATENCY_BUCKETS = tuple(30 * 3**k for k in range(7))
RECONCILE_BUCKETS = (10, 15, 20, 30, 45, 60, 90, 120)

# status.revisions[].metrics key -> histogram attribute; observed once per incarnation (§15)
LATENCY_FIELDS = {
    "gitCreateSecondsInt": "git_create_latency",
    "gitDeploySecondsInt": "git_deploy_latency",
    "gitCanarySecondsInt": "git_canary_latency",
    "gitPendingReleaseSecondsInt": "git_pending_release_latency",
    "gitReleaseSecondsInt": "git_release_latency",
    "revisionDeploySecondsInt": "revision_deploy_latency",
    "revisionCanarySecondsInt": "revision_canary_latency",
    "revisionPendingReleaseSecondsInt": "revision_pending_release_latency",
    "revisionReleaseSecondsInt": "revision_release_latency",
    "revisionRollbackSecondsInt": "revision_rollback_latency",
    "deploySecondsInt": "deploy_latency",
    "canarySecondsInt": "canary_latency",
    "releaseSecondsInt": "release_latency",
}


@dataclass
class OperatorMetrics:
    registry: CollectorRegistry
    git_create_latency: Twin
    git_deploy_latency: Twin
    git_canary_latency: Twin
    git_pending_release_latency: Twin
    git_release_latency: Twin
    revision_deploy_latency: Twin
    revision_canary_latency: Twin
    revision_pending_release_latency: Twin
    revision_release_latency: Twin
    revision_rollback_latency: Twin
    deploy_latency: Twin
    canary_latency: Twin
    release_latency: Twin
    incarnation_count: LeanGauge
    revision_oldest_age_seconds: LeanGauge
    revision_release_weight: LeanGauge
    release_manager_reconcile_interval: Twin
    revision_failed: LeanGauge
    mirror_failure_counter: Counter
    mirror_failures: Counter
    reconcile_errors: Counter
    reconcile_passes: Counter
    cluster_errors: Counter
    reconcile_duration: Histogram = field(init=False)
    queue_depth: Gauge = field(init=False)
    queue_adds: Counter = field(init=False)
    queue_latency: Histogram = field(init=False)
    queue_work_duration: Histogram = field(init=False)
    queue_retries: Counter = field(init=False)
    cluster_requests: Counter = field(init=False)
    cluster_request_errors: Counter = field(init=False)
    leader: Gauge = field(init=False)
    build_info: Gauge = field(init=False)

    def __post_init__(self) -> None:
        reg = self.registry
        self.reconcile_duration = Histogram("picchu_reconcile_duration_seconds", "Duration of one pass",
                                            ["kind"], buckets=PASS_BUCKETS, registry=reg)
        self.queue_depth = Gauge("workqueue_depth", "Keys waiting in the work queue", ["name"], registry=reg)
        self.queue_adds = Counter("workqueue_adds", "Keys added to the work queue", ["name"], registry=reg)
        self.queue_latency = Histogram("workqueue_queue_duration_seconds", "Seconds a key waited past its due "
                                       "time before its pass started", ["name"], buckets=QUEUE_BUCKETS, registry=reg)
        self.queue_work_duration = Histogram("workqueue_work_duration_seconds", "Seconds a pass of a key took",
                                             ["name"], buckets=QUEUE_BUCKETS, registry=reg)
        self.queue_retries = Counter("workqueue_retries", "Passes rescheduled with back-off after an error",
                                     ["name"], registry=reg)
        self.cluster_requests = Counter("picchu_cluster_requests", "Requests to target clusters' API servers by "
                                        "HTTP method and answer code", ["cluster", "method", "code"], registry=reg)
        self.cluster_request_errors = Counter("picchu_cluster_request_errors", "Requests to a target cluster "
                                              "that got no answer", ["cluster"], registry=reg)
        self.leader = Gauge("leader_election_master_status", "1 while this process holds the leader Lease",
                            ["name"], registry=reg)
        self.build_info = Gauge("picchu_build_info", "Always 1; labels say which build runs",
                                ["version", "python_version"], registry=reg)
        try:
            release = version("picchu")
        except PackageNotFoundError:
            release = "unknown"
        self.build_info.labels(release, platform.python_version()).set(1)

    def count_request(self, cluster: str, method: str, code: int | None) -> None:
        """One request to a target cluster (`code` None: no HTTP answer)."""
        if code is None:
            self.cluster_request_errors.labels(cluster).inc()
        else:
            self.cluster_requests.labels(cluster, method, str(code)).inc()

    def __getattr__(self, name: str) -> Twin:
        """The pure core names latency histograms as exposed (`picchu_git_create_latency`, spec §15); the engine
        looks them up by that name, so resolve it to the field without the prefix."""
        if name.startswith("picchu_"):
            found = getattr(self, name.removeprefix("picchu_"))
            if isinstance(found, Twin):
                return found
        raise AttributeError(f"{type(self).__name__} has no histogram {name!r}")

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> OperatorMetrics:
        disable_created_metrics()  # type: ignore[no-untyped-call]
        reg = registry if registry is not None else CollectorRegistry()
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            _register_copy(reg, collector)
        at = ["app", "target"]

        def hist(name: str, doc: str, buckets: tuple[float, ...]) -> Twin:
            return Twin(f"picchu_{name}", doc, at, buckets, reg)

        return cls(
            registry=reg,
            git_create_latency=hist("git_create_latency", "Seconds from commit to revision seen", GIT_BUCKETS),
            git_deploy_latency=hist("git_deploy_latency", "Seconds from commit to deployed", GIT_BUCKETS),
            git_canary_latency=hist("git_canary_latency", "Seconds from commit to canaried", GIT_BUCKETS),
            git_pending_release_latency=hist(
                "git_pending_release_latency", "Seconds from commit to pendingrelease", GIT_BUCKETS
            ),
            git_release_latency=hist("git_release_latency", "Seconds from commit to released", GIT_BUCKETS),
            revision_deploy_latency=hist(
                "revision_deploy_latency", "Seconds from Revision creation to deployed", GIT_BUCKETS
            ),
            revision_canary_latency=hist(
                "revision_canary_latency", "Seconds from Revision creation to canaried", GIT_BUCKETS
            ),
            revision_pending_release_latency=hist(
                "revision_pending_release_latency", "Seconds from Revision creation to pendingrelease", GIT_BUCKETS
            ),
            revision_release_latency=hist(
                "revision_release_latency", "Seconds from Revision creation to released", GIT_BUCKETS
            ),
            revision_rollback_latency=hist(
                "revision_rollback_latency", "Seconds from failure to rolled back", LATENCY_BUCKETS
            ),
            deploy_latency=hist("deploy_latency", "Seconds spent deploying", LATENCY_BUCKETS),
            canary_latency=hist("canary_latency", "Seconds spent canarying", LATENCY_BUCKETS),
            release_latency=hist("release_latency", "Seconds spent releasing", LATENCY_BUCKETS),
            incarnation_count=LeanGauge(
                "picchu_incarnation_count", "Incarnations per state", [*at, "state"], registry=reg
            ),
            revision_oldest_age_seconds=LeanGauge(
                "picchu_revision_oldest_age_seconds",
                "Seconds the oldest incarnation has been in each state",
                [*at, "state", "revision"],
                registry=reg,
            ),
            revision_release_weight=LeanGauge(
                "picchu_revision_release_weight", "Traffic weight of a revision", [*at, "tag"], registry=reg
            ),
            release_manager_reconcile_interval=hist(
                "release_manager_reconcile_interval", "Seconds between ReleaseManager passes", RECONCILE_BUCKETS
            ),
            revision_failed=LeanGauge(
                "picchu_revision_failed", "1 when picchu failed the revision", ["app", "tag"], registry=reg
            ),
            mirror_failure_counter=Counter(
                "picchu_mirror_failure_counter", "Mirror errors", ["app", "mirror"], registry=reg
            ),
            mirror_failures=Counter(
                "picchu_mirror_failures", "Mirror errors (conventional name)", ["app", "mirror"], registry=reg
            ),
            reconcile_errors=Counter(
                "picchu_reconcile_errors", "Reconcile passes that ended in an error", ["kind"], registry=reg
            ),
            reconcile_passes=Counter(
                "picchu_reconcile_passes",
                "Reconcile passes run, by kind (exposed as picchu_reconcile_passes_total): a unit of work "
                "to divide request counts by",
                ["kind"], registry=reg,
            ),
            cluster_errors=Counter(
                "picchu_cluster_errors", "Observe/apply failures per target cluster", ["cluster"], registry=reg
            ),
        )


def _register_copy(registry: CollectorRegistry, collector: Collector) -> None:
    """The default process/platform/gc collectors, in our explicit registry (each registry once)."""
    try:
        registry.register(collector)
    except ValueError:  # already registered in this registry
        pass
