"""Unit tests: the §13.1 queries, the parsing of their answers, the failure policy and the TTL cache."""

import pytest

from picchu.monitoring import (
    AlertDecision,
    AlertFailurePolicy,
    AlertVerdict,
    CombinedAlertSource,
    NullAlertSource,
    PrometheusAlertSource,
    alert_query,
    alerts_by_tag,
    build_alert_source,
    decide,
)
from picchu.monitoring.alerts import MalformedAnswer
from picchu.monitoring.cache import TtlCache


def sample(**labels: str) -> dict:
    return {"metric": labels, "value": [1700000000.0, "1"]}


def test_only_samples_of_the_app_with_a_tag_count_as_its_alerts() -> None:
    samples = [
        sample(app="tutu", tag="v1", alertname="test"),
        sample(app="tutu", xtag="v2"),
        sample(xapp="tutu", tag="v3"),
        sample(app="tutux", tag="v4"),
    ]
    assert alerts_by_tag(samples, "tutu") == {"v1": ["test"]}


def test_every_firing_sample_of_a_tag_is_listed_including_duplicates() -> None:
    samples = [sample(app="a", tag="v1", alertname="x"), sample(app="a", tag="v1", alertname="x")]
    assert alerts_by_tag(samples, "a") == {"v1": ["x", "x"]}


@pytest.mark.parametrize("answer", [[1700000000.0, "1"], "ok", {"metric": {}}, None])
def test_an_answer_that_is_not_an_instant_vector_is_rejected(answer: object) -> None:
    with pytest.raises(MalformedAnswer):
        alerts_by_tag(answer, "a")


def test_canary_query_is_one_for_every_release_and_the_answer_is_picked_by_tag_and_app() -> None:
    expected = 'sum by(tag,app,alertname)(ALERTS{canary="true",alertstate="firing"})'
    assert alert_query("v1", canaries_only=True) == expected == alert_query("v2", canaries_only=True)
    samples = [{"metric": {"app": "a", "tag": "v1", "alertname": "a_canary"}, "value": [0, "1"]},
               {"metric": {"app": "b", "tag": "v1", "alertname": "b_canary"}, "value": [0, "1"]}]
    assert alerts_by_tag(samples, "a") == {"v1": ["a_canary"]}


def test_slo_query_is_the_same_for_every_release() -> None:
    expected = 'sum by(tag,app,alertname)(ALERTS{slo="true",alertstate="firing"})'
    assert alert_query("v1", canaries_only=False) == expected
    assert alert_query("v2", canaries_only=False) == expected


@pytest.mark.parametrize(
    ("policy", "verdict", "decision"),
    [
        (AlertFailurePolicy.HOLD, AlertVerdict.clear(), AlertDecision.PROCEED),
        (AlertFailurePolicy.HOLD, AlertVerdict.triggered(["slo"]), AlertDecision.ROLL_BACK),
        (AlertFailurePolicy.HOLD, AlertVerdict.unknown("down"), AlertDecision.HOLD),
        (AlertFailurePolicy.FAIL_CLOSED, AlertVerdict.clear(), AlertDecision.PROCEED),
        (AlertFailurePolicy.FAIL_CLOSED, AlertVerdict.triggered(["slo"]), AlertDecision.ROLL_BACK),
        (AlertFailurePolicy.FAIL_CLOSED, AlertVerdict.unknown("down"), AlertDecision.ROLL_BACK),
    ],
)
def test_unknown_holds_the_ramp_unless_the_policy_fails_closed(
    policy: AlertFailurePolicy, verdict: AlertVerdict, decision: AlertDecision
) -> None:
    assert policy.decide(verdict) is decision


def test_the_policy_can_be_given_as_the_settings_string() -> None:
    assert decide(AlertVerdict.unknown("down"), "fail-closed") is AlertDecision.ROLL_BACK
    assert decide(AlertVerdict.unknown("down")) is AlertDecision.HOLD


def test_failing_closed_records_why_a_release_counts_as_alerting() -> None:
    unknown = AlertVerdict.unknown("connection refused")
    assert AlertFailurePolicy.FAIL_CLOSED.alarm_names(unknown) == ("AlertSourceUnavailable",)
    assert AlertFailurePolicy.HOLD.alarm_names(unknown) == ()


