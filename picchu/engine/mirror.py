"""Mirroring (spec §6.5 and §3.7, with §17 #5 fixed): copy a deployed Revision and its config into the
cluster of every Mirror, so a second picchu there can run the same release.

Step 6 of the Revision pass calls `mirror_revision` when the Revision is deployed somewhere (`deployed`) and
`spec.disableMirroring` is not true. For each Mirror (listed in every namespace of the delivery cluster) the
Cluster `spec.clusterName` of the Revision's namespace is connected through the client pool and receives,
in the same namespace/name: the ConfigMaps, Secrets and ExternalSecrets chosen by each target's
`configSelector`, the ConfigMaps and Secrets of `additionalConfigSelectors[]`, and the Revision itself with
`externalTest.enabled=false` on every target (the mirror must not wait for tests that never run there).

Neighbours: `cluster.connect` (pooled client of a Cluster), `selectors` (LabelSelector → string), the
shared `picchu.clusters.Applier` (server-side apply, field manager `picchu`).

Invariants:
- Copies carry name, namespace, labels and annotations, and their content (data, type, spec), never status
  nor server-set metadata (uid, resourceVersion, managedFields, ownerReferences, ...).
- Namespaces are created on the mirror when missing and never modified.
- An unchanged pass writes nothing to the mirror (the applier skips content it already wrote).
- Never into the delivery cluster itself (the copy would overwrite the original Revision).
- A failing mirror never fails the Revision pass: it aborts that mirror only, increments
  `picchu_mirror_failure_counter{app, mirror}` and records a Warning event on the Revision.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Mapping
from typing import Any, cast

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from picchu import keys
from picchu.api.v1alpha1 import InvalidSpec, Revision, load_mirror
from picchu.api.v1alpha1.others import Mirror
from picchu.clusters import core_api
from picchu.clusters.connection import ClusterConfigError
from picchu.clusters.desired import ClusterPlan, DesiredObject, ObjectKey
from picchu.engine.cluster import connect
from picchu.engine.context import EngineContext
from picchu.engine.events import WARNING, ObjectRef
from picchu.engine.selectors import selector_string, with_labels
from picchu.logs import fields

log = logging.getLogger(__name__)

EXTERNAL_SECRETS = ("external-secrets.io", "v1", "externalsecrets")
CONTENT = {  # what is copied besides metadata, per kind
    "ConfigMap": ("data", "binaryData"),
    "Secret": ("type", "data"),
    "ExternalSecret": ("spec",),
    "Revision": ("spec",),
}
CLIENT_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)


class MirrorFailed(Exception):
    """One mirror could not be brought up to date; the message says why and is safe to show."""


def deployed(targets_status: Iterable[Mapping[str, Any]]) -> bool:
    """§6.3: some target has replicas running or wanted (`scale.current + scale.desired > 0`)."""
    return any((t.get("scale") or {}).get("current", 0) + (t.get("scale") or {}).get("desired", 0) > 0
               for t in targets_status)


def mirror_revision(ctx: EngineContext, obj: dict[str, Any], revision: Revision) -> None:
    """Bring every Mirror's cluster up to date with this Revision; never raises."""
    ref = ObjectRef.of(obj)
    try:
        # Picchu lists Mirrors in every namespace; an operator confined to one namespace (--namespace, and
        # RBAC to match) reads only its own.
        mirrors = ctx.delivery.list("Mirror", ctx.settings.namespace or None)
    except Exception as exc:  # §6.1 step 2: a listing error skips mirroring for this pass
        log.warning("cannot list Mirrors: %s", _describe(exc), extra=fields(kind="Revision", object=ref.name))
        return
    for mirror_obj in sorted(mirrors, key=lambda m: (m["metadata"].get("namespace", ""), m["metadata"]["name"])):
        cluster_name = str((mirror_obj.get("spec") or {}).get("clusterName") or "")
        try:
            _mirror_one(ctx, mirror_obj, obj, revision)
        except Exception as exc:
            reason = _describe(exc)
            message = f"mirroring to cluster {cluster_name or '<unset>'} failed: {reason}"
            ctx.metrics.mirror_failure_counter.labels(revision.spec.app.name, cluster_name).inc()
            ctx.metrics.mirror_failures.labels(revision.spec.app.name, cluster_name).inc()
            ctx.events.emit(ref, WARNING, "MirrorFailed", message)
            log.warning(message, extra=fields(kind="Revision", object=ref.name, namespace=ref.namespace,
                                              mirror=mirror_obj["metadata"]["name"], cluster=cluster_name))


