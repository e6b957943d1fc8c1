"""Invalid objects are rejected by load_* with the field path and how to fix it; valid ones pass."""

from __future__ import annotations

from typing import Any

import pytest
from api_invalid_cases import CASES, Case
from api_samples import INVALID_SAMPLES, invalid_manifest, manifest

from picchu.api.v1alpha1 import InvalidSpec, load, load_revision


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_an_invalid_object_is_rejected_naming_the_field_and_the_fix(case: Case) -> None:
    obj = manifest(case.sample)
    case.mutate(obj)
    with pytest.raises(InvalidSpec) as raised:
        load(obj)
    matching = [message for path, message in raised.value.errors if path == case.path]
    assert matching, raised.value.errors
    assert any(case.message in message for message in matching), matching
    assert case.path in str(raised.value)


def webhook_revision(*targets: dict[str, Any]) -> dict[str, Any]:
    """Builder-made Revisions as in Picchu's revision_webhook_test.go."""
    return {
        "metadata": {"name": "rev", "namespace": "ns"},
        "spec": {
            "app": {"name": "app", "ref": "ref", "tag": "tag", "image": "image"},
            "failed": False,
            "targets": [{"fleet": "f", "scale": {"min": 1}, **target} for target in targets],
        },
    }


def test_webhook_case_http_private_grpc_public_status_local_is_accepted() -> None:
    ports = [
        {"name": "http", "mode": "private"},
        {"name": "grpc", "mode": "public"},
        {"name": "status", "mode": "local"},
    ]
    target = load_revision(webhook_revision({"name": "t", "ports": ports})).spec.targets[0]
    assert target.default_ingress_ports == {"private": "http", "public": "grpc"}


def test_webhook_case_no_ports_is_accepted() -> None:
    assert load_revision(webhook_revision({"name": "t"})).spec.targets[0].default_ingress_ports is None


def test_webhook_case_explicit_defaults_are_accepted() -> None:
    ports = [{"name": "a", "mode": "private"}, {"name": "b", "mode": "private"}]
    revision = load_revision(
        webhook_revision({"name": "t", "ports": ports, "defaultIngressPorts": {"private": "b"}})
    )
    assert revision.spec.targets[0].default_ingress_ports == {"private": "b"}


def test_webhook_case_a_wrong_default_in_the_second_target_is_reported_there() -> None:
    ports = [{"name": "http", "mode": "private"}]
    obj = webhook_revision(
        {"name": "one", "ports": ports},
        {"name": "two", "ports": ports, "defaultIngressPorts": {"private": "grpc"}},
    )
    with pytest.raises(InvalidSpec) as raised:
        load_revision(obj)
    assert [path for path, _ in raised.value.errors] == ["spec.targets[1].defaultIngressPorts.private"]


def test_all_errors_are_reported_at_once() -> None:
    obj = manifest("revision-echo.yaml")
    production = obj["spec"]["targets"][1]
    production["release"]["scalingStrategy"] = "fast"
    production["karpenterDoNotDisrupt"] = "soon"
    del production["scale"]["min"]
    with pytest.raises(InvalidSpec) as raised:
        load_revision(obj)
    assert {path for path, _ in raised.value.errors} == {
        "spec.targets[1].release.scalingStrategy",
        "spec.targets[1].karpenterDoNotDisrupt",
        "spec.targets[1].scale.min",
    }


@pytest.mark.parametrize("value", ["true", "30m", "1h15m", "90s"])
def test_karpenter_do_not_disrupt_accepts_true_or_a_go_duration(value: str) -> None:
    obj = manifest("revision-echo.yaml")
    obj["spec"]["targets"][1]["karpenterDoNotDisrupt"] = value
    assert load_revision(obj).spec.targets[1].karpenter_do_not_disrupt == value


def test_invalid_spec_is_a_value_error_with_structured_errors() -> None:
    with pytest.raises(ValueError, match="invalid Revision 'rev'") as raised:
        load_revision(webhook_revision())
    assert isinstance(raised.value, InvalidSpec)
    assert raised.value.errors == [
        ("spec.targets", "no targets: add at least one target (name, fleet, scale.min)")
    ]


@pytest.mark.parametrize("name", sorted(INVALID_SAMPLES))
def test_documented_invalid_samples_are_rejected_naming_every_bad_field(name: str) -> None:
    with pytest.raises(InvalidSpec) as raised:
        load(invalid_manifest(name))
    assert {path for path, _ in raised.value.errors} == INVALID_SAMPLES[name]


@pytest.mark.parametrize("value", ["2m", "1h30m", "1d", "1w", "90s", "0"])
def test_canary_fail_after_accepts_prometheus_durations_it_becomes_the_alert_for(value: str) -> None:
    obj = manifest("revision-echo.yaml")
    obj["spec"]["targets"][1]["serviceLevelObjectives"][0]["serviceLevelIndicator"]["canary"]["failAfter"] = (
        value
    )
    slo = load_revision(obj).spec.targets[1].service_level_objectives[0]  # type: ignore[index]
    assert slo.service_level_indicator.canary.fail_after == value  # type: ignore[union-attr]
