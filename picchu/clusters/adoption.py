"""What the applier knows about objects it meets in a cluster before it writes them: ignored, or already as
desired though written by someone else (a Go Picchu being replaced).

Why: a switch-over from Go Picchu must not churn (no resourceVersion change for an object that is already
what this operator would write), and an object a human labelled `picchu.medium.engineering/ignore` must never
be written, whoever created it (§11.1). Both need the live object, which the applier reads (one GET) only
when it is about to write.

Neighbours: `applier` (the only caller), `desired` (the manifests compared here).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from picchu import keys


def is_ignored(live: Mapping[str, Any] | None) -> bool:
    """The live object carries `picchu.medium.engineering/ignore` (any value): leave it alone."""
    return live is not None and keys.LABEL_IGNORE in _labels(live)


def applied_by_us(live: Mapping[str, Any]) -> bool:
    """This operator server-side applied the object before: re-applying identical content is a no-op, and
    only a real apply removes the fields it stopped rendering."""
    return any(
        entry.get("manager") == keys.FIELD_MANAGER and entry.get("operation") == "Apply"
        for entry in (live.get("metadata") or {}).get("managedFields") or []
    )


def exempt_labels(manifest: Mapping[str, Any]) -> frozenset[str]:
    """Labels this operator adds that Go Picchu never wrote: their absence alone does not make a write due.

    `app.kubernetes.io/managed-by` everywhere; on the app Namespace also the app label (Go Picchu labels it
    with the owner labels only, §11.3).
    """
    if manifest.get("kind") == "Namespace":
        return frozenset({keys.LABEL_MANAGED_BY, keys.LABEL_APP})
    return frozenset({keys.LABEL_MANAGED_BY})


def already_as_desired(manifest: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
    """Every field of `manifest` has the same value in `live` (which may hold more: server defaults, fields
    others own), except the exempt labels. Lists must match element by element."""
    exempt = exempt_labels(manifest)
    metadata = manifest.get("metadata") or {}
    live_metadata = live.get("metadata") or {}
    labels = {k: v for k, v in (metadata.get("labels") or {}).items() if k not in exempt}
    if not _contains(live_metadata.get("labels") or {}, labels):
        return False
    if not _contains(live_metadata.get("annotations") or {}, metadata.get("annotations") or {}):
        return False
    body = {k: v for k, v in manifest.items() if k not in ("apiVersion", "kind", "metadata")}
    return _contains(live, body)


def labels_as_desired(manifest: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
    """The live labels equal the rendered ones, exempt labels aside (a scale-only ReplicaSet's labels are
    replaced as a whole when written)."""
    exempt = exempt_labels(manifest)

    def strip(labels: Mapping[str, str]) -> dict[str, str]:
        return {k: v for k, v in labels.items() if k not in exempt}

    return strip(_labels(manifest)) == strip(_labels(live))


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def _contains(live: Any, desired: Any) -> bool:
    if desired is None:
        return live is None or live == {} or live == []
    if live is None and desired in ({}, []):
        return True  # the API server drops some empty values
    if isinstance(desired, Mapping):
        if not isinstance(live, Mapping):
            return False
        return all(_contains(live.get(key), value) for key, value in desired.items())
    if isinstance(desired, list):
        if not isinstance(live, list) or len(live) != len(desired):
            return False
        return all(_contains(a, b) for a, b in zip(live, desired, strict=True))
    if isinstance(desired, bool) or isinstance(live, bool):
        return live is desired
    if isinstance(desired, (int, float)) and isinstance(live, (int, float)):
        return float(desired) == float(live)
    return bool(live == desired)
