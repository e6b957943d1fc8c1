"""Per-tag autoscalers and the cluster scaling factor (spec §11.7 step 5, §11.8).

Exactly one autoscaler branch is rendered per tag and cluster: WorkerPodAutoScaler (`scale.worker`), KEDA
(`scale.kedaWorker`: TriggerAuthentication, optional datadog ConfigMap and DatadogMetric, ScaledObject),
ambient KEDA (ambientMesh + request-rate target + cluster Prometheus: a prometheus-trigger ScaledObject),
or an autoscaling/v2 HPA when some metric target is set. Objects of the other branches are simply not
rendered, so the applier prunes them when the branch changes (§17 #20). A factor of 0 (event-driven
revision on a `disableEventDriven` cluster) or a retired tag renders no autoscaler (§17.3, §17 #28).

Bounds arrive already divided per cluster (§10.7); here they are multiplied by the cluster's factor
(`ceil`), on fresh values (§17 #3).

Neighbours: `workloads.py` (the ReplicaSet these scale), `inputs.py` (TagScale).
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any

from picchu.plans import labels
from picchu.plans.desired import new_object
from picchu.plans.inputs import AppInput, ClusterInput, TagInput
from picchu.plans.wire import Manifest, RenderError, as_wire, objects

KEDA_API = "keda.sh/v1alpha1"
DATADOG_ROLLUP_SECONDS = 120
_SUFFIXES = {
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
    "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
    "P": Decimal("1e15"), "E": Decimal("1e18"),
    "Ki": Decimal(2**10), "Mi": Decimal(2**20), "Gi": Decimal(2**30), "Ti": Decimal(2**40),
    "Pi": Decimal(2**50), "Ei": Decimal(2**60),
}  # fmt: skip


MAX_SCALING_FACTOR = 1000.0  # as picchu.api.v1alpha1.validation: beyond it pod counts overflow


def scaling_factor(cluster: ClusterInput, tag: TagInput) -> float:
    """The cluster's `scalingFactorString` ("" → 1.0), or 0 for event-driven revisions where disabled."""
    spec = as_wire(cluster.spec)
    text = str(spec.get("scalingFactorString") or "1.0")
    try:
        factor = float(text)
    except ValueError:
        factor = math.nan
    if not math.isfinite(factor) or factor < 0 or factor > MAX_SCALING_FACTOR:
        raise RenderError([(
            f"Cluster {cluster.name}: spec.scalingFactorString",
            f"{text!r} is not a number from 0 to {MAX_SCALING_FACTOR:g}; write e.g. \"1.0\" or \"0.5\"",
        )])  # fmt: skip
    if tag.event_driven and spec.get("disableEventDriven"):
        return 0.0
    return factor


def render_autoscalers(
    inputs: AppInput, cluster: ClusterInput, tag: TagInput, factor: float
) -> list[Manifest]:
    """The tag's autoscaler objects on this cluster (possibly none)."""
    if not tag.scale.autoscaled or factor == 0:
        return []
    target = as_wire(tag.target)
    scale = target.get("scale") or {}
    low = tag.scale.min_replicas
    high = max(tag.scale.max_replicas, low)
    bounds = (math.ceil(low * factor), math.ceil(high * factor))
    tag_labels = labels.tag_labels(inputs, tag.tag)
    namespace, name = inputs.namespace, tag.tag
    if scale.get("worker"):
        return [_worker(namespace, name, tag_labels, scale["worker"], bounds)]
    if scale.get("kedaWorker"):
        return _keda(inputs, cluster, tag, scale["kedaWorker"], bounds)
    prometheus = inputs.settings.cluster_prometheus_address
    if target.get("ambientMesh") and tag.scale.requests_rate_target and prometheus:
        query = (
            f'sum(rate(istio_requests_total{{destination_workload="{name}", '
            f'destination_workload_namespace="{namespace}"}}[2m]))'
        )
        trigger = {
            "type": "prometheus",
            "metadata": {
                "serverAddress": prometheus,
                "query": query,
                "threshold": _decimal_text(
                    quantity(tag.scale.requests_rate_target, "scale.targetRequestsRate")
                ),
            },
        }
        return [_scaled_object(namespace, name, tag_labels, bounds, {"triggers": [trigger]})]
    metrics = _hpa_metrics(tag, str(scale.get("requestsRateMetric") or "istio_requests_rate"))
    if not metrics:
        return []
    low_hpa = max(1, bounds[0])  # autoscaling/v2 rejects 0 (no scale-to-zero gate); KEDA/WPA accept it
    spec = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": name},
        "minReplicas": low_hpa,
        "maxReplicas": max(low_hpa, bounds[1]),
        "metrics": metrics,
    }
    return [new_object("autoscaling/v2", "HorizontalPodAutoscaler", name, namespace, tag_labels, spec=spec)]


