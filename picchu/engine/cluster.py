"""Passes of the Cluster and ClusterSecrets controllers (spec §5, with §17 #12 fixed).

Cluster: keep `status.kubernetes {version, ready}` current (a discovery call through the client pool) and a
`Ready` condition that says why a cluster is not usable (disabled, missing or broken credentials,
unreachable). ClusterSecrets: copy the selected Secrets of a delivery namespace into a namespace of every
enabled Cluster it selects (selectors parsed properly), record what was copied, and on deletion remove the
copies and the finalizer instead of hanging forever.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from picchu import keys
from picchu.api.v1alpha1 import InvalidSpec, load_cluster
from picchu.clusters.connection import ClusterConfigError, ClusterConnection
from picchu.engine import conditions
from picchu.engine.context import EngineContext
from picchu.engine.events import WARNING, ObjectRef
from picchu.logs import fields

log = logging.getLogger(__name__)
_ADDRESS = re.compile(r" (object )?at 0x[0-9a-fA-F]+")
APPLY_PATCH = "application/apply-patch+yaml"


def _ensure_finalizer(ctx: EngineContext, kind: str, obj: dict[str, Any], finalizer: str) -> bool:
    meta = obj["metadata"]
    current = list(meta.get("finalizers") or [])
    if finalizer in current:
        return False
    ctx.delivery.patch(kind, meta["namespace"], meta["name"], {"metadata": {"finalizers": [*current, finalizer]}})
    return True


def _remove_finalizer(ctx: EngineContext, kind: str, obj: dict[str, Any], finalizer: str) -> None:
    meta = obj["metadata"]
    current = list(meta.get("finalizers") or [])
    if finalizer in current:
        current.remove(finalizer)
        ctx.delivery.patch(kind, meta["namespace"], meta["name"], {"metadata": {"finalizers": current}})


def connect(ctx: EngineContext, cluster_obj: dict[str, Any]) -> ClusterConnection:
    """The pooled connection of a Cluster (reads its credentials Secret); raises ClusterConfigError."""
    meta = cluster_obj["metadata"]
    secret = ctx.delivery.secret(meta["namespace"], meta["name"])
    return ctx.pool.connect(cluster_obj, secret)


def reconcile_cluster(ctx: EngineContext, namespace: str, name: str) -> float | None:
    obj = ctx.delivery.get("Cluster", namespace, name)
    if obj is None or obj["metadata"].get("deletionTimestamp"):
        ctx.pool.discard(namespace, name)  # the client cache never outgrows the Clusters that exist
        if obj is not None:
            _remove_finalizer(ctx, "Cluster", obj, keys.FINALIZER_CLUSTER)
        return None
    if _ensure_finalizer(ctx, "Cluster", obj, keys.FINALIZER_CLUSTER):
        return 0.0
    kube, condition = _probe(ctx, obj)
    old = obj.get("status") or {}
    status = {"kubernetes": kube, "conditions": conditions.merge(old.get("conditions"), [condition], ctx.clock())}
    if {k: old.get(k) for k in status} != status:
        ctx.delivery.patch_status("Cluster", namespace, name, status)
        if not condition.status:
            ctx.events.emit(ObjectRef.of(obj), WARNING, condition.reason, condition.message)
    return ctx.settings.sync_period_seconds


def _probe(ctx: EngineContext, obj: dict[str, Any]) -> tuple[dict[str, Any], conditions.Condition]:
    not_ready = {"version": "", "ready": False}
    try:
        cluster = load_cluster(obj)
    except InvalidSpec as exc:
        return not_ready, conditions.Condition("Ready", False, "InvalidSpec", f"fix the Cluster manifest: {exc}")
    if not cluster.enabled:
        return not_ready, conditions.Condition("Ready", False, "Disabled", "spec.enabled is false")
    try:
        connection = connect(ctx, obj)
    except ClusterConfigError as exc:
        return not_ready, conditions.Condition("Ready", False, "InvalidCredentials", str(exc))
    try:
        info = client.VersionApi(connection.api).get_code(_request_timeout=ctx.settings.cluster_timeout_seconds)
    except ApiException as exc:  # its text carries response headers (dates, audit ids): never stable
        meta = obj["metadata"]
        if exc.status in (401, 403):
            return not_ready, conditions.Condition(
                "Ready", False, "CredentialsRejected",
                f"the API server answered HTTP {exc.status} {exc.reason}; fix data.{keys.SECRET_AUTH_INFO_KEY} of "
                f"Secret {meta['namespace']}/{meta['name']}")
        return not_ready, conditions.Condition(
            "Ready", False, "DiscoveryFailed", f"the API server answered HTTP {exc.status} {exc.reason}")
    except Exception as exc:
        reason = _stable(connection.redact(f"{type(exc).__name__}: {exc}"))[:300]
        return not_ready, conditions.Condition("Ready", False, "Unreachable", f"discovery failed: {reason}")
    major, minor = (info.major or "").strip(), (info.minor or "").strip().rstrip("+")
    version = f"{major}.{minor}" if major and minor else ""
    return {"version": version, "ready": True}, conditions.Condition("Ready", True, "Reachable", f"Kubernetes {version}")


def _stable(text: str) -> str:
    """Error text without what changes on every attempt (object addresses), so an unchanged problem gives an
    unchanged condition: no status write and no new event per pass."""
    return _ADDRESS.sub("", text)


def reconcile_cluster_secrets(ctx: EngineContext, namespace: str, name: str) -> float | None:
    obj = ctx.delivery.get("ClusterSecrets", namespace, name)
    if obj is None:
        return None
    spec = obj.get("spec") or {}
    source, target = spec.get("source") or {}, spec.get("target") or {}
    deleting = bool(obj["metadata"].get("deletionTimestamp"))
    if not deleting and _ensure_finalizer(ctx, "ClusterSecrets", obj, keys.FINALIZER_CLUSTER_SECRETS):
        return 0.0
    secrets = ctx.delivery.core.list_namespaced_secret(
        source.get("namespace", ""), label_selector=source.get("labelSelector") or None,
        field_selector=source.get("fieldSelector") or None, _request_timeout=ctx.settings.cluster_timeout_seconds,
    ).items
    clusters = ctx.delivery.list_selected_clusters(namespace, target.get("labelSelector"), target.get("fieldSelector"))
    errors: list[str] = []
    copied = sorted(s.metadata.name for s in secrets)
    for cluster_obj in clusters:
        if not (cluster_obj.get("spec") or {}).get("enabled"):
            continue
        cname = cluster_obj["metadata"]["name"]
        try:
            connection = connect(ctx, cluster_obj)
            core = client.CoreV1Api(connection.api)
            if deleting:
                for secret in secrets:
                    _delete_secret(core, target["namespace"], secret.metadata.name, ctx.settings.cluster_timeout_seconds)
                continue
            core.patch_namespace(
                target["namespace"], {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": target["namespace"]}},
                field_manager=keys.FIELD_MANAGER, _content_type=APPLY_PATCH,
                _request_timeout=ctx.settings.cluster_timeout_seconds)
            for secret in secrets:
                body = {
                    "apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": secret.metadata.name, "namespace": target["namespace"],
                                 "labels": target.get("labels") or {}, "annotations": target.get("annotations") or {}},
                    "type": secret.type, "data": secret.data or {},
                }
                core.patch_namespaced_secret(
                    secret.metadata.name, target["namespace"], body, field_manager=keys.FIELD_MANAGER, force=True,
                    _content_type=APPLY_PATCH, _request_timeout=ctx.settings.cluster_timeout_seconds)
        except Exception as exc:
            reason = str(exc)[:300] if isinstance(exc, ClusterConfigError) else type(exc).__name__
            errors.append(f"{cname}: {reason}")
            log.warning("copying cluster secrets failed", extra=fields(cluster=cname, object=name, reason=reason))
    if deleting:
        if not errors:
            _remove_finalizer(ctx, "ClusterSecrets", obj, keys.FINALIZER_CLUSTER_SECRETS)
            return None
        return ctx.settings.sync_period_seconds
    if (obj.get("status") or {}).get("secrets") != copied:
        ctx.delivery.patch_status("ClusterSecrets", namespace, name, {"secrets": copied})
    if errors:
        ctx.events.emit(ObjectRef.of(obj), WARNING, "CopyFailed", "; ".join(errors))
        raise RuntimeError("cluster secrets not copied to: " + "; ".join(errors))
    return ctx.settings.sync_period_seconds * 4


def _delete_secret(core: client.CoreV1Api, namespace: str, name: str, timeout: float) -> None:
    try:
        core.delete_namespaced_secret(name, namespace, _request_timeout=timeout)
    except client.exceptions.ApiException as exc:
        if exc.status != 404:
            raise
