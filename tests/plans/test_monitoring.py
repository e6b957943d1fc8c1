"""Canary rules, SLO recording rules, Sloth PSLs and ServiceMonitors (picchu-samples §3.4)."""

from __future__ import annotations

import copy
from typing import Any

import plan_scenarios as scenarios
import pytest
from hypothesis import given
from hypothesis import strategies as st

from picchu.plans import monitoring, slo
from picchu.plans.inputs import AppInput, MonitoringInput, Settings, TagInput, TagScale
from picchu.plans.promql import PromQLError, metric_names
from picchu.plans.wire import RenderError

CANARY_EXPR = (
    'test_app:test_app_availability:errors{destination_workload="tag"} / '
    'test_app:test_app_availability:total{destination_workload="tag"} - 0.01 > '
    "ignoring(destination_workload) sum(test_app:test_app_availability:errors) / "
    "sum(test_app:test_app_availability:total)"
)


def app(target: dict[str, Any] | None = None, **extra: Any) -> AppInput:
    target = target if target is not None else copy.deepcopy(scenarios.SLO_TARGET)
    monitors = MonitoringInput(alertable_target=target, releasable_target=target)
    return AppInput(app="test-app", target="production", fleet="production", namespace="testnamespace",
                    monitoring=monitors, **extra)  # fmt: skip


def canary_tag(target: dict[str, Any]) -> TagInput:
    return TagInput(tag="tag", image="i", target=target, scale=TagScale(replicas=1), canary_rules=True)


def test_the_canary_rule_matches_the_go_fixture() -> None:
    target = copy.deepcopy(scenarios.SLO_TARGET)
    [rule] = monitoring.render_canary_rules(app(target), canary_tag(target))
    assert rule["metadata"]["name"] == "test-app-canary-tag"
    assert rule["metadata"]["labels"]["picchu.medium.engineering/ruleType"] == "canary"
    assert rule["metadata"]["labels"]["picchu.medium.engineering/tag"] == "tag"
    assert rule["spec"] == {"groups": [{"name": "test_app_availability_canary", "rules": [{
        "alert": "test_app_availability_canary",
        "for": "1m",
        "expr": CANARY_EXPR,
        "labels": {"app": "test-app", "tag": "tag", "canary": "true", "slo": "true", "severity": "test",
                   "team": "test", "channel": "#eng-releases"},
        "annotations": {"summary": "test-app - Canary is failing SLO", "message": "Test description"},
    }]}]}  # fmt: skip


def test_a_second_canary_slo_adds_a_second_group_and_the_string_allowance_wins() -> None:
    target = copy.deepcopy(scenarios.SLO_TARGET)
    second = copy.deepcopy(target["serviceLevelObjectives"][0])
    second["name"] = "test-app-availability-two"
    second["serviceLevelIndicator"]["canary"]["allowancePercentString"] = "0.5"
    target["serviceLevelObjectives"].append(second)
    [rule] = monitoring.render_canary_rules(app(target), canary_tag(target))
    groups = rule["spec"]["groups"]
    assert [group["name"] for group in groups] == ["test_app_availability_canary", "test_app_availability_two_canary"]
    assert " - 0.005 > " in groups[1]["rules"][0]["expr"]


def test_an_empty_tag_key_defaults_to_tag_in_the_canary_rule() -> None:
    """Deliberately differs from Picchu (§17 #8), whose `{="tag"}` / `ignoring()` is invalid PromQL."""
    target = copy.deepcopy(scenarios.SLO_TARGET)
    del target["serviceLevelObjectives"][0]["serviceLevelIndicator"]["tagKey"]
    [rule] = monitoring.render_canary_rules(app(target), canary_tag(target))
    expr = rule["spec"]["groups"][0]["rules"][0]["expr"]
    assert 'errors{tag="tag"}' in expr and "ignoring(tag)" in expr


def test_canary_rules_need_slos_and_include_disabled_ones_like_picchu() -> None:
    target = copy.deepcopy(scenarios.SLO_TARGET)
    target["serviceLevelObjectives"][0]["enabled"] = False
    [rule] = monitoring.render_canary_rules(app(target), canary_tag(target))
    assert len(rule["spec"]["groups"]) == 1
    target["serviceLevelObjectives"][0]["serviceLevelIndicator"]["canary"]["enabled"] = False
    [empty] = monitoring.render_canary_rules(app(target), canary_tag(target))
    assert empty["spec"]["groups"] == []
    assert monitoring.render_canary_rules(app({}), canary_tag({})) == []


