"""Status conditions in the standard Kubernetes shape, so `kubectl describe` and `kubectl wait` work.

`merge` keeps `lastTransitionTime` when a condition's status did not change, which keeps a pass over an
unchanged world from rewriting status (a status write with identical content is skipped by the caller).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Condition:
    type: str
    status: bool
    reason: str
    message: str


def merge(existing: list[dict[str, Any]] | None, updates: list[Condition], now: datetime) -> list[dict[str, Any]]:
    by_type = {c.get("type"): dict(c) for c in (existing or []) if isinstance(c, dict)}
    for cond in updates:
        status = "True" if cond.status else "False"
        old = by_type.get(cond.type)
        changed = old is None or old.get("status") != status
        by_type[cond.type] = {
            "type": cond.type,
            "status": status,
            "reason": cond.reason,
            "message": cond.message,
            "lastTransitionTime": now.strftime("%Y-%m-%dT%H:%M:%SZ")
            if changed
            else old.get("lastTransitionTime") if old else None,
        }
    return [by_type[k] for k in sorted(by_type, key=str)]
