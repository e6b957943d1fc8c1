"""The real-Prometheus harness itself: gated honestly in CI, leaves no process behind, reports bad rules."""

import os

import pytest

from picchu.monitoring import PrometheusAlertSource
from picchu.testing import prometheus as harness
from picchu.testing.prometheus import PrometheusServer, SloAlerts, require_prometheus


@pytest.fixture
def no_prometheus_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness.shutil, "which", lambda name: None)
    monkeypatch.setattr(harness.os.path, "exists", lambda path: False)


def test_a_missing_prometheus_fails_the_test_in_ci(
    no_prometheus_installed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y prometheus"):
        require_prometheus()


def test_a_missing_prometheus_skips_the_test_outside_ci(
    no_prometheus_installed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y prometheus"):
        require_prometheus()


@pytest.mark.prometheus
def test_the_server_process_and_its_data_are_gone_after_the_block() -> None:
    require_prometheus()
    with PrometheusServer() as server:
        pid, workdir = server.pid, server.workdir
        assert pid is not None and workdir is not None and workdir.exists()
        assert server.query("vector(1)")[0]["value"][1] == "1"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not workdir.exists()


@pytest.mark.prometheus
def test_an_invalid_rule_file_is_reported_with_prometheus_own_message() -> None:
    require_prometheus()
    with PrometheusServer() as server:
        with pytest.raises(RuntimeError, match="rejected the reload"):
            server.add_rules("broken", "groups:\n- name: x\n  rules:\n  - alert: a\n    expr: sum(\n")


@pytest.mark.prometheus
def test_slo_alerts_fire_and_clear_for_exactly_the_release_asked() -> None:
    require_prometheus()
    with SloAlerts(alert="demo_availability") as alerts:
        source = PrometheusAlertSource(alerts.url, ttl_seconds=0)
        alerts.fire("demo", "v2")
        assert source.triggered_alerts("demo", "v2", canaries_only=False).alert_names == (
            "demo_availability",
        )
        assert source.triggered_alerts("demo", "v1", canaries_only=False).is_clear
        alerts.clear("demo", "v2")
        assert source.triggered_alerts("demo", "v2", canaries_only=False).is_clear
