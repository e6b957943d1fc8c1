"""Picchu's read-time defaults (§3.2) and webhook mutations (§3.3) are applied by load_revision/load_cluster."""

from __future__ import annotations

from typing import Any

import pytest

from picchu.api.v1alpha1 import Revision, load_cluster, load_revision, to_wire


def minimal_revision(**target: Any) -> dict[str, Any]:
    return {
        "apiVersion": "picchu.medium.engineering/v1alpha1",
        "kind": "Revision",
        "metadata": {"name": "app-v1", "namespace": "picchu"},
        "spec": {
            "app": {"name": "app", "ref": "main", "tag": "v1", "image": "app:v1"},
            "failed": False,
            "targets": [{"name": "production", "fleet": "production", "scale": {"min": 1}, **target}],
        },
    }


def test_an_empty_target_gets_every_documented_default() -> None:
    target = to_wire(load_revision(minimal_revision()))["spec"]["targets"][0]
    assert target["scale"] == {"min": 1, "default": 1, "max": 1, "requestsRateMetric": "istio_requests_rate"}
    assert target["release"] == {
        "max": 100,
        "scalingStrategy": "geometric",
        "geometricScaling": {"start": 10, "factor": 2, "delay": "10s"},
        "linearScaling": {"increment": 5, "delay": "10s"},
        "schedule": "inhumane",
        "ttl": 432000,
    }
    assert target["externalTest"] == {
        "enabled": False,
        "started": False,
        "completed": False,
        "timeout": "2h0m0s",
    }
    for absent in ("canary", "defaultIngressPorts", "ports", "podDisruptionBudget"):
        assert absent not in target


def test_scale_min_and_canary_are_not_defaulted() -> None:
    revision = load_revision(minimal_revision(scale={"min": 0}, canary={"percent": 0, "ttl": 0}))
    target = revision.spec.targets[0]
    assert target.scale.min == 0
    assert target.canary is not None and (target.canary.percent, target.canary.ttl) == (0, 0)


def test_values_the_user_set_are_kept() -> None:
    release = {
        "max": 50,
        "scalingStrategy": "linear",
        "linearScaling": {"increment": 20, "delay": "1m"},
        "schedule": "always",
        "ttl": 3600,
    }
    target = load_revision(
        minimal_revision(release=release, scale={"min": 2, "default": 3, "max": 9})
    ).spec.targets[0]
    assert target.release is not None and target.release.linear_scaling is not None
    assert (target.release.max, target.release.scaling_strategy, target.release.ttl) == (50, "linear", 3600)
    assert (target.release.linear_scaling.increment, target.release.linear_scaling.delay) == (20, "1m")
    assert (target.scale.default, target.scale.max) == (3, 9)


def test_an_explicit_zero_is_treated_as_unset_like_picchu() -> None:
    target = load_revision(
        minimal_revision(release={"max": 0, "ttl": 0}, scale={"min": 1, "max": 0})
    ).spec.targets[0]
    assert target.release is not None
    assert (target.release.max, target.release.ttl, target.scale.max) == (100, 432000, 1)


def test_ports_get_default_numbers_protocol_and_mode() -> None:
    target = load_revision(minimal_revision(ports=[{"name": "http", "mode": "private"}])).spec.targets[0]
    port = target.ports[0]  # type: ignore[index]
    assert (port.ingress_port, port.port, port.container_port, port.protocol, port.mode) == (
        443,
        80,
        80,
        "TCP",
        "private",
    )


def test_sidecar_ports_default_to_tcp_and_keep_everything_else() -> None:
    sidecars = [
        {
            "name": "proxy",
            "image": "envoy",
            "ports": [{"containerPort": 9901}, {"containerPort": 53, "protocol": "UDP"}],
        }
    ]
    target = load_revision(minimal_revision(sidecars=sidecars)).spec.targets[0]
    assert target.sidecars == [
        {
            "name": "proxy",
            "image": "envoy",
            "ports": [{"containerPort": 9901, "protocol": "TCP"}, {"containerPort": 53, "protocol": "UDP"}],
        }
    ]


@pytest.mark.parametrize(
    ("mode", "ingresses"),
    [("public", ["private", "public"]), ("private", ["private"]), ("local", None), ("", ["private"])],
)
def test_ports_are_exposed_on_ingresses_derived_from_their_mode(
    mode: str, ingresses: list[str] | None
) -> None:
    target = load_revision(minimal_revision(ports=[{"name": "http", "mode": mode}])).spec.targets[0]
    assert target.ports[0].ingresses == ingresses  # type: ignore[index]


def test_explicit_ingresses_are_not_replaced_by_the_mode() -> None:
    ports = [{"name": "http", "mode": "public", "ingresses": ["private"]}]
    target = load_revision(minimal_revision(ports=ports)).spec.targets[0]
    assert target.ports[0].ingresses == ["private"]  # type: ignore[index]
    assert target.default_ingress_ports == {"private": "http"}


def test_default_ingress_ports_pick_the_only_port_or_the_one_named_http() -> None:
    ports = [
        {"name": "http", "mode": "public"},
        {"name": "grpc", "mode": "private"},
        {"name": "status", "mode": "local"},
    ]
    target = load_revision(minimal_revision(ports=ports)).spec.targets[0]
    assert target.default_ingress_ports == {"private": "http", "public": "http"}


def test_a_port_marked_default_is_chosen_for_its_ingress() -> None:
    ports = [{"name": "web", "mode": "private", "default": True}, {"name": "admin", "mode": "private"}]
    target = load_revision(minimal_revision(ports=ports)).spec.targets[0]
    assert target.default_ingress_ports == {"private": "web"}


def test_existing_default_ingress_ports_are_never_overwritten_only_completed() -> None:
    ports = [{"name": "http", "mode": "public"}, {"name": "api", "mode": "private"}]
    target = load_revision(
        minimal_revision(ports=ports, defaultIngressPorts={"private": "api"})
    ).spec.targets[0]
    assert target.default_ingress_ports == {"private": "api", "public": "http"}


def test_loading_does_not_change_the_undefaulted_view_or_the_input() -> None:
    obj = minimal_revision(ports=[{"name": "http", "mode": "public"}])
    before = repr(obj)
    load_revision(obj)
    assert repr(obj) == before
    assert Revision.model_validate(obj).model_dump(by_alias=True, exclude_unset=True, mode="json") == obj


def test_loading_a_defaulted_revision_again_changes_nothing() -> None:
    once = to_wire(load_revision(minimal_revision(ports=[{"name": "http", "mode": "public"}])))
    assert to_wire(load_revision(once)) == once


def test_cluster_scaling_factor_defaults_to_one(cluster_obj: dict[str, Any]) -> None:
    del cluster_obj["spec"]["scalingFactorString"]
    cluster = load_cluster(cluster_obj)
    assert cluster.spec.scaling_factor_string == "1.0" and cluster.scaling_factor == 1.0
