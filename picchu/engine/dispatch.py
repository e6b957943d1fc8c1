"""Route a work-queue key to the pass of its kind, and make sure no exception escapes a pass unreported.

Keys are `(kind, namespace, name)`. A pass returns the delay before its next run; an unexpected exception is
counted, logged with the key and re-raised so the queue backs off that key only. Every pass, failed or not, is
counted in `picchu_reconcile_passes_total{kind}`: efficiency is measured per pass, never per wall-clock window.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Hashable
from typing import cast

from picchu import keys
from picchu.engine.cluster import reconcile_cluster, reconcile_cluster_secrets
from picchu.engine.context import EngineContext
from picchu.engine.events import WARNING, ObjectRef
from picchu.engine.release_manager import reconcile_release_manager
from picchu.engine.revision import reconcile_revision
from picchu.logs import fields
from picchu.outcome import Park

log = logging.getLogger(__name__)

PASSES: dict[str, Callable[[EngineContext, str, str], float | Park | None]] = {
    "Revision": reconcile_revision,
    "ReleaseManager": reconcile_release_manager,
    "Cluster": reconcile_cluster,
    "ClusterSecrets": reconcile_cluster_secrets,
}


def describe(exc: BaseException) -> str:
    """`Type: message` on one line, short; an apiserver refusal gives its status code and message only."""
    status, body = getattr(exc, "status", None), getattr(exc, "body", None)
    if isinstance(status, int) and body:
        try:
            message = str(json.loads(body).get("message", ""))
        except (ValueError, AttributeError):
            message = str(body)
        text = f"{type(exc).__name__}: HTTP {status}: {message}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())[:500]


def reconcile_key(ctx: EngineContext, key: Hashable) -> float | Park | None:
    kind, namespace, name = cast(tuple[str, str, str], key)
    started = time.monotonic()
    log.debug("%s pass", kind, extra=fields(kind=kind, namespace=namespace, object=name))
    try:
        return PASSES[kind](ctx, namespace, name)
    except Exception as exc:
        ctx.metrics.reconcile_errors.labels(kind).inc()
        # One line per failure; the traceback only at DEBUG: a bad object fails its passes again and again, and
        # thousands of them (the reliability suite's hostile input) must not bury the log in tracebacks.
        log.error("%s pass failed: %s", kind, describe(exc),
                  extra=fields(kind=kind, namespace=namespace, object=name, error_type=type(exc).__name__))
        log.debug("%s pass failed", kind, exc_info=True, extra=fields(kind=kind, namespace=namespace, object=name))
        # Users read Events, not operator logs: say that this object's pass failed and will be retried.
        ctx.events.emit(ObjectRef(keys.API_VERSION, kind, namespace, name), WARNING, "ReconcileError",
                        f"{kind} pass failed, retrying with back-off: {describe(exc)[:300]}")
        raise
    finally:
        ctx.metrics.reconcile_passes.labels(kind).inc()
        ctx.metrics.reconcile_duration.labels(kind).observe(time.monotonic() - started)
