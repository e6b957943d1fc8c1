"""The clusters of one fleet as the ReleaseManager pass sees them: loaded, connected, or why not.

A Cluster whose manifest is invalid or whose credentials are broken is reported (condition on the Cluster
by its own pass, reason here) and left out; it never stops the rest of the fleet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from picchu import keys
from picchu.api.v1alpha1 import Cluster, InvalidSpec, load_cluster
from picchu.clusters.connection import ClusterConfigError, ClusterConnection
from picchu.engine.context import EngineContext


@dataclass(frozen=True)
class FleetMember:
    name: str
    obj: dict[str, Any]
    model: Cluster | None
    connection: ClusterConnection | None
    problem: str = ""

    @property
    def live(self) -> bool:
        return self.model is not None and self.model.live


def load_fleet(ctx: EngineContext, namespace: str, fleet: str) -> list[FleetMember]:
    """Enabled Clusters of `fleet` in `namespace`, sorted by name, each connected when possible."""
    members = []
    for obj in sorted(ctx.delivery.list("Cluster", namespace, {keys.LABEL_FLEET: fleet}),
                      key=lambda o: o["metadata"]["name"]):
        name = obj["metadata"]["name"]
        try:
            model = ctx.parsed.load(obj, load_cluster)
        except InvalidSpec as exc:
            members.append(FleetMember(name, obj, None, None, f"invalid Cluster: {exc}"))
            continue
        if not model.enabled:
            continue
        try:
            secret = ctx.delivery.secret(namespace, name)
            members.append(FleetMember(name, obj, model, ctx.pool.connect(obj, secret)))
        except ClusterConfigError as exc:
            members.append(FleetMember(name, obj, model, None, str(exc)))
    return members
