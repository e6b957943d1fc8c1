"""kwok, the simulator of nodes and Pod lifecycles that stands in for kubelets, and where to find it.

Why: the local clusters have no kubelet; kwok (`sigs.k8s.io/kwok`) plays one for "fake" nodes, moving Pods
through the lifecycle its stages describe (scheduled → Running/Ready → deleted), so the real ReplicaSet,
garbage-collection, disruption and HPA controllers see the Pods they would see in a real cluster. Like the
rest of the control plane it is built from the Go module proxy (no release downloads).

Neighbours: `binaries` builds it (the `sigs.k8s.io/kwok` line of `hack/controlplane/go.mod` is the pin) in the
same `go build` as kube-apiserver & co., so kwok's `k8s.io/*` packages are compiled once for all; `machinery`
runs it. `PICCHU_KWOK_BIN` may name a ready `kwok` executable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO

from picchu.testing.controlplane.binaries import ControlPlaneUnavailable, cached_binaries, ensure_binaries


def cached_kwok() -> Path | None:
    """The kwok executable if it was built (or `PICCHU_KWOK_BIN` names one), else None. Never builds."""
    override = os.environ.get("PICCHU_KWOK_BIN")
    if override:
        return Path(override) if Path(override).exists() else None
    found = cached_binaries()
    return found.kwok if found is not None else None


def ensure_kwok(*, log: TextIO | None = None) -> Path:
    """The kwok executable, built with the rest of the control plane when nothing is cached."""
    if os.environ.get("PICCHU_KWOK_BIN"):
        found = cached_kwok()
        if found is None:
            raise ControlPlaneUnavailable(f"PICCHU_KWOK_BIN={os.environ['PICCHU_KWOK_BIN']} does not exist")
        return found
    return ensure_binaries(log=log).kwok
