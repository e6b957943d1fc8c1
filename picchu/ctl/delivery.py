"""The CLI's connection to the delivery cluster: the user's kubeconfig, a namespace, typed reads.

Why: every command reads the same few things (a Revision by name, an app's Revisions, ReleaseManagers,
Clusters, Events) and must say clearly when it cannot; this keeps that in one place and reuses the
operator's own `DeliveryCluster` reader and cluster `ClientPool` (so credentials are read exactly as the
operator reads them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubernetes import client, config

from picchu import keys
from picchu.api.v1alpha1 import InvalidSpec, Revision, load_revision
from picchu.clusters import core_api
from picchu.clusters.connection import ClusterConfigError, ClusterConnection
from picchu.clusters.pool import ClientPool
from picchu.engine.delivery import DeliveryCluster


class NotFound(LookupError):
    """What the user named does not exist; the message says what was looked for."""


def kubeconfig_path(explicit: Path | None) -> str | None:
    if explicit is not None:
        return str(explicit)
    env = os.environ.get("KUBECONFIG")
    return env.split(os.pathsep)[0] if env else None


@dataclass
class Delivery:
    api: client.ApiClient
    namespace: str
    reader: DeliveryCluster = field(init=False)
    _pool: ClientPool | None = None

    def __post_init__(self) -> None:
        self.reader = DeliveryCluster(self.api)

    @classmethod
    def connect(cls, kubeconfig: Path | None, namespace: str | None, context: str | None = None) -> Delivery:
        path = kubeconfig_path(kubeconfig)
        api = config.new_client_from_config(config_file=path, context=context)
        if namespace is None:
            try:
                _, active = config.list_kube_config_contexts(config_file=path)
                namespace = (active.get("context") or {}).get("namespace") if active else None
            except config.ConfigException:
                namespace = None
        return cls(api, namespace or "picchu")

    # -- reads -------------------------------------------------------------------------------------------
    def revision_object(self, name: str) -> dict[str, Any]:
        obj = self.reader.get("Revision", self.namespace, name)
        if obj is None:
            raise NotFound(f"Revision {name!r} not found in namespace {self.namespace!r} (use -n NAMESPACE)")
        return obj

    def revision(self, name: str) -> Revision:
        try:
            return load_revision(self.revision_object(name))
        except InvalidSpec as exc:
            raise NotFound(f"Revision {name!r} is invalid: {exc}") from None

    def revisions(self, app: str) -> list[dict[str, Any]]:
        return self.reader.list("Revision", self.namespace, {keys.LABEL_APP: app})

    def release_managers(self, app: str) -> list[dict[str, Any]]:
        found = self.reader.list("ReleaseManager", self.namespace, {keys.LABEL_APP: app})
        return sorted(found, key=lambda rm: rm["metadata"]["name"])

    def release_manager(self, app: str, target: str) -> dict[str, Any] | None:
        return self.reader.get("ReleaseManager", self.namespace, f"{app}-{target}")

    def clusters(self, fleet: str) -> list[dict[str, Any]]:
        found = self.reader.list("Cluster", self.namespace, {keys.LABEL_FLEET: fleet})
        return sorted(found, key=lambda c: c["metadata"]["name"])

    def events(self, names: set[str]) -> list[dict[str, Any]]:
        """Events about the named objects in the namespace (as the apiserver's JSON), oldest first."""
        items = core_api.list_objects(self.api, "Event", self.namespace, timeout=10)
        found = [e for e in items if (e.get("involvedObject") or {}).get("name") in names]
        return sorted(found, key=event_time)

    def connect_cluster(self, cluster: dict[str, Any]) -> ClusterConnection:
        """A read connection to a target cluster, with the credentials the operator uses."""
        if self._pool is None:
            self._pool = ClientPool()
        name = cluster["metadata"]["name"]
        try:
            return self._pool.connect(cluster, self.reader.secret(self.namespace, name))
        except ClusterConfigError:
            raise
        except Exception as exc:
            raise ClusterConfigError(f"cluster {name}: {exc}") from None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        self.api.close()


def event_time(event: dict[str, Any]) -> datetime:
    """When the Event last happened (lastTimestamp, eventTime, firstTimestamp, then its creation)."""
    stamp = (event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp")
             or (event.get("metadata") or {}).get("creationTimestamp"))
    try:
        return datetime.fromisoformat(stamp) if stamp else NEVER
    except ValueError:
        return NEVER


NEVER = datetime.min.replace(tzinfo=UTC)  # an Event without any time sorts first
