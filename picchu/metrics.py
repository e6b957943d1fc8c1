"""The operator's Prometheus metrics, with Picchu's names and buckets (spec §15) so dashboards keep working.

Differences from Picchu, on purpose (§17 #10, #11): `picchu_revision_release_weight` carries a `tag` label
(Picchu overwrote one series per app with an arbitrary revision's weight), and `picchu_revision_failed` /
`picchu_mirror_failure_counter` are served (Picchu registered them where nobody could scrape them).
One registry per process, created explicitly, so tests can build their own.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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
    git_create_latency: Histogram
    git_deploy_latency: Histogram
    git_canary_latency: Histogram
    git_pending_release_latency: Histogram
    git_release_latency: Histogram
    revision_deploy_latency: Histogram
    revision_canary_latency: Histogram
    revision_pending_release_latency: Histogram
    revision_release_latency: Histogram
    revision_rollback_latency: Histogram
    deploy_latency: Histogram
    canary_latency: Histogram
    release_latency: Histogram
    incarnation_count: Gauge
    revision_oldest_age_seconds: Gauge
    revision_release_weight: Gauge
    release_manager_reconcile_interval: Histogram
    revision_failed: Gauge
    mirror_failure_counter: Counter
    reconcile_errors: Counter
    reconcile_passes: Counter
    cluster_errors: Counter

    def __getattr__(self, name: str) -> Histogram:
        """The pure core names latency histograms as exposed (`picchu_git_create_latency`, spec §15); the engine
        looks them up by that name, so resolve it to the field without the prefix."""
        if name.startswith("picchu_"):
            found = getattr(self, name.removeprefix("picchu_"))
            if isinstance(found, Histogram):
                return found
        raise AttributeError(f"{type(self).__name__} has no histogram {name!r}")

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> OperatorMetrics:
        reg = registry if registry is not None else CollectorRegistry()
        at = ["app", "target"]

        def hist(name: str, doc: str, buckets: tuple[float, ...]) -> Histogram:
            return Histogram(f"picchu_{name}", doc, at, buckets=buckets, registry=reg)

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
            incarnation_count=Gauge(
                "picchu_incarnation_count", "Incarnations per state", [*at, "state"], registry=reg
            ),
            revision_oldest_age_seconds=Gauge(
                "picchu_revision_oldest_age_seconds",
                "Seconds the oldest incarnation has been in each state",
                [*at, "state", "revision"],
                registry=reg,
            ),
            revision_release_weight=Gauge(
                "picchu_revision_release_weight", "Traffic weight of a revision", [*at, "tag"], registry=reg
            ),
            release_manager_reconcile_interval=hist(
                "release_manager_reconcile_interval", "Seconds between ReleaseManager passes", RECONCILE_BUCKETS
            ),
            revision_failed=Gauge(
                "picchu_revision_failed", "1 when picchu failed the revision", ["app", "tag"], registry=reg
            ),
            mirror_failure_counter=Counter(
                "picchu_mirror_failure_counter", "Mirror errors", ["app", "mirror"], registry=reg
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
