"""Reads and writes of picchu's own objects in the delivery cluster, as plain dicts.

The engine talks to the delivery cluster only through this class, so every call site is one line and the
number of requests per pass is easy to see: gets and lists are explicit, and writes are JSON merge patches
(status through the status subresource) that send only what changed. With a `store` (the operator's), gets
and lists of the watched kinds and credentials Secrets are answered from memory once the watches listed
them, and every write's answer is put there, so an idle pass sends no request at all.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from picchu import keys
from picchu.clusters import core_api
from picchu.clusters.reflector import NotSynced
from picchu.engine.store import DeliveryStore

PLURALS = {
    "Revision": "revisions",
    "ReleaseManager": "releasemanagers",
    "Cluster": "clusters",
    "ClusterSecrets": "clustersecrets",
    "Mirror": "mirrors",
    "FaultInjector": "faultinjectors",
}
MERGE_PATCH = "application/merge-patch+json"


def selector(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" if v else k for k, v in sorted(labels.items()))


@dataclass
class DeliveryCluster:
    api_client: client.ApiClient
    timeout_seconds: float = 10.0
    store: DeliveryStore | None = None

    def _cached(self, kind: str) -> DeliveryStore | None:
        return self.store if self.store is not None and self.store.ready(kind) else None

    def _remember(self, obj: dict[str, Any], kind: str) -> dict[str, Any]:
        if self.store is not None:
            obj.setdefault("apiVersion", keys.API_VERSION)
            obj.setdefault("kind", kind)
            self.store.put(obj)
        return obj

    @property
    def _custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api_client)

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        store = self._cached(kind)
        if store is not None:
            return store.get(kind, namespace, name)
        return self.read(kind, namespace, name)

    def read(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """GET from the apiserver, never from the store."""
        try:
            obj = self._custom.get_namespaced_custom_object(
                keys.GROUP, keys.VERSION, namespace, PLURALS[kind], name, _request_timeout=self.timeout_seconds
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return dict(obj)

    def list(self, kind: str, namespace: str | None, labels: dict[str, str] | None = None) -> list[dict[str, Any]]:
        store = self._cached(kind)
        if store is not None:
            return store.list(kind, namespace, labels)
        sel = selector(labels or {}) or None
        if namespace:
            result = self._custom.list_namespaced_custom_object(
                keys.GROUP, keys.VERSION, namespace, PLURALS[kind], label_selector=sel,
                _request_timeout=self.timeout_seconds,
            )
        else:
            result = self._custom.list_cluster_custom_object(
                keys.GROUP, keys.VERSION, PLURALS[kind], label_selector=sel, _request_timeout=self.timeout_seconds
            )
        items: list[dict[str, Any]] = list(result.get("items", []))
        for item in items:  # list items carry no apiVersion/kind; restore them for round-tripping
            item.setdefault("apiVersion", keys.API_VERSION)
            item.setdefault("kind", kind)
        return items

    def create(self, kind: str, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._remember(dict(self._custom.create_namespaced_custom_object(
            keys.GROUP, keys.VERSION, namespace, PLURALS[kind], body, _request_timeout=self.timeout_seconds
        )), kind)

    def create_or_get(self, kind: str, namespace: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Create the object, or read it when another pass created it first (409): (object, created by us)."""
        try:
            return self.create(kind, namespace, body), True
        except ApiException as exc:
            if exc.status != 409:
                raise
        found = self.read(kind, namespace, body["metadata"]["name"])  # our watch may not have seen it yet
        if found is None:  # created and deleted in between: let the pass retry
            raise RuntimeError(f"{kind} {namespace}/{body['metadata']['name']} vanished while being created")
        return found, False

    def patch(self, kind: str, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._remember(dict(self._custom.patch_namespaced_custom_object(
            keys.GROUP, keys.VERSION, namespace, PLURALS[kind], name, body,
            _content_type=MERGE_PATCH, _request_timeout=self.timeout_seconds,
        )), kind)

    def patch_status(self, kind: str, namespace: str, name: str, status: dict[str, Any],
                     resource_version: str | None = None) -> dict[str, Any] | None:
        """Merge `status` in; with `resource_version`, only into that version of the object (409 otherwise):
        for a write computed from what was read, which must not undo a newer write."""
        body: dict[str, Any] = {"status": status}
        if resource_version:
            body["metadata"] = {"resourceVersion": resource_version}
        try:
            return self._remember(dict(self._custom.patch_namespaced_custom_object_status(
                keys.GROUP, keys.VERSION, namespace, PLURALS[kind], name, body,
                _content_type=MERGE_PATCH, _request_timeout=self.timeout_seconds,
            )), kind)
        except ApiException as exc:
            if exc.status == 404:
                if self.store is not None:  # gone while the watch had not said so yet
                    self.store.remove(kind, namespace, name)
                return None
            raise

    def delete(self, kind: str, namespace: str, name: str) -> bool:
        try:
            self._custom.delete_namespaced_custom_object(
                keys.GROUP, keys.VERSION, namespace, PLURALS[kind], name, _request_timeout=self.timeout_seconds
            )
        except ApiException as exc:
            if exc.status == 404:
                if self.store is not None:
                    self.store.remove(kind, namespace, name)
                return False
            raise
        return True  # the store forgets it when the watch says it is gone (finalizers may keep it a while)

    def list_selected_clusters(self, namespace: str, label_selector: str | None,
                               field_selector: str | None) -> builtins.list[dict[str, Any]]:
        """Clusters chosen by selector strings (ClusterSecrets' target; parsed by the apiserver, §17 #12)."""
        result = self._custom.list_namespaced_custom_object(
            keys.GROUP, keys.VERSION, namespace, PLURALS["Cluster"], label_selector=label_selector or None,
            field_selector=field_selector or None, _request_timeout=self.timeout_seconds,
        )
        return list(result.get("items", []))

    def secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        if self.store is not None:
            try:
                return self.store.secret(namespace, name)
            except NotSynced:
                pass  # the namespace's Secret watch is down: ask (and fail like before if it is unreachable)
        try:
            return core_api.get(self.api_client, "Secret", namespace, name, timeout=self.timeout_seconds)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def list_core(self, kind: str, namespace: str, label_selector: str | None) -> builtins.list[dict[str, Any]]:
        """Secrets or ConfigMaps of the delivery namespace (config copies, cluster secrets)."""
        return core_api.list_objects(self.api_client, kind, namespace, label_selector=label_selector,
                                     timeout=self.timeout_seconds)
