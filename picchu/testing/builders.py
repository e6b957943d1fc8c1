"""Builders for the manifests tests and examples write: a Revision as a CI pipeline would create it.

Defaults give a small, fast rollout: eligible, schedule `always`, geometric 10 → 20 → 40 → 80 → 100 with a
1-second delay, two replicas, one private `http` port. Pass `target={...}` to override target fields
(merged into the defaults) and `spec={...}` for top-level spec fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from picchu import keys


def revision_manifest(app: str, tag: str, *, namespace: str, committed: datetime, target_name: str = "production",
                      fleet: str = "production", image: str | None = None, target: dict[str, Any] | None = None,
                      spec: dict[str, Any] | None = None, labels: dict[str, str] | None = None) -> dict[str, Any]:
    base_target: dict[str, Any] = {
        "name": target_name,
        "fleet": fleet,
        "acceptanceTarget": True,
        "scale": {"min": 2, "default": 2, "max": 4},
        "release": {"eligible": True, "schedule": "always", "scalingStrategy": "geometric",
                    "geometricScaling": {"start": 10, "factor": 2, "delay": "1s"}},
        "ports": [{"name": "http", "mode": "private", "port": 80, "containerPort": 8080}],
    }
    for key, value in (target or {}).items():
        base_target[key] = value
    body: dict[str, Any] = {
        "app": {"name": app, "ref": "main", "tag": tag, "image": image or f"registry.example/{app}:{tag}"},
        "failed": False,
        "targets": [base_target],
        **(spec or {}),
    }
    return {
        "apiVersion": keys.API_VERSION,
        "kind": "Revision",
        "metadata": {
            "name": f"{app}-{tag}",
            "namespace": namespace,
            "labels": dict(labels or {}),
            "annotations": {keys.ANNOTATION_GIT_COMMIT_TIMESTAMP: committed.strftime("%Y-%m-%dT%H:%M:%SZ")},
        },
        "spec": body,
    }
