"""Picchu's scheme defaults (§3.2) and its Revision admission-webhook mutations (§3.3), applied on read.

Why: Go Picchu fills defaults in memory every time a controller reads a Revision or Cluster, and relies on a
mutating webhook for ingress fields. We apply both in code when an object is loaded, so behaviour never
depends on a webhook being up. A default is applied only when the field is zero-valued (absent, 0, ""),
exactly like Picchu, so an explicit 0 cannot be expressed.

Deliberate differences (spec §17): the webhook derives `ingresses` after mode defaulting, so an empty mode
counts as `private` (§17 #18); when choosing default ingress ports a port marked `default: true` is chosen
for its ingress (Picchu ignored the flag, and then rejected the Revision for lack of a default).

Neighbours: `revision`/`cluster` (models), `validation` (runs after this; shares `ingress_buckets`),
`loading` (calls both). Pure: functions return defaulted deep copies and never mutate their argument.
"""

from __future__ import annotations

from typing import Any

from picchu.api.v1alpha1.cluster import DEFAULT_SCALING_FACTOR, Cluster
from picchu.api.v1alpha1.revision import (
    INGRESS_PRIVATE,
    INGRESS_PUBLIC,
    PORT_MODE_PRIVATE,
    PORT_MODE_PUBLIC,
    SCALING_GEOMETRIC,
    SCHEDULE_INHUMANE,
    ExternalTest,
    GeometricScaling,
    LinearScaling,
    PortInfo,
    ReleaseInfo,
    Revision,
    RevisionTarget,
)

DEFAULT_RELEASE_MAX = 100
DEFAULT_SCHEDULE = SCHEDULE_INHUMANE
DEFAULT_SCALING_STRATEGY = SCALING_GEOMETRIC
DEFAULT_RELEASE_TTL = 432_000
DEFAULT_GEOMETRIC_FACTOR = 2
DEFAULT_GEOMETRIC_START = 10
DEFAULT_SCALING_DELAY = "10s"
DEFAULT_LINEAR_INCREMENT = 5
DEFAULT_SCALE_DEFAULT = 1
DEFAULT_SCALE_MAX = 1
DEFAULT_REQUESTS_RATE_METRIC = "istio_requests_rate"
DEFAULT_INGRESS_PORT = 443
DEFAULT_PORT = 80
DEFAULT_CONTAINER_PORT = 80
DEFAULT_PROTOCOL = "TCP"
DEFAULT_PORT_MODE = PORT_MODE_PRIVATE
DEFAULT_EXTERNAL_TEST_TIMEOUT = "2h0m0s"
DEFAULT_PDB_MAX_UNAVAILABLE = "10%"
"""Not a scheme default: the PDB plans use it when a target declares no podDisruptionBudget."""


def default_revision(revision: Revision) -> Revision:
    """A copy of `revision` with §3.2 defaults and §3.3 webhook mutations applied to every target."""
    result = revision.model_copy(deep=True)
    for target in result.spec.targets:
        _default_target(target)
        _derive_ingresses(target)
        _derive_default_ingress_ports(target)
    return result


def default_cluster(cluster: Cluster) -> Cluster:
    """A copy of `cluster` with `spec.scalingFactorString` defaulted to "1.0"."""
    result = cluster.model_copy(deep=True)
    if not result.spec.scaling_factor_string:
        result.spec.scaling_factor_string = DEFAULT_SCALING_FACTOR
    return result