def quantity(text: str, field: str) -> Decimal:
    """A Kubernetes quantity ("5", "500m", "1.5k", "2Gi", "1e3") as a Decimal."""
    body = text.strip()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if suffix and body.endswith(suffix):
            number, multiplier = body[: -len(suffix)], _SUFFIXES[suffix]
            break
    else:
        number, multiplier = body, Decimal(1)
    try:
        return Decimal(number) * multiplier
    except InvalidOperation:
        raise RenderError(
            [(field, f'{text!r} is not a Kubernetes quantity; write e.g. "5" or "500m"')]
        ) from None


def _decimal_text(value: Decimal) -> str:
    """Shortest plain decimal: 5 → "5", 0.5 → "0.5"."""
    text = format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _hpa_metrics(tag: TagInput, rate_metric: str) -> list[dict[str, Any]]:
    metrics: list[dict[str, Any]] = []
    for resource, value in (("cpu", tag.scale.cpu_target), ("memory", tag.scale.memory_target)):
        if value is not None:
            target = {"type": "Utilization", "averageUtilization": value}
            metrics.append({"type": "Resource", "resource": {"name": resource, "target": target}})
    if tag.scale.requests_rate_target:
        metrics.append({
            "type": "Pods",
            "pods": {
                "metric": {"name": rate_metric},
                "target": {"type": "AverageValue", "averageValue": tag.scale.requests_rate_target},
            },
        })  # fmt: skip
    return metrics


def _worker(namespace: str, name: str, tag_labels: dict[str, str], worker: dict[str, Any],
            bounds: tuple[int, int]) -> Manifest:  # fmt: skip
    spec: dict[str, Any] = {
        "replicaSetName": name,
        "minReplicas": bounds[0],
        "maxReplicas": bounds[1],
        "queueURI": worker.get("queueUri", ""),
        "targetMessagesPerWorker": worker.get("targetMessagesPerWorker", 0),
    }
    if worker.get("maxDisruption") is not None:
        spec["maxDisruption"] = worker["maxDisruption"]
    seconds = worker.get("secondsToProcessOneJobString")
    try:
        if seconds:
            spec["secondsToProcessOneJob"] = float(seconds)
    except ValueError:
        pass  # Picchu omits an unparseable value (§11.8 #1)
    return new_object("k8s.practo.dev/v1", "WorkerPodAutoScaler", name, namespace, tag_labels, spec=spec)


def _keda(inputs: AppInput, cluster: ClusterInput, tag: TagInput, keda: dict[str, Any],
          bounds: tuple[int, int]) -> list[Manifest]:  # fmt: skip
    namespace, name = inputs.namespace, tag.tag
    tag_labels = labels.tag_labels(inputs, tag.tag)
    triggers = objects(keda.get("triggers"))
    rendered: list[Manifest] = []
    auth: dict[str, Any] = {"podIdentity": {"provider": "aws-eks"}}
    if any(trigger.get("type") == "datadog" for trigger in triggers):
        config = f"dd-cfg-{name}"
        data = {
            "datadogNamespace": "datadog",
            "datadogMetricsService": "datadog-cluster-agent-metrics-server",
            "authMode": "bearer",
            "unsafeSsl": "true",
        }
        rendered.append(new_object("v1", "ConfigMap", config, namespace, tag_labels, data=data))
        auth["configMapTargetRef"] = [
            {"parameter": key, "name": config, "key": key}
            for key in ("datadogNamespace", "authMode", "datadogMetricsService", "unsafeSsl")
        ]
        auth["secretTargetRef"] = [{"parameter": "token", "name": "service-account-token", "key": "token"}]
    rendered.append(new_object(KEDA_API, "TriggerAuthentication", name, namespace, tag_labels, spec=auth))
    if tag.scale.requests_rate_target:
        query = (
            "avg:istio.mesh.request.count{reporter:destination, "
            f"cluster:{cluster.name}, kube_namespace:{namespace}, version:{name}}}"
            f".rollup(count, {DATADOG_ROLLUP_SECONDS})"
        )
        rendered.append(
            new_object(
                "datadoghq.com/v1alpha1", "DatadogMetric", name, namespace, tag_labels, spec={"query": query}
            )
        )
    for trigger in triggers:
        if not trigger.get("authenticationRef"):
            trigger["authenticationRef"] = {"name": name}
            trigger["metadata"] = {**(trigger.get("metadata") or {}), "identityOwner": "pod"}
    extra: dict[str, Any] = {"triggers": triggers}
    for key in ("cooldownPeriod", "idleReplicaCount", "advanced", "fallback"):
        if keda.get(key) is not None:
            extra[key] = keda[key]
    rendered.append(_scaled_object(namespace, name, tag_labels, bounds, extra))
    return rendered


def _scaled_object(namespace: str, name: str, tag_labels: dict[str, str], bounds: tuple[int, int],
                   extra: dict[str, Any]) -> Manifest:  # fmt: skip
    spec: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": name},
        "minReplicaCount": bounds[0],
        "maxReplicaCount": bounds[1],
        **extra,
    }
    return new_object(KEDA_API, "ScaledObject", name, namespace, tag_labels, spec=spec)
