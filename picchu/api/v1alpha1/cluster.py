"""The Cluster kind: a target cluster Picchu deploys to, its fleet, ingress gateways and scaling factor (§3.5).

Why: the engine fans out over the enabled Clusters of a fleet; plans need their gateways, default domains and
replica multiplier. Fleet membership is only the `picchu.medium.engineering/fleet` label.

Neighbours: `common` (wire types), `defaults` (scalingFactorString "1.0"), `validation` (factor > 0),
`crdgen`. Credentials live in a Secret read by `picchu.clusters`, never here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from picchu.api.v1alpha1.common import (
    FloatString,
    OpenModel,
    Resource,
    StatusCondition,
    StrictBool,
    StrictStr,
    WireModel,
)
from picchu.keys import LABEL_FLEET

DEFAULT_SCALING_FACTOR = "1.0"


class ClusterConfig(WireModel):
    server: StrictStr
    """URL of the cluster's API server."""
    certificate_authority_data: StrictStr = Field(alias="certificate-authority-data")
    """Base64 PEM of the CA that signed the API server's certificate."""


class IngressInfo(WireModel):
    """An Istio ingress gateway and the domains that generate default hostnames."""

    dns_name: StrictStr
    """DNS name of the gateway."""
    gateway: StrictStr | None = None
    """Istio Gateway (namespace/name) the routes bind to."""
    default_domains: list[StrictStr]
    """Domains under which each app gets a host name."""


class ClusterIngresses(WireModel):
    public: IngressInfo
    """Gateway for public ports."""
    private: IngressInfo
    """Gateway for private ports."""


class ClusterSpec(WireModel):
    """A target cluster: API server, ingress gateways and replica scaling factor."""

    enabled: StrictBool
    """Disabled clusters are ignored everywhere."""
    hot_standby: StrictBool | None = None
    """Receives all objects but takes no traffic share and does not count as live."""
    config: ClusterConfig | None = None
    """API server URL and CA; credentials are in the Secret of the same name (key auth-info)."""
    scaling_factor_string: FloatString | None = None
    """Multiplier for replicas and autoscaler bounds on this cluster (default "1.0")."""
    ingresses: ClusterIngresses
    """Ingress gateways of the cluster, per port mode."""
    enable_dev_routes: StrictBool | None = None
    """Enable the dev route."""
    dev_route_tag_template: StrictStr | None = None
    """Template producing the dev-route header name."""
    disable_event_driven: StrictBool | None = None
    """Event-driven revisions run with zero replicas here."""


class ClusterKubernetesStatus(OpenModel):
    """What the cluster's API server answered to the last discovery call."""

    version: StrictStr = Field(default="")
    """Kubernetes version (gitVersion) of the cluster's API server."""
    ready: StrictBool = Field(default=False)
    """Whether the API server answered with these credentials."""


class ClusterStatus(OpenModel):
    """Written by the Cluster reconciler."""

    kubernetes: ClusterKubernetesStatus | None = None
    """Reachability and version of the cluster."""
    conditions: list[StatusCondition] | None = None
    """Ready: the API server answered with the Secret's credentials (the message names the fix otherwise)."""


class Cluster(Resource):
    """A target cluster Picchu deploys to; fleet membership is the picchu.medium.engineering/fleet label."""

    KIND = "Cluster"
    PLURAL = "clusters"

    kind: Literal["Cluster"] | None = None
    spec: ClusterSpec
    status: ClusterStatus | None = None

    @property
    def fleet(self) -> str:
        """The fleet this cluster belongs to (its `picchu.medium.engineering/fleet` label), or ""."""
        return self.labels.get(LABEL_FLEET, "")

    @property
    def scaling_factor(self) -> float:
        """`spec.scalingFactorString` as a float ("1.0" when empty); ValueError if it is not a number."""
        return float(self.spec.scaling_factor_string or DEFAULT_SCALING_FACTOR)

    @property
    def enabled(self) -> bool:
        return self.spec.enabled

    @property
    def live(self) -> bool:
        """Enabled and not a hot standby: counts for replica division, observation and readiness."""
        return self.spec.enabled and not self.spec.hot_standby
