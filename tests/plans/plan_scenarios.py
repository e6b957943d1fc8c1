"""Fixtures of picchu-samples.md §3 as renderer inputs, shared by the tests in tests/plans."""

from __future__ import annotations

from typing import Any

from picchu.api.v1alpha1 import load_revision
from picchu.plans.inputs import AppInput, ClusterInput, RouteRevision, RoutingInput, TagInput, TagScale


def cluster(name: str, *, factor: str = "1.0", public: tuple[str, list[str]] = ("public-gateway", []),
            private: tuple[str, list[str]] = ("private-gateway", []), **extra: Any) -> ClusterInput:  # fmt: skip
    """A Cluster spec as the Go fixtures build it (§3.2)."""
    spec = {
        "enabled": True,
        "scalingFactorString": factor,
        "ingresses": {
            "public": {"dnsName": "", "gateway": public[0], "defaultDomains": public[1]},
            "private": {"dnsName": "", "gateway": private[0], "defaultDomains": private[1]},
        },
        **extra,
    }
    return ClusterInput(name=name, spec=spec)


def sync_new_app_cluster() -> ClusterInput:
    return cluster("test-a", factor="0.5", private=("private-gateway", ["test-a.cluster.doki-pen.org", "doki-pen.org"]))


def sync_new_app_target() -> dict[str, Any]:
    """The TestSyncNewApp target (§3.5): ports as the Go test builds them, bypassing the webhook."""
    return {
        "name": "production",
        "fleet": "production",
        "scale": {"min": 1, "default": 1, "max": 1},
        "ports": [
            {
                "name": "http", "ingressPort": 443, "port": 80, "containerPort": 5000,
                "ingresses": ["private", "public"], "protocol": "TCP", "mode": "public",
                "istio": {"http": {"retries": {"attempts": 2, "perTryTimeout": "3ms", "retryOn": "5xx"},
                                   "timeout": "3ms"}},
            },
            {"name": "status", "ingressPort": 443, "port": 4242, "containerPort": 4444, "protocol": "TCP"},
        ],
        "defaultIngressPorts": {"private": "http", "public": "http"},
        "istio": {
            "sidecar": {"egressHosts": ["istio-system/*"]},
            "trafficPolicy": {"connectionPool": {"tcp": {"maxConnections": 100}}},
        },
        "alertRules": [{"alert": "hello", "expr": "hello world"}],
    }  # fmt: skip


def sync_new_app() -> AppInput:
    target = sync_new_app_target()
    revision = RouteRevision(
        "testtag", 100, tag_routing_header="TEST-TAG", traffic_policy=target["istio"]["trafficPolicy"]
    )
    routing = RoutingInput.from_targets((target,), (revision,), alert_rules=tuple(target["alertRules"]))
    return AppInput(app="testapp", target="production", fleet="production", namespace="testnamespace",
                    routing=routing)  # fmt: skip


SLO_TARGET: dict[str, Any] = {
    "name": "production",
    "fleet": "production",
    "scale": {"min": 1, "default": 1, "max": 1},
    "serviceLevelObjectives": [
        {
            "name": "test-app-availability",
            "enabled": True,
            "objectivePercentString": "99.999",
            "description": "Test description",
            "serviceLevelIndicator": {
                "canary": {"enabled": True, "allowancePercent": 1, "failAfter": "1m"},
                "tagKey": "destination_workload",
                "alertAfter": "1m",
                "errorQuery": 'sum(rate(test_metric{job="test"}[2m])) by (destination_workload)',
                "totalQuery": 'sum(rate(test_metric2{job="test"}[2m])) by (destination_workload)',
            },
            "serviceLevelObjectiveLabels": {"alertLabels": {"team": "test"}},
        }
    ],
    "serviceLevelObjectiveLabels": {"alertLabels": {"severity": "test"}},
}
"""The SLO fixture of §3.4 (app `test-app`, namespace `testnamespace`)."""


def revision_target(target: dict[str, Any], *, app: str = "testapp", tag: str = "testtag") -> Any:
    """A RevisionTarget model loaded with the API's defaults and webhook mutations."""
    revision = load_revision({
        "apiVersion": "picchu.medium.engineering/v1alpha1",
        "kind": "Revision",
        "metadata": {"name": f"{app}-{tag}", "namespace": "picchu"},
        "spec": {"app": {"name": app, "ref": "main", "tag": tag, "image": "img"}, "failed": False,
                 "targets": [target]},
    })  # fmt: skip
    return revision.spec.targets[0]


def tag(name: str, target: Any, *, replicas: int = 1, **scale: Any) -> TagInput:
    return TagInput(tag=name, image=f"docker.medium.sh/test:{name}", target=target,
                    scale=TagScale(replicas=replicas, **scale))  # fmt: skip