def _default_target(target: RevisionTarget) -> None:
    scale = target.scale
    if not scale.default:
        scale.default = DEFAULT_SCALE_DEFAULT
    if not scale.max:
        scale.max = DEFAULT_SCALE_MAX
    if not scale.requests_rate_metric:
        scale.requests_rate_metric = DEFAULT_REQUESTS_RATE_METRIC

    if target.release is None:
        target.release = ReleaseInfo()
    release = target.release
    if not release.max:
        release.max = DEFAULT_RELEASE_MAX
    if not release.schedule:
        release.schedule = DEFAULT_SCHEDULE
    if not release.scaling_strategy:
        release.scaling_strategy = DEFAULT_SCALING_STRATEGY
    if not release.ttl:
        release.ttl = DEFAULT_RELEASE_TTL
    if release.geometric_scaling is None:
        release.geometric_scaling = GeometricScaling()
    geometric = release.geometric_scaling
    if not geometric.factor:
        geometric.factor = DEFAULT_GEOMETRIC_FACTOR
    if not geometric.start:
        geometric.start = DEFAULT_GEOMETRIC_START
    if not geometric.delay:
        geometric.delay = DEFAULT_SCALING_DELAY
    if release.linear_scaling is None:
        release.linear_scaling = LinearScaling()
    linear = release.linear_scaling
    if not linear.increment:
        linear.increment = DEFAULT_LINEAR_INCREMENT
    if not linear.delay:
        linear.delay = DEFAULT_SCALING_DELAY

    if target.external_test is None:
        target.external_test = ExternalTest(enabled=False, started=False, completed=False)
    if not target.external_test.timeout:
        target.external_test.timeout = DEFAULT_EXTERNAL_TEST_TIMEOUT

    for port in target.ports or []:
        if not port.ingress_port:
            port.ingress_port = DEFAULT_INGRESS_PORT
        if not port.container_port:
            port.container_port = DEFAULT_CONTAINER_PORT
        if not port.port:
            port.port = DEFAULT_PORT
        if not port.protocol:
            port.protocol = DEFAULT_PROTOCOL
        if not port.mode:
            port.mode = DEFAULT_PORT_MODE

    if target.sidecars:
        target.sidecars = [_default_sidecar(sidecar) for sidecar in target.sidecars]


def _default_sidecar(sidecar: dict[str, Any]) -> dict[str, Any]:
    ports = sidecar.get("ports")
    if not isinstance(ports, list):
        return sidecar
    defaulted = [
        {**port, "protocol": DEFAULT_PROTOCOL}
        if isinstance(port, dict) and not port.get("protocol")
        else port
        for port in ports
    ]
    return {**sidecar, "ports": defaulted}


def _derive_ingresses(target: RevisionTarget) -> None:
    """Webhook patch 1: a port without `ingresses` gets them from its mode (empty mode = private, §17 #18)."""
    for port in target.ports or []:
        if port.ingresses:
            continue
        mode = port.mode or DEFAULT_PORT_MODE
        if mode == PORT_MODE_PRIVATE:
            port.ingresses = [INGRESS_PRIVATE]
        elif mode == PORT_MODE_PUBLIC:
            port.ingresses = [INGRESS_PRIVATE, INGRESS_PUBLIC]


def ingress_buckets(target: RevisionTarget) -> dict[str, list[PortInfo]]:
    """The ports exposed on each ingress: a port's `ingresses` list, else derived from its mode (§3.3)."""
    buckets: dict[str, list[PortInfo]] = {}
    for port in target.ports or []:
        if port.ingresses is not None:
            names = list(port.ingresses)
        elif port.mode == PORT_MODE_PUBLIC:
            names = [INGRESS_PUBLIC, INGRESS_PRIVATE]
        elif port.mode == PORT_MODE_PRIVATE:
            names = [INGRESS_PRIVATE]
        else:
            names = []
        for name in dict.fromkeys(names):
            buckets.setdefault(name, []).append(port)
    return buckets


def _derive_default_ingress_ports(target: RevisionTarget) -> None:
    """Webhook patch 2: choose the port that receives each ingress's default hostnames, never overwriting."""
    candidates: dict[str, str] = {}
    for ingress, ports in ingress_buckets(target).items():
        marked = [port for port in ports if port.default]
        if len(marked) == 1:
            candidates[ingress] = marked[0].name
        elif len(ports) == 1:
            candidates[ingress] = ports[0].name
        elif not marked and any(port.name == "http" for port in ports):
            candidates[ingress] = "http"
    if not candidates:
        return
    existing = dict(target.default_ingress_ports or {})
    for ingress, port_name in candidates.items():
        existing.setdefault(ingress, port_name)
    target.default_ingress_ports = existing