def _mirror_one(ctx: EngineContext, mirror_obj: dict[str, Any], obj: dict[str, Any], revision: Revision) -> None:
    where = f"Mirror {mirror_obj['metadata'].get('namespace', '')}/{mirror_obj['metadata']['name']}"
    try:
        mirror = load_mirror(mirror_obj)
    except InvalidSpec as exc:
        raise MirrorFailed(f"invalid {where}, fix it: {exc}") from None
    namespace = revision.namespace
    cluster_obj = ctx.delivery.get("Cluster", namespace, mirror.spec.cluster_name)
    if cluster_obj is None:
        raise MirrorFailed(f"Cluster {namespace}/{mirror.spec.cluster_name} not found; create it or fix "
                           f"spec.clusterName of {where}")
    if not (cluster_obj.get("spec") or {}).get("enabled"):
        log.debug("mirror cluster disabled", extra=fields(cluster=mirror.spec.cluster_name))
        return  # disabled clusters are ignored everywhere (§3.5)
    connection = connect(ctx, cluster_obj)
    if connection.server.rstrip("/") == str(ctx.delivery.api_client.configuration.host).rstrip("/"):
        raise MirrorFailed(f"Cluster {namespace}/{mirror.spec.cluster_name} is the delivery cluster itself; "
                           f"mirroring into it would overwrite the original Revision, fix {where}")
    copies = {ObjectKey.of(c): c for c in [*_config_copies(ctx, revision, mirror), _revision_copy(obj)]}
    namespaces = sorted({key.namespace for key in copies})
    plan = ClusterPlan((
        *(DesiredObject({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}, "create-only")
          for n in namespaces),
        *(DesiredObject(manifest) for manifest in copies.values()),
    ))
    result = ctx.applier.apply([(connection, plan)])[connection.name]
    if result.failed:
        raise MirrorFailed("; ".join(str(failure) for failure in result.failed))


def _config_copies(ctx: EngineContext, revision: Revision, mirror: Mirror) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for index, target in enumerate(revision.spec.targets):
        try:
            selector = selector_string(target.config_selector)
        except ValueError as exc:
            raise MirrorFailed(f"Revision spec.targets[{index}].configSelector.{exc}") from None
        if selector is None:
            continue
        for kind in ("ConfigMap", "Secret"):
            found.extend(_copy(o, kind) for o in _list_core(ctx, kind, revision.namespace, selector))
        found.extend(_copy(o, "ExternalSecret") for o in _external_secrets(ctx, revision.namespace, selector))
    app, tag = revision.spec.app.name, revision.spec.app.tag
    for index, extra in enumerate(mirror.spec.additional_config_selectors or []):
        try:
            base = selector_string(extra.label_selector or {}) or ""
        except ValueError as exc:
            raise MirrorFailed(f"Mirror spec.additionalConfigSelectors[{index}].labelSelector.{exc}") from None
        selector = with_labels(base, {extra.app_label_name: app, extra.tag_label_name: tag})
        for kind in ("ConfigMap", "Secret"):
            found.extend(_copy(o, kind) for o in _list_core(ctx, kind, extra.namespace or "", selector))
    return found


def _list_core(ctx: EngineContext, kind: str, namespace: str, selector: str) -> list[dict[str, Any]]:
    """ConfigMaps or Secrets of one namespace of the delivery cluster, or of all namespaces when it is ""."""
    return core_api.list_objects(ctx.delivery.api_client, kind, namespace or None, label_selector=selector or None,
                                 timeout=ctx.settings.cluster_timeout_seconds)


def _external_secrets(ctx: EngineContext, namespace: str, selector: str) -> list[dict[str, Any]]:
    group, version, plural = EXTERNAL_SECRETS
    try:
        result = client.CustomObjectsApi(ctx.delivery.api_client).list_namespaced_custom_object(
            group, version, namespace, plural, label_selector=selector or None,
            _request_timeout=ctx.settings.cluster_timeout_seconds)
    except ApiException as exc:
        if exc.status == 404:  # External Secrets is not installed in the delivery cluster
            return []
        raise
    items: list[dict[str, Any]] = list(cast(dict[str, Any], result).get("items", []))
    for item in items:
        item.setdefault("apiVersion", f"{group}/{version}")
    return items


def _revision_copy(obj: dict[str, Any]) -> dict[str, Any]:
    """The Revision as the mirror gets it: external tests disabled on every target (§17 #5)."""
    revision = _copy(obj, "Revision")
    spec = revision["spec"] = copy.deepcopy(revision.get("spec") or {})
    for target in spec.get("targets") or []:
        external_test = target.get("externalTest") or {}
        target["externalTest"] = {"started": False, "completed": False, **external_test, "enabled": False}
    return revision


def _copy(obj: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """Identity, labels, annotations and content of `obj`; nothing the server or other clients set."""
    meta = obj.get("metadata") or {}
    metadata: dict[str, Any] = {"name": meta["name"], "namespace": meta["namespace"]}
    if meta.get("labels"):
        metadata["labels"] = dict(meta["labels"])
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in CLIENT_ANNOTATIONS}
    if annotations:
        metadata["annotations"] = annotations
    api_version = obj.get("apiVersion") or ("v1" if kind in ("ConfigMap", "Secret") else keys.API_VERSION)
    manifest: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": metadata}
    for name in CONTENT[kind]:
        if obj.get(name) is not None:
            manifest[name] = obj[name]
    return manifest


def _describe(exc: Exception) -> str:
    """A short, credential-free reason for an exception raised while mirroring."""
    if isinstance(exc, MirrorFailed | ClusterConfigError):
        return str(exc)
    if isinstance(exc, ApiException):
        return f"delivery cluster answered HTTP {exc.status} {exc.reason}"
    return f"{type(exc).__name__}: {str(exc)[:200]}"
