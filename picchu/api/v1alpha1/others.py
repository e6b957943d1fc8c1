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
    field_selector: StrictStr | None = None


class ClusterSecretsTarget(WireModel):
    namespace: StrictStr
    """Namespace written in each selected target cluster."""
    label_selector: StrictStr | None = None
    field_selector: StrictStr | None = None
    labels: StringMap | None = None
    annotations: StringMap | None = None


class ClusterSecretsSpec(WireModel):
    source: ClusterSecretsSource
    target: ClusterSecretsTarget


class ClusterSecretsStatus(OpenModel):
    secrets: list[StrictStr] | None = None


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
    label_selector: Passthrough | None = None
    app_label_name: StrictStr
    tag_label_name: StrictStr


class MirrorSpec(WireModel):
    cluster_name: StrictStr
    """Name of the Cluster (in the Revision's namespace) to mirror into."""
    additional_config_selectors: list[AdditionalConfigSelector] | None = None


class MirrorStatus(OpenModel):
    pass


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


class HTTPPortFault(WireModel):
    """An Istio HTTPFaultInjection applied to routes of the selected service port."""

    port_selector: PortSelector | None = None
    fault: Passthrough | None = None
    """Istio HTTPFaultInjection, passed through to the matching routes."""


class FaultInjectorSpec(WireModel):
    http_port_faults: list[HTTPPortFault]


class FaultInjectorStatus(OpenModel):
    pass


class FaultInjector(Resource):
    """Injects Istio HTTP faults into the routes of one app/target."""

    KIND = "FaultInjector"
    PLURAL = "faultinjectors"

    kind: Literal["FaultInjector"] | None = None
    spec: FaultInjectorSpec
    status: FaultInjectorStatus | None = None