def test_the_slo_recording_rules_match_the_go_fixture() -> None:
    [rule] = slo.render_slo_rules(app())
    assert rule["metadata"]["name"] == "test-app-slo"
    assert rule["metadata"]["labels"]["picchu.medium.engineering/ruleType"] == "slo"
    indicator = scenarios.SLO_TARGET["serviceLevelObjectives"][0]["serviceLevelIndicator"]
    assert rule["spec"]["groups"] == [{"name": "test_app_availability_record", "rules": [
        {"record": "test_app:test_app_availability:total", "expr": indicator["totalQuery"]},
        {"record": "test_app:test_app_availability:errors", "expr": indicator["errorQuery"]},
    ]}]  # fmt: skip


def test_disabled_slos_give_no_recording_rules_and_missing_queries_are_reported() -> None:
    target = copy.deepcopy(scenarios.SLO_TARGET)
    target["serviceLevelObjectives"][0]["enabled"] = False
    assert slo.render_slo_rules(app(target)) == []
    target["serviceLevelObjectives"][0]["enabled"] = True
    del target["serviceLevelObjectives"][0]["serviceLevelIndicator"]["errorQuery"]
    with pytest.raises(RenderError) as error:
        slo.render_slo_rules(app(target))
    assert error.value.errors[0][0] == "serviceLevelObjectives[0].serviceLevelIndicator.errorQuery"


def test_the_shared_service_level_matches_the_go_fixture() -> None:
    base = copy.deepcopy(scenarios.SLO_TARGET["serviceLevelObjectives"][0])
    default_key = copy.deepcopy(base)
    del default_key["serviceLevelIndicator"]["tagKey"]
    custom = copy.deepcopy(base)
    custom["name"] = "test-app-availability-custom-tagkey"
    grpc = copy.deepcopy(default_key)
    grpc["name"] = "test-app-availability-grpc"
    grpc["serviceLevelObjectiveLabels"] = {"serviceLevelLabels": {"is_grpc": "true"}}
    target = {**scenarios.SLO_TARGET, "serviceLevelObjectives": [default_key, custom, grpc]}
    [psl] = slo.render_service_levels(app(target, settings=Settings(service_levels_namespace="service-levels")))
    assert psl["metadata"]["name"] == "test-app-production-servicelevels"
    assert psl["metadata"]["namespace"] == "service-levels"
    assert psl["metadata"]["labels"] == {"picchu.medium.engineering/app": "test-app",
                                         "picchu.medium.engineering/target": "production",
                                         "app.kubernetes.io/managed-by": "picchu"}  # fmt: skip
    assert psl["spec"]["service"] == "test-app"
    events = {entry["name"]: entry["sli"]["events"] for entry in psl["spec"]["slos"]}
    window = "[{{.window}}]"
    assert events == {
        "test_app_availability": {
            "errorQuery": f"sum by (tag) (rate(test_app:test_app_availability:errors{window}))",
            "totalQuery": f"sum by (tag) (rate(test_app:test_app_availability:total{window}))",
        },
        "test_app_availability_custom_tagkey": {
            "errorQuery": "sum by (tag) (label_replace(rate(test_app:test_app_availability_custom_tagkey:errors"
                          f'{window}), "tag", "$1", "destination_workload", "(.*)"))',
            "totalQuery": "sum by (tag) (label_replace(rate(test_app:test_app_availability_custom_tagkey:total"
                          f'{window}), "tag", "$1", "destination_workload", "(.*)"))',
        },
        "test_app_availability_grpc": {
            "errorQuery": f"sum by (tag, grpc_method) (rate(test_app:test_app_availability_grpc:errors{window}))",
            "totalQuery": f"sum by (tag, grpc_method) (rate(test_app:test_app_availability_grpc:total{window}))",
        },
    }  # fmt: skip
    assert psl["spec"]["slos"][0]["objective"] == 99.999
    # Sloth's CRD requires `alerting`; Picchu's "no alerting" is rendered as both alerts disabled
    assert psl["spec"]["slos"][0]["alerting"] == {"pageAlert": {"disable": True}, "ticketAlert": {"disable": True}}


def test_no_service_levels_namespace_means_no_service_level() -> None:
    assert slo.render_service_levels(app()) == []


