"""Build the process-wide EngineContext from settings: the one place that chooses implementations.

Null implementations stand in for what is not configured (no Prometheus → no alert ever fires; no Slack
token or Sentry DSN → no notification), so the rest of the engine never checks for None.
"""

from __future__ import annotations

from kubernetes import client
from kubernetes.client import rest

from picchu.clusters.applier import Applier
from picchu.clusters.drift_budget import DriftBudget
from picchu.clusters.observer import Observer, WatchingObserver
from picchu.clusters.pool import ClientPool
from picchu.clusters.tls_context import share_tls_context
from picchu.engine.calendar import build_calendar
from picchu.engine.context import EngineContext
from picchu.engine.delivery import DeliveryCluster
from picchu.engine.events import EventRecorder
from picchu.engine.store import DeliveryStore
from picchu.metrics import OperatorMetrics
from picchu.monitoring import AlertSource, CombinedAlertSource, build_alert_source
from picchu.notify.events import Background, Fanout, Notifier, NullNotifier
from picchu.settings import Settings


def build_notifier(settings: Settings) -> Notifier:
    notifiers: list[Notifier] = []
    if settings.slack_token and settings.slack_channel:
        from picchu.notify.slack import SlackNotifier

        notifiers.append(SlackNotifier(settings.slack_token, settings.slack_channel, base_url=settings.slack_base_url,
                                       history_ttl_seconds=settings.slack_query_ttl_seconds))
    if settings.sentry_dsn:
        from picchu.notify.sentry import SentryNotifier

        notifiers.append(SentryNotifier(settings.sentry_dsn))
    if not notifiers:
        return NullNotifier()
    return Background(Fanout(notifiers))  # a slow Slack or Sentry never stalls a pass


def build_alerts(settings: Settings, *, timeout_seconds: float) -> AlertSource:
    """Prometheus (or nothing), plus the Datadog canary-monitor source when both Datadog keys are set."""
    prometheus = build_alert_source(settings.alert_query_address, ttl_seconds=settings.prometheus_query_ttl_seconds,
                                    timeout_seconds=timeout_seconds)
    if not settings.datadog_enabled:
        return prometheus
    from picchu.monitoring.datadog import DatadogMonitorSource

    datadog = DatadogMonitorSource(settings.datadog_api_key, settings.datadog_app_key, host=settings.datadog_host,
                                   ttl_seconds=settings.datadog_query_ttl_seconds, timeout_seconds=timeout_seconds)
    return CombinedAlertSource([prometheus, datadog])


CONNECTION_SLACK = 8


def size_delivery_pool(api: client.ApiClient, workers: int) -> None:
    """Let every pass thread (plus the Cluster passes, Events and the watch streams: `CONNECTION_SLACK`) keep
    its connection to the delivery apiserver. The pool is built with the client, so setting the size on the
    configuration afterwards did nothing: urllib3 discarded connections and warned on every request under
    load (thousands of warnings in the reliability suite's hostile input)."""
    wanted = max(api.configuration.connection_pool_maxsize or 0, workers + CONNECTION_SLACK)
    if wanted != api.configuration.connection_pool_maxsize:
        api.configuration.connection_pool_maxsize = wanted
        api.rest_client = rest.RESTClientObject(api.configuration)


def build_context(settings: Settings, api: client.ApiClient, *, watching: bool = False) -> EngineContext:
    """`watching` (the operator): read the delivery cluster from the store kopf's watches feed and the target
    clusters from one watch each; otherwise (one-shot CLI commands, tests of single passes) every read asks."""
    timeout = settings.cluster_timeout_seconds
    size_delivery_pool(api, settings.concurrent_release_managers + settings.concurrent_revisions)
    share_tls_context(api)
    metrics = OperatorMetrics.create()
    return EngineContext(
        settings=settings,
        delivery=DeliveryCluster(api, timeout_seconds=timeout,
                                 store=DeliveryStore(api, wait_seconds=timeout) if watching else None),
        events=EventRecorder(api),
        metrics=metrics,
        alerts=build_alerts(settings, timeout_seconds=min(timeout, settings.sync_period_seconds)),
        pool=ClientPool(max_concurrency=settings.concurrent_release_managers, on_request=metrics.count_request),
        applier=Applier(timeout=timeout * 3, remember_for=settings.drift_check_after_seconds,
                        drift_budget=DriftBudget(settings.drift_reads_per_second)),
        observer=WatchingObserver(timeout=timeout) if watching else Observer(timeout=timeout),
        notifier=build_notifier(settings),
        calendar=build_calendar(settings.release_timezone, settings.holiday_calendar),
    )
