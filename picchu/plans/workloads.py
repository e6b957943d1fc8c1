"""Per-tag ReplicaSet and the app's PodDisruptionBudget (spec §11.7).

The ReplicaSet `«tag»` carries the whole pod template built from the RevisionTarget: app container first
(ports sorted by containerPort, default `/running` probes when a `status` port exists), then the sidecars;
env, envFrom and volume mounts are shared by every container. The applier creates it once and afterwards
only toggles replicas to/from zero (`WritePolicy.SCALE_ONLY`, see `desired.py`).

Deliberate differences from Picchu (§17):
* #6: `spec.minReadySeconds` is set from `scale.minReadySeconds`.
* #19: sidecars keep their own env / envFrom / volumeMounts. The shared ones are merged in first (parity:
  sidecars still inherit the app's config), and a sidecar's own entry wins on a name (env) or mountPath
  (volumeMounts) clash.
* #3: nothing is mutated; the topology constraint's `DoNotSchedule` → `ScheduleAnyway` rewrite is on a copy.
* The PDB is rendered once per app from the newest tag's target, with app labels (Picchu: every tag writes
  it, last writer wins, with that tag's labels).

Neighbours: `configs.py` (envFrom), `scaling.py` (factor, autoscalers), `labels.py`.
"""

from __future__ import annotations

import math
from typing import Any

from picchu import keys
from picchu.plans import labels
from picchu.plans.configs import env_from
from picchu.plans.desired import new_object
from picchu.plans.inputs import AppInput, TagInput
from picchu.plans.wire import Manifest, RenderError, as_wire, objects, strings

DEFAULT_MAX_UNAVAILABLE = "10%"


def autoscaler_kind(target: dict[str, Any]) -> str:
    """`hpa`, `wpa` or `keda`: the ReplicaSet's autoscaler annotation (§2.2)."""
    scale = target.get("scale") or {}
    if scale.get("worker"):
        return keys.AUTOSCALER_WPA
    if scale.get("kedaWorker"):
        return keys.AUTOSCALER_KEDA
    return keys.AUTOSCALER_HPA


def render_replica_set(inputs: AppInput, tag: TagInput, factor: float) -> Manifest:
    target = as_wire(tag.target)
    role = ((target.get("aws") or {}).get("iam") or {}).get("role_arn")
    annotations = {keys.ANNOTATION_AUTOSCALER: autoscaler_kind(target)}
    if role:
        annotations[keys.ANNOTATION_IAM_ROLE] = str(role)
    spec: dict[str, Any] = {"replicas": math.ceil(tag.scale.replicas * factor)}
    min_ready = (target.get("scale") or {}).get("minReadySeconds")
    if min_ready:
        spec["minReadySeconds"] = min_ready
    spec["selector"] = {"matchLabels": labels.selector_labels(inputs, tag.tag)}
    spec["template"] = {
        "metadata": {
            "name": tag.tag,
            "namespace": inputs.namespace,  # as Picchu writes it (§11.7); the API server keeps it
            "labels": labels.pod_labels(inputs, tag.tag),
            "annotations": _pod_annotations(target, role),
        },
        "spec": _pod_spec(inputs, tag, target),
    }
    return new_object(
        "apps/v1", "ReplicaSet", tag.tag, inputs.namespace, labels.tag_labels(inputs, tag.tag), annotations,
        spec=spec,
    )  # fmt: skip


def render_pod_disruption_budget(inputs: AppInput, tag: TagInput) -> Manifest:
    spec = dict(as_wire(tag.target).get("podDisruptionBudget") or {})
    spec["selector"] = {"matchLabels": {keys.LABEL_APP: inputs.app}}
    if spec.get("maxUnavailable") is None and spec.get("minAvailable") is None:
        spec["maxUnavailable"] = DEFAULT_MAX_UNAVAILABLE
    return new_object(
        "policy/v1", "PodDisruptionBudget", inputs.app, inputs.namespace, labels.app_labels(inputs), spec=spec
    )


