"""The sample manifests under tests/api/manifests/ (valid examples from the spec's picchu-samples.md)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

MANIFESTS = Path(__file__).parent / "manifests"


def manifest(name: str) -> dict[str, Any]:
    """A fresh copy of a sample manifest (tests mutate it freely)."""
    loaded: dict[str, Any] = yaml.safe_load((MANIFESTS / name).read_text())
    return copy.deepcopy(loaded)


def all_manifests() -> list[str]:
    return sorted(path.name for path in MANIFESTS.glob("*.yaml"))


def invalid_manifest(name: str) -> dict[str, Any]:
    """A documented-invalid sample from tests/api/manifests/invalid/."""
    loaded: dict[str, Any] = yaml.safe_load((MANIFESTS / "invalid" / name).read_text())
    return loaded


# Each documented-invalid sample and the field paths our model reports for it.
INVALID_SAMPLES: dict[str, set[str]] = {
    "kubebuilder-revision-sample.yaml": {"spec.foo", "spec.app", "spec.targets", "spec.failed"},
    "kubebuilder-releasemanager-sample.yaml": {"spec.foo", "spec.fleet", "spec.app", "spec.target"},
    "kubebuilder-cluster-sample.yaml": {"spec.foo", "spec.enabled", "spec.ingresses"},
    "kubebuilder-clustersecrets-sample.yaml": {"spec.foo", "spec.source", "spec.target"},
    "kubebuilder-mirror-sample.yaml": {"spec.foo", "spec.clusterName"},
    "kubebuilder-faultinjector-sample.yaml": {"spec.foo", "spec.httpPortFaults"},
    "cluster-staging-reef-a-go-fixture.yaml": {
        "spec.ingresses.public.dnsName",
        "spec.ingresses.public.defaultDomains",
        "spec.ingresses.private.dnsName",
    },
    "revision-syncer-test-go-fixture.yaml": {"spec.targets[0].canary.ttl"},
}
