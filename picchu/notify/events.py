"""What the operator tells people about a release, independent of where it is told.

The engine emits one `ReleaseEvent` per noteworthy transition (rollout started, a ramp step, released,
failed, rolled back) and hands it to a `Notifier`. Notifiers are best-effort by contract: `notify` never
raises, whatever the backend does, because a Slack or Sentry outage must not stop a rollback. `Fanout`
enforces that for a list of notifiers, `Background` moves delivery off the
reconcile thread; `NullNotifier` is used when nothing is configured.

Neighbours: `picchu.notify.slack`, `picchu.notify.sentry`. No Picchu 1.6.0 code path sends anything
(§13.3, §13.4); the Slack wording follows §13.3, with its hard-coded channel made a setting (§17 #25).
"""

from __future__ import annotations

import enum
import logging
import queue
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)


class EventKind(enum.StrEnum):
    ROLLOUT_STARTED = "rollout-started"
    ROLLOUT_STEP = "rollout-step"
    RELEASED = "released"
    REVISION_FAILED = "revision-failed"
    ROLLED_BACK = "rolled-back"

    @property
    def is_failure(self) -> bool:
        return self in (EventKind.REVISION_FAILED, EventKind.ROLLED_BACK)


FAILURES = frozenset({EventKind.REVISION_FAILED, EventKind.ROLLED_BACK})


@dataclass(frozen=True)
class ReleaseEvent:
    """One transition of one release (app + tag) in one target (e.g. "production").

    `percent` is the traffic share after a step; `alerts` the triggered alert names behind a failure;
    `reason` a human sentence (e.g. "alert source unavailable (fail-closed)").
    """

    kind: EventKind
    app: str
    tag: str
    target: str = ""
    namespace: str = ""
    percent: int | None = None
    alerts: tuple[str, ...] = ()
    reason: str = ""


class Notifier(Protocol):
    def notify(self, event: ReleaseEvent) -> None:
        """Tell someone about `event`. Must not raise."""
        ...


class NullNotifier:
    """Nothing configured: events are dropped."""

    def notify(self, event: ReleaseEvent) -> None:
        return None


class Fanout:
    """Sends each event to every notifier; one notifier failing never stops the others or the caller."""

    def __init__(self, notifiers: Iterable[Notifier]):
        self.notifiers = tuple(notifiers)

    def notify(self, event: ReleaseEvent) -> None:
        for notifier in self.notifiers:
            try:
                notifier.notify(event)
            except Exception:
                log.exception(
                    "notifier %s failed for %s %s/%s",
                    type(notifier).__name__,
                    event.kind,
                    event.app,
                    event.tag,
                )


class Background:
    """Runs another notifier on one worker thread so a slow Slack never stalls a reconcile.

    Events queue up (bounded: beyond `max_pending` new events are dropped with a warning, since a
    notification backlog that large means the backend is down). `close()` delivers what is queued, then stops.
    """

    def __init__(self, notifier: Notifier, max_pending: int = 1000):
        self.notifier = notifier
        self._queue: queue.Queue[ReleaseEvent | None] = queue.Queue(maxsize=max_pending)
        self._worker = threading.Thread(target=self._deliver, name="picchu-notifier", daemon=True)
        self._worker.start()

    def notify(self, event: ReleaseEvent) -> None:
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            log.warning("notification backlog full: dropping %s %s/%s", event.kind, event.app, event.tag)

    def _deliver(self) -> None:
        while (event := self._queue.get()) is not None:
            try:
                self.notifier.notify(event)
            except Exception:
                log.exception(
                    "notifier %s failed for %s %s/%s",
                    type(self.notifier).__name__,
                    event.kind,
                    event.app,
                    event.tag,
                )

    def close(self, timeout_seconds: float = 10.0) -> None:
        self._queue.put(None)
        self._worker.join(timeout=timeout_seconds)
