"""I/O with the target clusters: one client per cluster, one generic server-side-apply applier, one observer.

Public surface (see each module's docstring):

- `ClientPool.connect(cluster, secret) -> ClusterConnection` (pool): cached clients, rebuilt on rotation.
- `ClusterPlan`, `DesiredObject`, `PruneScope`, `ObjectKey` (desired): what to write, as data.
- `Applier.apply([(connection, plan), ...]) -> {cluster: ClusterApplyResult}` (applier).
- `Observer.observe(connections, namespace) -> Observation` (observer).
"""

from picchu.clusters.applier import Applier, ClusterApplyResult, Failure
from picchu.clusters.connection import ClusterConfigError, ClusterConnection
from picchu.clusters.desired import ClusterPlan, DesiredObject, ObjectKey, PruneScope, WriteMode
from picchu.clusters.observer import Observation, Observer, ReplicaSetState
from picchu.clusters.pool import ClientPool

__all__ = [
    "Applier", "ClientPool", "ClusterApplyResult", "ClusterConfigError", "ClusterConnection", "ClusterPlan",
    "DesiredObject", "Failure", "ObjectKey", "Observation", "Observer", "PruneScope", "ReplicaSetState",
    "WriteMode",
]
