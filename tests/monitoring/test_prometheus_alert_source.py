"""Against a real Prometheus: the alert verdicts a ReleaseManager would act on."""

import time
from collections.abc import Iterator

import pytest

from picchu.monitoring import AlertDecision, AlertFailurePolicy, PrometheusAlertSource, VerdictStatus
from picchu.testing.metrics_exporter import MetricsExporter, error_rule
from picchu.testing.prometheus import PrometheusServer, require_prometheus

pytestmark = pytest.mark.prometheus

SLO_ALERT = "echo_availability"
CANARY_ALERT = "echo_canary_errors"


@pytest.fixture(scope="module")
def exporter() -> Iterator[MetricsExporter]:
    with MetricsExporter() as running:
        yield running


@pytest.fixture(scope="module")
def prometheus(exporter: MetricsExporter) -> Iterator[PrometheusServer]:
    """A real Prometheus scraping `exporter`, with one SLO rule and one canary rule on its error gauge."""
    require_prometheus()
    with PrometheusServer(scrape_targets=[exporter.target]) as server:
        server.add_rules("slo", error_rule(SLO_ALERT))
        server.add_rules("canary", error_rule(CANARY_ALERT, canary=True))
        yield server


@pytest.fixture(scope="module")
def failing_echo_v1(exporter: MetricsExporter, prometheus: PrometheusServer) -> Iterator[None]:
    """echo v1 reports errors (both rules fire for it); echo v2 and other apps are healthy."""
    exporter.set(app="echo", tag="v1", value=1)
    exporter.set(app="echo", tag="v2", value=0)
    exporter.set(app="other", tag="v1", value=0)
    prometheus.wait_for_alert(SLO_ALERT, app="echo", tag="v1")
    prometheus.wait_for_alert(CANARY_ALERT, app="echo", tag="v1")
    yield


def fresh_source(prometheus: PrometheusServer, **options: float) -> PrometheusAlertSource:
    return PrometheusAlertSource(prometheus.url, ttl_seconds=options.pop("ttl_seconds", 0), **options)


def queries_answered(prometheus: PrometheusServer) -> float:
    time.sleep(0.2)  # Prometheus counts a request once its handler returns
    return prometheus.metric_value("prometheus_http_requests_total", handler="/api/v1/query")


def test_a_firing_slo_alert_triggers_its_release_with_the_alert_name(
    prometheus: PrometheusServer, failing_echo_v1: None
) -> None:
    verdict = fresh_source(prometheus).triggered_alerts("echo", "v1", canaries_only=False)
    assert verdict.status is VerdictStatus.TRIGGERED
    assert set(verdict.alert_names) == {SLO_ALERT, CANARY_ALERT}  # the canary rule is an SLO alert too


def test_an_alert_for_one_tag_leaves_the_other_tags_and_apps_clear(
    prometheus: PrometheusServer, failing_echo_v1: None
) -> None:
    source = fresh_source(prometheus)
    assert source.triggered_alerts("echo", "v2", canaries_only=False).is_clear
    assert source.triggered_alerts("other", "v1", canaries_only=False).is_clear


def test_canary_only_releases_ignore_slo_alerts_without_the_canary_label(
    prometheus: PrometheusServer, failing_echo_v1: None
) -> None:
    verdict = fresh_source(prometheus).triggered_alerts("echo", "v1", canaries_only=True)
    assert verdict.alert_names == (CANARY_ALERT,)


def test_a_release_is_clear_again_once_its_alert_stops_firing(
    exporter: MetricsExporter, prometheus: PrometheusServer
) -> None:
    exporter.set(app="recovering", tag="v7", value=1)
    prometheus.wait_for_alert(SLO_ALERT, app="recovering", tag="v7")
    source = fresh_source(prometheus)
    assert source.triggered_alerts("recovering", "v7", canaries_only=False).is_triggered
    exporter.set(app="recovering", tag="v7", value=0)
    for alert in (SLO_ALERT, CANARY_ALERT):
        prometheus.wait_for_alert(alert, firing=False, app="recovering", tag="v7")
    assert source.triggered_alerts("recovering", "v7", canaries_only=False).is_clear


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_prometheus_is_asked_once_per_query_and_ttl(
    prometheus: PrometheusServer, failing_echo_v1: None
) -> None:
    clock = FakeClock()
    source = PrometheusAlertSource(prometheus.url, ttl_seconds=10, clock=clock)
    before = queries_answered(prometheus)
    for app, tag in [("echo", "v1"), ("echo", "v2"), ("other", "v1")]:  # one shared SLO query
        source.triggered_alerts(app, tag, canaries_only=False)
    clock.now = 9.9
    assert source.triggered_alerts("echo", "v1", canaries_only=False).is_triggered
    assert queries_answered(prometheus) - before == 1
    source.triggered_alerts("echo", "v1", canaries_only=True)  # a different query string
    assert queries_answered(prometheus) - before == 2
    clock.now = 10.0
    source.triggered_alerts("echo", "v2", canaries_only=False)
    assert queries_answered(prometheus) - before == 3


def test_an_unreachable_prometheus_is_unknown_and_holds_the_ramp_by_default() -> None:
    require_prometheus()
    with PrometheusServer() as server:
        source = PrometheusAlertSource(server.url, ttl_seconds=0, timeout_seconds=2)
        assert source.triggered_alerts("echo", "v1", canaries_only=False).is_clear
    verdict = source.triggered_alerts("echo", "v1", canaries_only=False)
    assert verdict.is_unknown
    assert server.url in verdict.reason and "Connection" in verdict.reason
    assert AlertFailurePolicy.HOLD.decide(verdict) is AlertDecision.HOLD
    assert AlertFailurePolicy.FAIL_CLOSED.decide(verdict) is AlertDecision.ROLL_BACK


def test_a_hung_prometheus_times_out_as_unknown_and_the_error_is_not_cached() -> None:
    require_prometheus()
    with PrometheusServer() as server:
        source = PrometheusAlertSource(server.url, ttl_seconds=60, timeout_seconds=1)
        server.pause()
        try:
            verdict = source.triggered_alerts("echo", "v1", canaries_only=False)
        finally:
            server.resume()
        assert verdict.is_unknown and "Timeout" in verdict.reason
        assert source.triggered_alerts("echo", "v1", canaries_only=False).is_clear


def test_every_firing_release_comes_from_two_queries_however_many_apps_ask(
    prometheus: PrometheusServer, failing_echo_v1: None
) -> None:
    source = fresh_source(prometheus, ttl_seconds=60)
    before = queries_answered(prometheus)
    assert source.firing() == {("echo", "v1")}
    for app, tag in (("echo", "v1"), ("echo", "v2"), ("other", "v1")):
        for canaries_only in (False, True):
            source.triggered_alerts(app, tag, canaries_only=canaries_only)
    assert queries_answered(prometheus) - before == 2  # the SLO query and the canary query, both cached


def test_an_unreachable_prometheus_says_nothing_is_known_about_firing() -> None:
    assert PrometheusAlertSource("http://127.0.0.1:9", timeout_seconds=1).firing() is None
