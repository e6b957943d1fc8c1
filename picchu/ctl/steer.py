"""`picchu abort|retry|pause|resume|promote REVISION`: one small, documented patch of the Revision each.

Every patch is something Go Picchu either reads the same way (``spec.failed``, the failed-at annotation) or
ignores (annotations under ``picchu.medium.engineering/``):

* abort:   ``spec.failed: true``, ``failed-at-timestamp`` = now, ``failed-reason`` = the reason;
* retry:   ``spec.failed: false`` and both annotations removed: Picchu's failed revision that is no longer
  marked failed goes back to ``deploying`` and rolls out again (alerts can fail it again);
* pause:   ``paused`` = who and why; resume removes it;
* promote: ``promote`` = ``"<request id> step|full"``.

Each also writes ``last-action`` (JSON: id, action, by = the local user name, at, reason), which the
operator turns into a Kubernetes Event on the Revision naming who asked.
"""

from __future__ import annotations

import getpass
import json
import secrets
from datetime import UTC, datetime
from typing import Any

from kubernetes import client

from picchu import keys
from picchu.ctl.delivery import Delivery

ACTIONS = ("abort", "retry", "pause", "resume", "promote")


def local_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


def action_patch(action: str, *, reason: str = "", full: bool = False, user: str | None = None,
                 now: datetime | None = None) -> dict[str, Any]:
    """The merge patch for one steering action (a null value removes an annotation)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    moment = now or datetime.now(UTC)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    who = user or local_user()
    request_id = f"{moment.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    record = {"id": request_id, "action": action, "by": who, "at": stamp, "reason": reason or None}
    annotations: dict[str, Any] = {keys.ANNOTATION_ACTION: json.dumps({k: v for k, v in record.items() if v})}
    spec: dict[str, Any] = {}
    if action == "abort":
        spec["failed"] = True
        annotations[keys.ANNOTATION_FAILED_AT] = stamp
        annotations[keys.ANNOTATION_FAILED_REASON] = f"aborted by {who}" + (f": {reason}" if reason else "")
    elif action == "retry":
        spec["failed"] = False
        annotations[keys.ANNOTATION_FAILED_AT] = None
        annotations[keys.ANNOTATION_FAILED_REASON] = None
    elif action == "pause":
        annotations[keys.ANNOTATION_PAUSED] = f"by {who}" + (f": {reason}" if reason else "")
    elif action == "resume":
        annotations[keys.ANNOTATION_PAUSED] = None
    else:
        annotations[keys.ANNOTATION_PROMOTE] = f"{request_id} {'full' if full else 'step'}"
    patch: dict[str, Any] = {"metadata": {"annotations": annotations}}
    if spec:
        patch["spec"] = spec
    return patch


def steer(delivery: Delivery, name: str, action: str, *, reason: str = "", full: bool = False) -> str:
    """Apply one action to Revision ``name``; returns a sentence saying what was asked."""
    delivery.revision_object(name)  # a clear NotFound first
    patch = action_patch(action, reason=reason, full=full)
    client.CustomObjectsApi(delivery.api).patch_namespaced_custom_object(
        keys.GROUP, keys.VERSION, delivery.namespace, "revisions", name, patch, _request_timeout=10)
    what = {"abort": "aborted (spec.failed: traffic goes back to the previous release)",
            "retry": "retried (no longer marked failed: it rolls out again)",
            "pause": "paused (its ramp holds at the current percent; failures still roll it back)",
            "resume": "resumed",
            "promote": "promoted " + ("to its release max" if full else "one step")}[action]
    return f"{name} {what}"
