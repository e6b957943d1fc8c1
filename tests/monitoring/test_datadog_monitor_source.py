"""DatadogMonitorSource through the real datadog-api-client against a local Events API fake."""

from collections.abc import Iterator

import pytest

from picchu.monitoring import AlertDecision, AlertFailurePolicy
from picchu.monitoring.datadog import DatadogMonitorSource
from picchu.testing.fake_services import FakeDatadog


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def datadog() -> Iterator[FakeDatadog]:
    with FakeDatadog(api_key="api", app_key="app") as fake:
        fake.add_monitor_event("prod-echo-canary-monitor", version="v1")
        fake.add_monitor_event("prod-echo-canary-monitor", version="v2", status="warning")
        fake.add_monitor_event("prod-web-canary-monitor", version="v3")
        yield fake


def source(datadog: FakeDatadog, **options: object) -> DatadogMonitorSource:
    return DatadogMonitorSource("api", "app", host=datadog.host, **options)  # type: ignore[arg-type]


def test_an_error_event_of_the_apps_canary_monitor_triggers_its_release(datadog: FakeDatadog) -> None:
    verdict = source(datadog).triggered_alerts("echo", "v1", canaries_only=True)
    assert verdict.alert_names == ("prod-echo-canary-monitor",)
    assert datadog.requests[0].query == {
        "filter[query]": "*-echo-canary-monitor AND status:error AND version:v1",
        "filter[from]": "now-5m",
        "page[limit]": "5",
    }


def test_warnings_other_tags_and_other_apps_are_clear(datadog: FakeDatadog) -> None:
    datadog_source = source(datadog, ttl_seconds=0)
    assert datadog_source.triggered_alerts("echo", "v2", canaries_only=True).is_clear
    assert datadog_source.triggered_alerts("echo", "v3", canaries_only=True).is_clear


def test_rejected_keys_are_unknown_and_hold_the_ramp(datadog: FakeDatadog) -> None:
    wrong_keys = DatadogMonitorSource("api", "wrong", host=datadog.host)
    verdict = wrong_keys.triggered_alerts("echo", "v1", canaries_only=True)
    assert verdict.is_unknown and "ForbiddenException: (403)" in verdict.reason
    assert AlertFailurePolicy.HOLD.decide(verdict) is AlertDecision.HOLD


def test_a_datadog_error_is_not_cached(datadog: FakeDatadog) -> None:
    datadog_source = source(datadog, ttl_seconds=120)
    datadog.fail_with = 500
    assert datadog_source.triggered_alerts("echo", "v1", canaries_only=True).is_unknown
    datadog.fail_with = 0
    assert datadog_source.triggered_alerts("echo", "v1", canaries_only=True).is_triggered


def test_datadog_is_asked_once_per_release_and_ttl(datadog: FakeDatadog) -> None:
    clock = FakeClock()
    datadog_source = source(datadog, ttl_seconds=120, clock=clock)
    for _ in range(3):
        datadog_source.triggered_alerts("echo", "v1", canaries_only=True)
    datadog_source.triggered_alerts("echo", "v2", canaries_only=True)
    assert len(datadog.requests) == 2
    clock.now = 120
    datadog_source.triggered_alerts("echo", "v1", canaries_only=True)
    assert len(datadog.requests) == 3


def test_missing_keys_are_refused_with_a_fix() -> None:
    with pytest.raises(ValueError, match="api_key and app_key are both required"):
        DatadogMonitorSource("", "app")