def test_service_monitors_match_the_go_fixture_and_carry_the_app_label() -> None:
    """The app labels are added under the entry's labels (§17 #7) so stale monitors get pruned."""
    target = copy.deepcopy(scenarios.SLO_TARGET)
    target["serviceMonitors"] = [
        {"name": "test1", "sloRegex": True, "labels": {"team": "a"}, "annotations": {"note": "x"},
         "spec": {"selector": {"matchLabels": {"app": "test-app"}}, "endpoints": [
             {"port": "http", "metricRelabelings": [{"action": "drop", "sourceLabels": ["__name__"]}]}]}},
        {"name": "test2", "sloRegex": False,
         "spec": {"selector": {}, "endpoints": [
             {"port": "http", "metricRelabelings": [{"action": "keep", "regex": "(.*)"}]}]}},
    ]  # fmt: skip
    before = copy.deepcopy(target)
    first, second = monitoring.render_service_monitors(app(target))
    assert first["spec"]["endpoints"][0]["metricRelabelings"][0]["regex"] == "test_metric|test_metric2"
    assert first["spec"]["namespaceSelector"] == {"matchNames": ["testnamespace"]}
    assert first["metadata"]["annotations"] == {"note": "x"}
    assert first["metadata"]["labels"]["team"] == "a"
    assert first["metadata"]["labels"]["picchu.medium.engineering/app"] == "test-app"
    assert second["spec"]["endpoints"][0]["metricRelabelings"][0]["regex"] == "(.*)"
    assert second["spec"]["namespaceSelector"] == {"matchNames": ["testnamespace"]}
    assert target == before  # §17 #3: the regex is written into a copy


def test_a_slo_query_that_cannot_be_read_is_reported_not_raised_as_a_crash() -> None:
    target = copy.deepcopy(scenarios.SLO_TARGET)
    target["serviceLevelObjectives"][0]["serviceLevelIndicator"]["totalQuery"] = "sum(rate(x[5m])"
    target["serviceMonitors"] = [{"name": "m", "sloRegex": True, "spec": {"selector": {}, "endpoints": []}}]
    with pytest.raises(RenderError) as error:
        monitoring.render_service_monitors(app(target))
    assert error.value.errors[0][0] == "serviceLevelObjectives[0].serviceLevelIndicator.totalQuery"


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ('sum(rate(test_metric{job="test"}[2m])) by (destination_workload)', {"test_metric"}),
        ('sum by (code) (rate(http_requests_total{code=~"5..", path!="/by"}[5m] offset 1h))', {"http_requests_total"}),
        ("histogram_quantile(0.99, sum by (le) (rate(latency_bucket[5m])))", {"latency_bucket"}),
        ("errors / on(job) group_left(team) team_info > bool 0.5", {"errors", "team_info"}),
        ('label_replace(up, "x", "$1", "instance", "(.*)") unless absent(up)', {"up"}),
        ("max_over_time(rate(a:b:c[5m])[1h:1m]) # comment with metric_like_words", {"a:b:c"}),
        ('{__name__="nameless"}', set()),
    ],
)
def test_metric_names_are_the_vector_selector_names(query: str, names: set[str]) -> None:
    assert metric_names(query) == names


@pytest.mark.parametrize("query", ["sum(rate(x[5m])", 'x{a="b}', "x)", "", "x ; y", "x[5m"])
def test_broken_promql_raises_a_promql_error(query: str) -> None:
    with pytest.raises(PromQLError):
        metric_names(query)


@given(st.text(alphabet='abc_:{}[]()"=~!,.5m +-*/ by\n#', max_size=40))
def test_the_metric_name_reader_never_fails_with_anything_but_a_promql_error(query: str) -> None:
    try:
        metric_names(query)
    except PromQLError:
        pass


@pytest.mark.parametrize(("go", "prometheus"), [("1m", "1m"), ("90s", "1m30s"), ("1.5h", "1h30m"), ("2h0m0s", "2h"), ("0", "0s")])
def test_canary_fail_after_is_written_as_a_prometheus_duration(go: str, prometheus: str) -> None:
    target = copy.deepcopy(scenarios.SLO_TARGET)
    target["serviceLevelObjectives"][0]["serviceLevelIndicator"]["canary"]["failAfter"] = go
    [rule] = monitoring.render_canary_rules(app(target), canary_tag(target))
    assert rule["spec"]["groups"][0]["rules"][0]["for"] == prometheus
