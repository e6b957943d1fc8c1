"""Record what a person asked of a Revision (abort, retry, pause, resume, promote) as a Kubernetes Event.

Why: the apiserver does not tell the operator who changed an object, so the `picchu` CLI writes the local
user name with its request in the `picchu.medium.engineering/last-action` annotation (JSON: id, action, by,
at, reason). The Revision pass emits one Event per request id and remembers the id it recorded in
`.../last-action-recorded`, so a restart of the operator does not repeat it. It then wakes the app's
ReleaseManagers, because pause and promote are annotation changes that the spec-change filter ignores.

A malformed annotation is ignored (logged); it never fails the pass.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from picchu import keys
from picchu.api.v1alpha1 import Revision
from picchu.engine.context import EngineContext
from picchu.engine.events import NORMAL, WARNING, ObjectRef
from picchu.logs import fields

log = logging.getLogger(__name__)

REASONS = {"abort": "Aborted", "retry": "Retried", "pause": "Paused", "resume": "Resumed", "promote": "Promoted"}


def read_action(annotations: dict[str, str]) -> dict[str, str] | None:
    """The last steering request, or None when absent or malformed."""
    raw = annotations.get(keys.ANNOTATION_ACTION)
    if not raw:
        return None
    try:
        action = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(action, dict) or not isinstance(action.get("id"), str) or action.get("action") not in REASONS:
        return None
    return {k: str(v) for k, v in action.items() if v is not None}


def record_action(ctx: EngineContext, obj: dict[str, Any], revision: Revision, ref: ObjectRef) -> None:
    annotations = revision.annotations
    action = read_action(annotations)
    if action is None or annotations.get(keys.ANNOTATION_ACTION_RECORDED) == action["id"]:
        return
    verb = action["action"]
    who = action.get("by") or "someone"
    message = f"{verb} {revision.tag} requested by {who}"
    if action.get("reason"):
        message += f": {action['reason']}"
    ctx.events.emit(ref, WARNING if verb == "abort" else NORMAL, REASONS[verb], message)
    log.info(message, extra=fields(app=revision.app, tag=revision.tag, action=verb, by=who))
    meta = obj["metadata"]
    ctx.delivery.patch("Revision", meta["namespace"], meta["name"],
                       {"metadata": {"annotations": {keys.ANNOTATION_ACTION_RECORDED: action["id"]}}})
    for target in revision.spec.targets:
        ctx.wake_release_manager(meta["namespace"], f"{revision.app}-{target.name}")
