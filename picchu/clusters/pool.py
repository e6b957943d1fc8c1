"""One API client per target cluster, reused across passes and rebuilt only when its credentials change.

Why: Picchu (Go) built a new client on every use (§17 #1, the cache never hit). Here the cache key is the
Cluster's namespace/name and the value remembers the Secret's resourceVersion plus the server/CA/user it was
built from: a rotated Secret or a moved server builds a new client and closes the old one.

Neighbours: `connection` builds the clients; the controller calls `connect` with the Cluster and Secret it
read from the delivery cluster and passes the resulting `ClusterConnection`s to the applier and observer.

Invariants: at most one client per Cluster (the cache never holds more entries than there are Clusters;
`retain` drops the ones that disappeared); every client's connection pool is sized to the operator's
concurrency; thread-safe.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from picchu.clusters.connection import (
    ClusterAccess,
    ClusterConnection,
    RequestObserver,
    build_connection,
    read_access,
)


@dataclass
class _Entry:
    fingerprint: tuple[str, str, str, str]
    connection: ClusterConnection


class ClientPool:
    """Cache of `ClusterConnection` by Cluster namespace/name.

    ``max_concurrency`` is how many threads may use one cluster's client at once (the operator's worker
    count); it sizes each client's urllib3 connection pool.
    """

    def __init__(self, *, max_concurrency: int = 8, on_request: RequestObserver | None = None) -> None:
        self._pool_size = max(1, max_concurrency)
        self._on_request = on_request
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._lock = threading.Lock()
        self._generation = itertools.count(1)

    def connect(self, cluster: Mapping[str, Any], secret: Mapping[str, Any] | None) -> ClusterConnection:
        """The connection for this Cluster, built from its Secret (`data["auth-info"]`) on first use or rotation.

        ``cluster`` and ``secret`` are wire-format dicts as read from the delivery cluster. Raises
        `ClusterConfigError` (naming the field to fix, never quoting a credential).
        """
        return self.connect_access(read_access(cluster, secret))

    def connect_access(self, access: ClusterAccess) -> ClusterConnection:
        key = (access.namespace, access.name)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.fingerprint == access.fingerprint:
                if entry.connection.live != access.live:
                    entry.connection = replace(entry.connection, live=access.live)
                return entry.connection
            identity = f"{access.namespace}/{access.name}#{next(self._generation)}"
            connection = build_connection(access, identity=identity, pool_size=self._pool_size,
                                          on_request=self._on_request)
            self._entries[key] = _Entry(access.fingerprint, connection)
        if entry is not None:
            entry.connection.api.close()
        return connection

    def retain(self, clusters: Iterable[tuple[str, str]]) -> None:
        """Close and forget the clients of every Cluster not in ``clusters`` (namespace, name pairs)."""
        keep = set(clusters)
        with self._lock:
            gone = [self._entries.pop(key) for key in list(self._entries) if key not in keep]
        for entry in gone:
            entry.connection.api.close()

    def discard(self, namespace: str, name: str) -> None:
        """Close and forget one Cluster's client (the Cluster was deleted or disabled)."""
        with self._lock:
            entry = self._entries.pop((namespace, name), None)
        if entry is not None:
            entry.connection.api.close()

    def clients(self) -> list[Any]:
        """Every cached `kubernetes.client.ApiClient` (for `idle_connections.close_idle`)."""
        with self._lock:
            return [entry.connection.api for entry in self._entries.values()]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def close(self) -> None:
        self.retain(())
