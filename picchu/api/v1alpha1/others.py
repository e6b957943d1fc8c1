"""The three small kinds: ClusterSecrets (§3.6), Mirror (§3.7) and FaultInjector (§3.8).

Why: they are read by the Cluster-secrets reconciler, the Revision reconciler (mirroring) and the
ReleaseManager reconciler (fault injection on routes). FaultInjector's `fault` is Istio's native
HTTPFaultInjection JSON, passed through verbatim (spec §17 #17: Picchu's schema pruned the one-of fields).

Neighbours: `common` (wire types), `validation` (portSelector required), `crdgen`.
"""

from __future__ import annotations

from typing import Literal

from picchu.api.v1alpha1.common import (
    OpenModel,
    Passthrough,
    Resource,
    StrictStr,
    StringMap,
    UInt32,
    WireModel,
)


# ---- ClusterSecrets -------------------------------------------------------------------------------------
class ClusterSecretsSource(WireModel):
    namespace: StrictStr
    """Namespace in the delivery cluster to copy Secrets from."""
    label_selector: StrictStr | None = None
    """Label selector of the Secrets to copy."""
    field_selector: StrictStr | None = None
    """Field selector of the Secrets to copy."""


class ClusterSecretsTarget(WireModel):
    namespace: StrictStr
    """Namespace written in each selected target cluster."""
    label_selector: StrictStr | None = None
    """Label selector of the target (Picchu field)."""
    field_selector: StrictStr | None = None
    """Field selector of the target (Picchu field)."""
    labels: StringMap | None = None
    """Labels set on the copies."""
    annotations: StringMap | None = None
    """Annotations set on the copies."""


class ClusterSecretsSpec(WireModel):
    """Which Secrets of the delivery cluster to copy, and how the copies are labelled."""

    source: ClusterSecretsSource
    """Secrets to copy from the delivery cluster."""
    target: ClusterSecretsTarget
    """Where and how the copies are written in the delivery cluster."""


class ClusterSecretsStatus(OpenModel):
    """Written by the ClusterSecrets reconciler."""

    secrets: list[StrictStr] | None = None
    """Names of the Secrets copied."""


class ClusterSecrets(Resource):
    """Copies Secrets from a delivery-cluster namespace into target clusters."""

    KIND = "ClusterSecrets"
    PLURAL = "clustersecrets"

    kind: Literal["ClusterSecrets"] | None = None
    spec: ClusterSecretsSpec
    status: ClusterSecretsStatus | None = None


# ---- Mirror ---------------------------------------------------------------------------------------------
class AdditionalConfigSelector(WireModel):
    namespace: StrictStr | None = None
    """Namespace to select from."""
    label_selector: Passthrough | None = None
    """Label selector of the objects."""
    app_label_name: StrictStr
    """Label holding the app name."""
    tag_label_name: StrictStr
    """Label holding the tag."""


class MirrorSpec(WireModel):
    """Which cluster receives copies of the Revisions (and extra configuration) of this namespace."""

    cluster_name: StrictStr
    """Name of the Cluster (in the Revision's namespace) to mirror into."""
    additional_config_selectors: list[AdditionalConfigSelector] | None = None
    """Extra objects (e.g. ConfigMaps) to mirror along with each Revision."""


class MirrorStatus(OpenModel):
    """Unused (kept for Picchu compatibility)."""


class Mirror(Resource):
    """Mirrors Revisions and their config into another cluster."""

    KIND = "Mirror"
    PLURAL = "mirrors"

    kind: Literal["Mirror"] | None = None
    spec: MirrorSpec
    status: MirrorStatus | None = None


# ---- FaultInjector --------------------------------------------------------------------------------------
class PortSelector(WireModel):
    number: UInt32 | None = None
    """Port number."""


class HTTPPortFault(WireModel):
    """An Istio HTTPFaultInjection applied to routes of the selected service port."""

    port_selector: PortSelector | None = None
    """Port the fault applies to."""
    fault: Passthrough | None = None
    """Istio HTTPFaultInjection, passed through to the matching routes."""


class FaultInjectorSpec(WireModel):
    """Faults (delays, aborts) injected into an app's HTTP routes."""

    http_port_faults: list[HTTPPortFault]
    """Istio HTTP faults injected per port."""


class FaultInjectorStatus(OpenModel):
    """Unused (kept for Picchu compatibility)."""


class FaultInjector(Resource):
    """Injects Istio HTTP faults into the routes of one app/target."""

    KIND = "FaultInjector"
    PLURAL = "faultinjectors"

    kind: Literal["FaultInjector"] | None = None
    spec: FaultInjectorSpec
    status: FaultInjectorStatus | None = None
