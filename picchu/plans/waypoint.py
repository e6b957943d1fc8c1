"""The ambient-mesh waypoint family (spec §11.6): options ConfigMap, Gateway, PDB and HPA, all `waypoint`.

Rendered only when `namespace.mesh_mode` says a waypoint is needed; otherwise nothing is rendered and the
applier prunes the four objects (Picchu's Delete* plans). Sizes come from the newest tag's target
(`waypointResources`, `waypointHPA`).

Neighbours: `namespace.py` (mode decision), `labels.py`.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from picchu import keys
from picchu.plans import labels
from picchu.plans.desired import new_object
from picchu.plans.inputs import AppInput
from picchu.plans.wire import Manifest, as_wire

NAME = "waypoint"
OPTIONS = "waypoint-options"
_DATADOG_CHECKS = {
    "istio": {
        "init_config": {},
        "instances": [{
            "use_openmetrics": True,
            "istio_mode": "ambient",
            "waypoint_endpoint": "http://%%host%%:15020/stats/prometheus",
            "collect_histogram_buckets": True,
        }],
    }
}  # fmt: skip


def render_waypoint(inputs: AppInput) -> list[Manifest]:
    newest = as_wire(inputs.tags[0].target) if inputs.tags else {}
    managed = labels.managed(inputs.app)
    namespace = inputs.namespace
    options = new_object("v1", "ConfigMap", OPTIONS, namespace, managed,
                         data={"deployment": _deployment_overlay(newest)})  # fmt: skip
    gateway = new_object(
        "gateway.networking.k8s.io/v1", "Gateway", NAME, namespace,
        {keys.LABEL_ISTIO_WAYPOINT_FOR: "all", **managed},
        spec={
            "gatewayClassName": "istio-waypoint",
            "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE"}],
            "infrastructure": {"parametersRef": {"group": "", "kind": "ConfigMap", "name": OPTIONS}},
        },
    )  # fmt: skip
    low, high, cpu = _hpa_bounds(newest)
    budget = new_object(
        "policy/v1", "PodDisruptionBudget", NAME, namespace, managed,
        spec={
            "minAvailable": max(1, low - 1),
            "selector": {"matchLabels": {"gateway.networking.k8s.io/gateway-name": NAME}},
        },
    )  # fmt: skip
    autoscaler = new_object(
        "autoscaling/v2", "HorizontalPodAutoscaler", NAME, namespace, managed,
        spec={
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": NAME},
            "minReplicas": low,
            "maxReplicas": high,
            "metrics": [{
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": cpu}},
            }],
        },
    )  # fmt: skip
    return [options, gateway, budget, autoscaler]


def _hpa_bounds(target: dict[str, Any]) -> tuple[int, int, int]:
    """(min, max, cpu): the target's waypointHPA when its min ≥ 2, else (2, 20, 70); min never above max."""
    hpa = target.get("waypointHPA") or {}
    low, high, cpu = 2, 20, 70
    if int(hpa.get("minReplicas") or 0) >= 2:
        low = int(hpa["minReplicas"])
        high = int(hpa.get("maxReplicas") or 0) or 20
        cpu = int(hpa.get("targetCPUUtilizationPercentage") or 0) or 70
    return min(max(2, low), high), high, cpu


def _deployment_overlay(target: dict[str, Any]) -> str:
    spec: dict[str, Any] = {
        "tolerations": [{"key": "waypoint", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "node.medium.engineering/role", "operator": "In", "values": ["waypoint"]}]}
        ]}}},
    }  # fmt: skip
    resources = target.get("waypointResources") or {}
    proxy: dict[str, Any] = {}
    for kind in ("requests", "limits"):
        amounts = {name: str(value) for name, value in sorted((resources.get(kind) or {}).items())
                   if str(value) not in ("0", "")}  # fmt: skip
        if amounts:
            proxy[kind] = amounts
    if proxy:
        spec["containers"] = [{"name": "istio-proxy", "resources": proxy}]
    overlay = {
        "spec": {"template": {
            "metadata": {"annotations": {"ad.datadoghq.com/istio-proxy.checks": json.dumps(_DATADOG_CHECKS, separators=(",", ":"))}},
            "spec": spec,
        }}
    }  # fmt: skip
    return yaml.safe_dump(overlay, sort_keys=False)
