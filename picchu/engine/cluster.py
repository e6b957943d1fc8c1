"""Passes of the Cluster and ClusterSecrets controllers (spec §5, with §17 #12 fixed).

Cluster: keep `status.kubernetes {version, ready}` current (a discovery call through the client pool) and a
`Ready` condition that says why a cluster is not usable (disabled, missing or broken credentials,
unreachable). ClusterSecrets: copy the selected Secrets of a delivery namespace into a namespace of every
enabled Cluster it selects (selector strings handed to the apiserver, a rejected one reported by field:
§17 #12), record what was copied in `status.secrets`, remove the copies whose source Secret is gone or no
longer selected, and on deletion remove the copies and the finalizer instead of hanging forever. Copies are written by the shared applier, so an unchanged pass writes nothing.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kubernetes.client.exceptions import ApiException

from picchu import keys
from picchu.api.v1alpha1 import InvalidSpec, load_cluster, load_cluster_secrets
from picchu.clusters import core_api
from picchu.clusters.connection import ClusterConfigError, ClusterConnection
from picchu.clusters.desired import ClusterPlan, DesiredObject
from picchu.clusters.transport import Deadline, RequestFailed, send
from picchu.engine import conditions
from picchu.engine.context import EngineContext
from picchu.engine.events import WARNING, ObjectRef
from picchu.logs import fields
from picchu.outcome import Park

log = logging.getLogger(__name__)
_ADDRESS = re.compile(r" (object )?at 0x[0-9a-fA-F]+")


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
    connection: ClusterConnection = ctx.pool.connect(cluster_obj, secret)
    return connection


def reconcile_cluster(ctx: EngineContext, namespace: str, name: str) -> float | Park | None:
    obj = ctx.delivery.get("Cluster", namespace, name)
    if obj is None or obj["metadata"].get("deletionTimestamp"):
        ctx.pool.discard(namespace, name)  # the client cache never outgrows the Clusters that exist
        if hasattr(ctx.observer, "forget"):  # nor do the target watches
            ctx.observer.forget(name)
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
    if not condition.status:  # reported; probe again with growing back-off, or at once when the Cluster changes
        return Park(f"{condition.reason}: {condition.message}", ctx.settings.sync_period_seconds)
    return ctx.settings.sync_period_seconds


def _probe(ctx: EngineContext, obj: dict[str, Any]) -> tuple[dict[str, Any], conditions.Condition]:
    not_ready = {"version": "", "ready": False}
    try:
        cluster = ctx.parsed.load(obj, load_cluster)
    except InvalidSpec as exc:
        return not_ready, conditions.Condition("Ready", False, "InvalidSpec", f"fix the Cluster manifest: {exc}")
    if not cluster.enabled:
        return not_ready, conditions.Condition("Ready", False, "Disabled", "spec.enabled is false")
    try:
        connection = connect(ctx, obj)
    except ClusterConfigError as exc:
        return not_ready, conditions.Condition("Ready", False, "InvalidCredentials", str(exc))
    try:  # through `send`: a cluster that did not answer fails fast (its breaker) with the same reason
        response = send(connection, "GET", "/version", Deadline(ctx.settings.cluster_timeout_seconds))
    except RequestFailed as exc:
        return not_ready, conditions.Condition("Ready", False, "Unreachable",
                                               f"discovery failed: {_stable(str(exc))[:300]}")
    meta = obj["metadata"]
    if response.status in (401, 403):
        return not_ready, conditions.Condition(
            "Ready", False, "CredentialsRejected",
            f"the API server answered HTTP {response.status}; fix data.{keys.SECRET_AUTH_INFO_KEY} of "
            f"Secret {meta['namespace']}/{meta['name']}")
    if not response.ok or not isinstance(response.body, dict):
        return not_ready, conditions.Condition(
            "Ready", False, "DiscoveryFailed", f"the API server answered HTTP {response.status} to GET /version")
    info = response.body
    major, minor = str(info.get("major") or "").strip(), str(info.get("minor") or "").strip().rstrip("+")
    version = f"{major}.{minor}" if major and minor else ""
    return {"version": version, "ready": True}, conditions.Condition("Ready", True, "Reachable", f"Kubernetes {version}")


def _stable(text: str) -> str:
    """Error text without what changes on every attempt (object addresses), so an unchanged problem gives an
    unchanged condition: no status write and no new event per pass."""
    return _ADDRESS.sub("", text)


def reconcile_cluster_secrets(ctx: EngineContext, namespace: str, name: str) -> float | Park | None:
    obj = ctx.delivery.get("ClusterSecrets", namespace, name)
    if obj is None:
        return None
    ref = ObjectRef.of(obj)
    deleting = bool(obj["metadata"].get("deletionTimestamp"))
    try:
        spec = load_cluster_secrets(obj).spec
    except InvalidSpec as exc:
        if deleting:  # it never copied anything: nothing to clean up
            _remove_finalizer(ctx, "ClusterSecrets", obj, keys.FINALIZER_CLUSTER_SECRETS)
            return None
        ctx.events.emit(ref, WARNING, "InvalidSpec", f"invalid ClusterSecrets, fix the manifest: {exc}")
        return Park("InvalidSpec", ctx.settings.sync_period_seconds)
    if not deleting and _ensure_finalizer(ctx, "ClusterSecrets", obj, keys.FINALIZER_CLUSTER_SECRETS):
        return 0.0
    source, target = spec.source, spec.target
    try:
        with _field("spec.source.labelSelector / fieldSelector"):
            sources = _list_secrets(ctx, source.namespace, source.label_selector, source.field_selector)
        with _field("spec.target.labelSelector / fieldSelector"):
            clusters = ctx.delivery.list_selected_clusters(namespace, target.label_selector,
                                                           target.field_selector)
    except _SelectorRejected as exc:
        if deleting:  # a selector that never worked selected nothing to clean up
            _remove_finalizer(ctx, "ClusterSecrets", obj, keys.FINALIZER_CLUSTER_SECRETS)
            return None
        ctx.events.emit(ref, WARNING, "InvalidSelector", str(exc))
        return Park("InvalidSelector", ctx.settings.sync_period_seconds)
    errors: list[str] = []
    connections: list[ClusterConnection] = []
    for cluster_obj in clusters:
        if (cluster_obj.get("spec") or {}).get("enabled"):
            try:
                connections.append(connect(ctx, cluster_obj))
            except ClusterConfigError as exc:
                errors.append(f"{cluster_obj['metadata']['name']}: {exc}")
    copied = sorted(s["metadata"]["name"] for s in sources)
    recorded = list((obj.get("status") or {}).get("secrets") or [])
    if deleting:  # remove what was recorded as copied and what would be copied now
        names = sorted({*copied, *recorded})
        for connection in connections:
            errors.extend(_delete_copies(ctx, connection, target.namespace, names))
        if not errors:
            _remove_finalizer(ctx, "ClusterSecrets", obj, keys.FINALIZER_CLUSTER_SECRETS)
            return None
    else:
        plan = ClusterPlan((
            DesiredObject({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": target.namespace}},
                          "create-only"),
            *(DesiredObject(_secret_copy(s, target.namespace, target.labels, target.annotations)) for s in sources),
        ))
        results = ctx.applier.apply([(c, plan) for c in connections]) if connections else {}
        errors.extend(f"{cluster}: {failure}" for cluster, result in sorted(results.items())
                      for failure in result.failed)
        # A recorded copy whose source Secret is gone (deleted, or no longer selected) is removed everywhere;
        # it stays recorded until every enabled cluster confirmed the deletion, so a failure is retried.
        stale = sorted(set(recorded) - set(copied))
        stale_errors = [e for connection in connections for e in _delete_copies(ctx, connection, target.namespace,
                                                                                 stale)] if stale else []
        errors.extend(stale_errors)
        record = sorted({*copied, *stale}) if stale_errors else copied
        if recorded != record:
            ctx.delivery.patch_status("ClusterSecrets", namespace, name, {"secrets": record})
    if errors:  # retried next period; the event says which clusters and why (credentials redacted)
        message = ("cannot delete the copies (fix the cluster, or remove the finalizer by hand) in: " if deleting
                   else "cannot copy secrets to: ") + "; ".join(errors)
        ctx.events.emit(ref, WARNING, "CopyFailed", message[:1000])
        log.warning(message, extra=fields(kind="ClusterSecrets", object=name, namespace=namespace))
        return Park("CopyFailed", ctx.settings.sync_period_seconds)
    return ctx.settings.sync_period_seconds * 4


class _SelectorRejected(ValueError):
    """The delivery cluster refused a selector string of the spec; the message names the field."""


@contextmanager
def _field(path: str) -> Iterator[None]:
    try:
        yield
    except ApiException as exc:
        if exc.status != 400:
            raise
        try:
            reason = str(json.loads(exc.body).get("message", ""))
        except (TypeError, ValueError, AttributeError):
            reason = ""
        raise _SelectorRejected(f"{path}: {reason or 'rejected by the API server'}; write a Kubernetes "
                                "selector such as `key=value,other in (a,b)`") from None


def _list_secrets(ctx: EngineContext, namespace: str, label_selector: str | None,
                  field_selector: str | None) -> list[dict[str, Any]]:
    return core_api.list_objects(ctx.delivery.api_client, "Secret", namespace, label_selector=label_selector,
                                 field_selector=field_selector, timeout=ctx.settings.cluster_timeout_seconds)


def _secret_copy(source: dict[str, Any], namespace: str, labels: dict[str, str] | None,
                 annotations: dict[str, str] | None) -> dict[str, Any]:
    """§5.2: same name and data and type, labels and annotations replaced by the target's."""
    metadata: dict[str, Any] = {"name": source["metadata"]["name"], "namespace": namespace}
    if labels:
        metadata["labels"] = dict(labels)
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "type": source.get("type") or "Opaque",
            "data": source.get("data") or {}}


def _delete_copies(ctx: EngineContext, connection: ClusterConnection, namespace: str, names: list[str]) -> list[str]:
    """Delete the copies in one cluster; returns the errors (a copy already gone is fine)."""
    timeout = ctx.settings.cluster_timeout_seconds
    errors = []
    for secret_name in names:
        try:
            live = core_api.get(connection.api, "Secret", namespace, secret_name, timeout=timeout)
            if keys.LABEL_IGNORE in (live.get("metadata", {}).get("labels") or {}):
                continue  # a human asked picchu to leave this copy alone
            core_api.delete(connection.api, "Secret", namespace, secret_name, timeout=timeout)
        except ApiException as exc:
            if exc.status != 404:
                errors.append(f"{connection.name}: Secret {namespace}/{secret_name}: HTTP {exc.status} {exc.reason}")
        except Exception as exc:
            errors.append(f"{connection.name}: {_stable(connection.redact(f'{type(exc).__name__}: {exc}'))[:300]}")
            break  # unreachable: the other deletions would fail the same way
    ctx.applier.forget(connection.name)  # the applier must write them again if they are wanted back
    return errors
