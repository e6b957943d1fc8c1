"""Wake the Revisions whose alerts start firing instead of letting them wait for their next periodic pass.

Why: a Revision pass reads its alert verdict once per sync period (15 s); a failing release should lose its
traffic within seconds. One thread asks the alert source for every firing (app, tag) once per query TTL,
with the same two shared queries (and cache) the passes use, so Prometheus sees one query per interval for
all apps, and wakes the Revisions that were not firing the last time. The pass itself decides, as always.

Neighbours: `monitoring` sources with a `firing()` method (Prometheus; others are skipped), the delivery
store for finding the Revisions of an (app, tag), `handlers.operator` starts and stops it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from picchu import keys
from picchu.engine.context import EngineContext

log = logging.getLogger(__name__)


def firing(source: Any) -> set[tuple[str, str]] | None:
    """What `source` (or every source of a combined one) says is firing; None when none can say."""
    parts = [firing(s) for s in getattr(source, "sources", ())] if hasattr(source, "sources") else (
        [source.firing()] if hasattr(source, "firing") else [])
    known = [p for p in parts if p is not None]
    return set().union(*known) if known else None


class AlertWaker:
    def __init__(self, ctx: EngineContext, wake: Callable[[str, str, str], None], interval: float) -> None:
        self.ctx, self.wake, self.interval = ctx, wake, max(0.5, interval)
        self._last: set[tuple[str, str]] = set()
        self._stop = threading.Event()

    def start(self) -> AlertWaker:
        threading.Thread(target=self._run, name="picchu-alert-wake", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # never let a bad answer stop the thread; the periodic passes still run
                log.exception("alert wake-up check failed")

    def check(self) -> int:
        """Wake the Revisions of every newly firing (app, tag); returns how many were woken."""
        now = firing(self.ctx.alerts)
        if now is None:
            return 0
        woken = 0
        for app, tag in sorted(now - self._last):
            for obj in self.ctx.delivery.list("Revision", self.ctx.settings.namespace or None, {keys.LABEL_APP: app}):
                if ((obj.get("spec") or {}).get("app") or {}).get("tag") == tag:
                    self.wake(obj["metadata"].get("namespace") or "", obj["metadata"]["name"], app)
                    woken += 1
        self._last = now
        return woken
