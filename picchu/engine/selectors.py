"""Kubernetes LabelSelector objects (matchLabels / matchExpressions) as the selector strings list calls take.

Why: `configSelector` (rendering, mirroring) and a Mirror's `additionalConfigSelectors[].labelSelector` are
structured selectors, while the apiserver filters lists by a selector string. Neighbours: `rendering`
(config copies into target clusters) and `mirror` (copies into mirror clusters).

Invariant: `None` selects nothing (the caller lists nothing), `""` selects everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def selector_string(selector: Mapping[str, Any] | None) -> str | None:
    """A LabelSelector as a selector string; None (no selector) selects nothing, {} everything.

    Raises ValueError (naming the field) for an operator Kubernetes does not know.
    """
    if selector is None:
        return None
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for index, expr in enumerate(selector.get("matchExpressions") or []):
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(str(key))
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
        else:  # dropping it would silently select more than asked
            raise ValueError(f"matchExpressions[{index}].operator: {op!r} is not one of In, NotIn, Exists, "
                             "DoesNotExist; fix the selector")
    return ",".join(parts)


def with_labels(selector: str, labels: Mapping[str, str]) -> str:
    """`selector` narrowed to objects that also carry every label of `labels` with that value."""
    return ",".join(p for p in (selector, *(f"{k}={v}" for k, v in sorted(labels.items()))) if p)