def _pod_annotations(target: dict[str, Any], role: object) -> dict[str, str]:
    annotations = strings(target.get("podAnnotations"))
    if role:
        annotations[keys.ANNOTATION_IAM_ROLE] = str(role)
    annotations[keys.ANNOTATION_DATADOG_TOLERATE_UNREADY] = "true"
    if target.get("karpenterDoNotDisrupt"):
        annotations[keys.ANNOTATION_KARPENTER_DO_NOT_DISRUPT] = str(target["karpenterDoNotDisrupt"])
    return annotations


def _pod_spec(inputs: AppInput, tag: TagInput, target: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if target.get("serviceAccountName"):
        spec["serviceAccountName"] = target["serviceAccountName"]
    spec["dnsConfig"] = {"options": [{"name": "ndots", "value": "1"}]}
    for key in ("affinity", "priorityClassName", "tolerations", "volumes", "schedulerName"):
        if target.get(key):
            spec[key] = target[key]
    constraint = target.get("topologySpreadConstraint")
    if constraint:
        constraint = dict(constraint)
        if constraint.get("whenUnsatisfiable") == "DoNotSchedule":
            constraint["whenUnsatisfiable"] = "ScheduleAnyway"
        spec["topologySpreadConstraints"] = [constraint]
    grace = _termination_grace(target)
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    shared = _SharedConfig(env_from(tag), objects(target.get("env")), objects(target.get("volumeMounts")))
    containers = [_app_container(inputs, tag, target)] + objects(target.get("sidecars"))
    spec["containers"] = [shared.merge_into(container) for container in containers]
    return spec


def _termination_grace(target: dict[str, Any]) -> int | None:
    value = strings(target.get("podAnnotations")).get(keys.ANNOTATION_POD_TERMINATION_GRACE)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise RenderError([(
            f"podAnnotations[{keys.ANNOTATION_POD_TERMINATION_GRACE}]",
            f"{value!r} is not a whole number of seconds; write e.g. \"30\"",
        )]) from None  # fmt: skip


def _app_container(inputs: AppInput, tag: TagInput, target: dict[str, Any]) -> dict[str, Any]:
    ports = sorted(objects(target.get("ports")), key=lambda port: int(port.get("containerPort") or 80))
    container: dict[str, Any] = {
        "name": inputs.app,
        "image": tag.image,
        "ports": [
            {
                "name": port.get("name"),
                "containerPort": int(port.get("containerPort") or 80),
                "protocol": port.get("protocol") or "TCP",
            }
            for port in ports
        ],
    }
    if target.get("resources"):
        container["resources"] = target["resources"]
    has_status = any(port.get("name") == "status" for port in ports)
    for probe, failures in (("livenessProbe", 7), ("readinessProbe", 3)):
        if target.get(probe):
            container[probe] = target[probe]
        elif has_status:
            container[probe] = _default_probe(failures)
    if target.get("lifecycle"):
        container["lifecycle"] = target["lifecycle"]
    return container


def _default_probe(failure_threshold: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": "/running", "port": "status"},
        "initialDelaySeconds": 10,
        "periodSeconds": 10,
        "timeoutSeconds": 1,
        "successThreshold": 1,
        "failureThreshold": failure_threshold,
    }


class _SharedConfig:
    """envFrom, env and volumeMounts every container gets (§11.7), merged per §17 #19."""

    def __init__(
        self, env_from: list[dict[str, Any]], env: list[dict[str, Any]], mounts: list[dict[str, Any]]
    ):
        self.env_from, self.env, self.mounts = env_from, env, mounts

    def merge_into(self, container: dict[str, Any]) -> dict[str, Any]:
        merged = dict(container)
        env = _merge(self.env, objects(container.get("env")), "name")
        mounts = _merge(self.mounts, objects(container.get("volumeMounts")), "mountPath")
        env_from = self.env_from + [
            ref for ref in objects(container.get("envFrom")) if ref not in self.env_from
        ]
        for key, value in (("envFrom", env_from), ("env", env), ("volumeMounts", mounts)):
            if value:
                merged[key] = value
            else:
                merged.pop(key, None)
        return merged


def _merge(shared: list[dict[str, Any]], own: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Shared entries first, minus those the container redefines; then the container's own."""
    own_keys = {entry.get(key) for entry in own}
    return [entry for entry in shared if entry.get(key) not in own_keys] + own
