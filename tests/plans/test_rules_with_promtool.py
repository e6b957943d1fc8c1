"""The PromQL picchu generates is valid for Prometheus, and the canary alert fires exactly when it should."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import plan_scenarios as scenarios
import pytest

from picchu.plans import monitoring, slo
from picchu.plans.inputs import AppInput, MonitoringInput, Settings, TagInput, TagScale
from picchu.testing import promtool

pytestmark = pytest.mark.prometheus


def rendered_rules(target: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """(SLO recording groups, canary groups for tag `tag`, PSL) of the §3.4 fixture app."""
    inputs = AppInput(
        app="test-app", target="production", fleet="production", namespace="testnamespace",
        monitoring=MonitoringInput(alertable_target=target, releasable_target=target),
        settings=Settings(service_levels_namespace="service-levels"),
    )  # fmt: skip
    tag = TagInput(tag="tag", image="i", target=target, scale=TagScale(replicas=1), canary_rules=True)
    [recordings] = slo.render_slo_rules(inputs)
    [canary] = monitoring.render_canary_rules(inputs, tag)
    [psl] = slo.render_service_levels(inputs)
    return recordings["spec"]["groups"], canary["spec"]["groups"], psl


def slo_target(tag_key: str | None = "destination_workload") -> dict[str, Any]:
    target = copy.deepcopy(scenarios.SLO_TARGET)
    indicator = target["serviceLevelObjectives"][0]["serviceLevelIndicator"]
    if tag_key is None:
        del indicator["tagKey"]
        indicator["errorQuery"] = 'sum(rate(test_metric{job="test"}[2m])) by (tag)'
        indicator["totalQuery"] = 'sum(rate(test_metric2{job="test"}[2m])) by (tag)'
    return target


@pytest.mark.parametrize("tag_key", ["destination_workload", None])
def test_generated_recording_canary_and_sli_queries_pass_promtool_check(tmp_path: Path, tag_key: str | None) -> None:
    recordings, canary, psl = rendered_rules(slo_target(tag_key))
    sli_rules = [
        {"record": f"sli_{entry['name']}_{kind}", "expr": query.replace("{{.window}}", "5m")}
        for entry in psl["spec"]["slos"]
        for kind, query in entry["sli"]["events"].items()
    ]
    files = [
        promtool.write_rule_file(tmp_path, "recordings.yaml", recordings),
        promtool.write_rule_file(tmp_path, "canary.yaml", canary),
        promtool.write_rule_file(tmp_path, "sli.yaml", [{"name": "sli", "rules": sli_rules}]),
    ]
    result = promtool.check_rules(*files)
    assert result.returncode == 0, result.stdout + result.stderr


def _series(tag: str, errors_per_minute: float, total_per_minute: float) -> list[dict[str, str]]:
    labels = f'job="test", destination_workload="{tag}"'
    return [
        {"series": f"test_metric{{{labels}}}", "values": f"0+{errors_per_minute}x30"},
        {"series": f"test_metric2{{{labels}}}", "values": f"0+{total_per_minute}x30"},
    ]


def _canary_test(tag_errors: float, expected: list[dict[str, Any]]) -> dict[str, Any]:
    """Tag `tag` serves 100 req/min with `tag_errors` errors/min; the rest of the app 1000 req/min, 1 error."""
    return {
        "interval": "1m",
        "input_series": _series("tag", tag_errors, 100) + _series("other", 1, 1000),
        "alert_rule_test": [{"eval_time": "15m", "alertname": "test_app_availability_canary",
                             "exp_alerts": expected}],
    }  # fmt: skip


def test_the_canary_alert_fires_above_the_allowance_and_stays_silent_below(tmp_path: Path) -> None:
    recordings, canary, _ = rendered_rules(slo_target())
    files = [
        promtool.write_rule_file(tmp_path, "recordings.yaml", recordings),
        promtool.write_rule_file(tmp_path, "canary.yaml", canary),
    ]
    firing = {
        "exp_labels": {"app": "test-app", "tag": "tag", "canary": "true",
                       "slo": "true", "severity": "test", "team": "test", "channel": "#eng-releases"},
        "exp_annotations": {"summary": "test-app - Canary is failing SLO", "message": "Test description"},
    }  # fmt: skip
    tests = [
        _canary_test(10, [firing]),  # 10 % errors: far above the 1 % allowance over the app's ratio
        _canary_test(0.5, []),  # 0.5 % errors: within the allowance
    ]
    result = promtool.test_rules(tmp_path, files, tests)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_would_notice_a_wrong_expectation(tmp_path: Path) -> None:
    """Guards the test above: expecting silence while the canary is failing must fail."""
    recordings, canary, _ = rendered_rules(slo_target())
    files = [
        promtool.write_rule_file(tmp_path, "recordings.yaml", recordings),
        promtool.write_rule_file(tmp_path, "canary.yaml", canary),
    ]
    result = promtool.test_rules(tmp_path, files, [_canary_test(10, [])])
    assert result.returncode != 0