def test_a_triggered_verdict_must_name_an_alert() -> None:
    with pytest.raises(ValueError, match="at least one alert name"):
        AlertVerdict.triggered([])


def test_without_prometheus_nothing_ever_fires() -> None:
    assert NullAlertSource().triggered_alerts("echo", "v1", canaries_only=False).is_clear
    assert isinstance(build_alert_source(""), NullAlertSource)
    assert isinstance(build_alert_source("http://prometheus:9090"), PrometheusAlertSource)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_cached_answer_expires_after_the_ttl() -> None:
    clock = FakeClock()
    cache: TtlCache[str] = TtlCache(10, clock=clock)
    cache.put("q", "answer")
    clock.now += 9.9
    assert cache.get("q") == "answer"
    clock.now += 0.1
    assert cache.get("q") is None


def test_the_cache_forgets_its_oldest_entry_beyond_its_bound() -> None:
    cache: TtlCache[int] = TtlCache(10, max_entries=2, clock=FakeClock())
    for number, key in enumerate(["a", "b", "c"]):
        cache.put(key, number)
    assert (cache.get("a"), cache.get("b"), cache.get("c"), len(cache)) == (None, 1, 2, 2)


class _Fixed:
    def __init__(self, verdict: AlertVerdict) -> None:
        self.verdict = verdict

    def triggered_alerts(self, app: str, tag: str, canaries_only: bool) -> AlertVerdict:
        return self.verdict


FIRING, CLEAR, DOWN = AlertVerdict.triggered(["prom_slo"]), AlertVerdict.clear(), AlertVerdict.unknown("dd down")


@pytest.mark.parametrize(
    ("prometheus", "datadog", "hold", "fail_closed"),
    [
        (CLEAR, CLEAR, AlertDecision.PROCEED, AlertDecision.PROCEED),
        (FIRING, CLEAR, AlertDecision.ROLL_BACK, AlertDecision.ROLL_BACK),
        (CLEAR, AlertVerdict.triggered(["prod-echo-canary-monitor"]), AlertDecision.ROLL_BACK, AlertDecision.ROLL_BACK),
        (FIRING, DOWN, AlertDecision.ROLL_BACK, AlertDecision.ROLL_BACK),
        (CLEAR, DOWN, AlertDecision.HOLD, AlertDecision.ROLL_BACK),
        (DOWN, CLEAR, AlertDecision.HOLD, AlertDecision.ROLL_BACK),
    ],
)
def test_either_source_firing_rolls_back_and_an_unreadable_one_follows_the_policy(
    prometheus: AlertVerdict, datadog: AlertVerdict, hold: AlertDecision, fail_closed: AlertDecision
) -> None:
    combined = CombinedAlertSource([_Fixed(prometheus), _Fixed(datadog)])
    verdict = combined.triggered_alerts("echo", "v2", canaries_only=False)
    assert AlertFailurePolicy.HOLD.decide(verdict) is hold
    assert AlertFailurePolicy.FAIL_CLOSED.decide(verdict) is fail_closed
    if verdict.is_triggered:
        assert set(verdict.alert_names) == set(prometheus.alert_names + datadog.alert_names)


def test_datadog_is_on_when_both_keys_are_set_and_never_shows_a_key() -> None:
    from picchu.settings import Settings

    assert not Settings().datadog_enabled
    settings = Settings(datadog_api_key="a", datadog_app_key="b", datadog_site="datadoghq.eu")
    assert settings.datadog_enabled and settings.datadog_host == "https://api.datadoghq.eu"
    assert Settings(datadog_site="http://127.0.0.1:9").datadog_host == "http://127.0.0.1:9"
    assert "secret-a" not in repr(Settings(datadog_api_key="secret-a"))
    assert any("--datadog-app-key" in problem for problem in Settings(datadog_api_key="k").problems())


def test_picchu_run_reads_datadog_s_own_variables_and_refuses_half_a_key_pair() -> None:
    from typer.testing import CliRunner

    from picchu.cli import app

    result = CliRunner().invoke(app, ["run", "--kubeconfig", "/nonexistent"], env={"DD_API_KEY": "k"})
    assert result.exit_code == 2
    assert "--datadog-app-key" in result.output
