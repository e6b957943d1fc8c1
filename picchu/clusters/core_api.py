"""Core-group objects (``/api/v1``: Secrets, ConfigMaps, Namespaces, Events) as plain dicts, through an `ApiClient`.

Why not the generated `kubernetes.client.CoreV1Api`: importing it builds hundreds of pydantic-validated
methods, which costs ~22 MiB of resident memory and seconds of CPU in every process that touches one core
object (measured: 21.6 MiB, 14 s on the loaded 2-core machine), more than the rest of the operator's
per-app state at 100 apps. The operator needs five verbs on four kinds; they are one request each here.

Neighbours: `engine.delivery` (credentials Secrets, config copies), `engine.events` (Kubernetes Events),
`engine.cluster` (ClusterSecrets copies) and `engine.release_manager` (namespace deletion) call it;
`transport` is its twin for target clusters with deadlines and breakers.

Invariant: a non-2xx answer raises the client's own `ApiException` (``.status``, ``.reason``, ``.body``), so
callers judge 404/409 exactly as with the generated API.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from kubernetes import client
from kubernetes.client.exceptions import ApiException

MERGE_PATCH = "application/merge-patch+json"
PLURALS = {"Secret": "secrets", "ConfigMap": "configmaps", "Namespace": "namespaces", "Event": "events"}
Timeout = float | tuple[float, float] | None


def path(kind: str, namespace: str | None = None, name: str | None = None) -> str:
    """``/api/v1[/namespaces/NS]/PLURAL[/NAME]``; a Namespace is addressed by its name alone."""
    plural = PLURALS[kind]
    where = f"/namespaces/{quote(namespace, safe='')}" if namespace and kind != "Namespace" else ""
    return f"/api/v1{where}/{plural}" + (f"/{quote(name, safe='')}" if name else "")


def request(api: client.ApiClient, method: str, url: str, *, query: Mapping[str, str | None] | None = None,
            body: Any = None, content_type: str = "application/json", timeout: Timeout = None) -> Any:
    """One request; the decoded JSON answer, or `ApiException` when the answer is not a success."""
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = content_type
    params = [(k, v) for k, v in (query or {}).items() if v is not None]
    serialized = api.param_serialize(method, url, query_params=params or None, header_params=headers, body=body,
                                     auth_settings=["BearerToken"])
    answer = api.call_api(*serialized, _request_timeout=timeout)
    raw = answer.read()
    if not 200 <= answer.status < 300:
        raise ApiException(http_resp=answer)
    return json.loads(raw) if raw else None


def get(api: client.ApiClient, kind: str, namespace: str | None, name: str, timeout: Timeout = None
        ) -> dict[str, Any]:
    return _typed(request(api, "GET", path(kind, namespace, name), timeout=timeout), kind)


def list_objects(api: client.ApiClient, kind: str, namespace: str | None, *, label_selector: str | None = None,
                 field_selector: str | None = None, timeout: Timeout = None) -> list[dict[str, Any]]:
    """Every object of the kind in the namespace (all namespaces when it is None), each with apiVersion/kind."""
    query = {"labelSelector": label_selector or None, "fieldSelector": field_selector or None}
    answer = request(api, "GET", path(kind, namespace), query=query, timeout=timeout)
    return [_typed(item, kind) for item in (answer or {}).get("items") or []]


def create(api: client.ApiClient, kind: str, namespace: str | None, body: Mapping[str, Any],
           timeout: Timeout = None) -> dict[str, Any]:
    return _typed(request(api, "POST", path(kind, namespace), body=dict(body), timeout=timeout), kind)


def patch(api: client.ApiClient, kind: str, namespace: str | None, name: str, body: Mapping[str, Any],
          timeout: Timeout = None) -> dict[str, Any]:
    """A JSON merge patch: sends only the fields given."""
    return _typed(request(api, "PATCH", path(kind, namespace, name), body=dict(body), content_type=MERGE_PATCH,
                          timeout=timeout), kind)


def delete(api: client.ApiClient, kind: str, namespace: str | None, name: str, *, uid: str | None = None,
           timeout: Timeout = None) -> None:
    """Delete; with `uid`, only the object of that uid (a replacement of the same name answers 409)."""
    body = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": uid}} if uid else None
    request(api, "DELETE", path(kind, namespace, name), body=body, timeout=timeout)


def _typed(obj: Any, kind: str) -> dict[str, Any]:
    item = dict(obj or {})
    item.setdefault("apiVersion", "v1")
    item.setdefault("kind", kind)
    return item
