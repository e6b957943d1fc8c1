"""A rendered object and the rule by which the applier may write it: the contract with `picchu.clusters`.

Most objects are written with server-side apply on every pass (`WritePolicy.APPLY`: field manager
`picchu`, fields we stop rendering are removed, fields owned by others are kept, so namespace labels set by
others and annotations survive, §17 #13). Two kinds of object must not be re-applied blindly:

* `CREATE_ONLY`: create when absent, never update (the service-account token Secret, whose data Kubernetes
  fills in, §17 #14; the shared service-levels namespace, whose labels belong to someone else).
* `SCALE_ONLY`: ReplicaSets. Create with the full manifest; afterwards only `spec.replicas` may change, and
  only when the desired or the existing count is 0 (retire / un-retire: §11.1); in between, the autoscaler
  owns the count and the pod template is immutable by design.
* `SCALE_OWNED`: a ReplicaSet no autoscaler scales: as `SCALE_ONLY`, but picchu owns the count, so
  `spec.replicas` is written whenever it differs (how a ramp provisions pods ahead without an autoscaler;
  Picchu only toggled it to/from zero and could wait forever for pods nobody started).

Neighbours: every renderer builds manifests with `new_object`; `plan.py` wraps them in `DesiredObject`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from picchu.plans.wire import Manifest


class WritePolicy(enum.Enum):
    APPLY = "apply"
    CREATE_ONLY = "create-only"
    SCALE_ONLY = "scale-only"
    SCALE_OWNED = "scale-owned"


@dataclass(frozen=True)
class DesiredObject:
    """One object the cluster must hold after this pass."""

    manifest: Manifest
    policy: WritePolicy = WritePolicy.APPLY

    @property
    def api_version(self) -> str:
        return str(self.manifest["apiVersion"])

    @property
    def kind(self) -> str:
        return str(self.manifest["kind"])

    @property
    def name(self) -> str:
        return str(self.manifest["metadata"]["name"])

    @property
    def namespace(self) -> str:
        return str(self.manifest["metadata"].get("namespace", ""))

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        marker = "" if self.policy is WritePolicy.APPLY else f" [{self.policy.value}]"
        return f"{self.api_version} {self.kind} {where}{marker}"


def new_object(
    api_version: str,
    kind: str,
    name: str,
    namespace: str | None,
    labels: dict[str, str],
    annotations: dict[str, str] | None = None,
    **body: Any,
) -> Manifest:
    """A manifest with metadata filled in (annotations omitted when empty) and `body` as top-level keys."""
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    metadata["labels"] = dict(labels)
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **body}
