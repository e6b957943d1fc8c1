"""`SentryNotifier`: a failing release becomes a Sentry event the owning team can triage and alert on.

Picchu 1.6.0 ships an unwired Sentry REST client (§13.4); this operator instead reports release failures
as events: message "«app» release «tag» failed in «target»" (or "... was rolled back ..."), level error,
tags `app`, `tag`, `target`, `namespace`, `picchu.event`, the triggered alerts as extra data, and a
fingerprint per app/tag/kind so repeats group into one Sentry issue.

It owns a dedicated `sentry_sdk.Client` (no default integrations) and builds a fresh `Scope` per event,
calling `client.capture_event` directly: nothing touches the global hub/scope, so the operator's own error
reporting (if any) and tests stay isolated. The transport sends in a background thread; `flush()` waits.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from picchu.notify.events import FAILURES, EventKind, ReleaseEvent

log = logging.getLogger(__name__)


def event_message(event: ReleaseEvent) -> str:
    verb = "was rolled back" if event.kind is EventKind.ROLLED_BACK else "failed"
    where = f" in {event.target}" if event.target else ""
    return f"{event.app} release {event.tag} {verb}{where}"


class SentryNotifier:
    def __init__(
        self,
        dsn: str,
        *,
        environment: str | None = None,
        events: Collection[EventKind] = FAILURES,
        shutdown_timeout_seconds: float = 2.0,
    ):
        if not dsn:
            raise ValueError(
                "sentry DSN is empty: set it to the project's DSN (https://<key>@<host>/<project>)"
            )
        import sentry_sdk  # here, not at module level: an operator without a DSN never loads the SDK

        self.events = frozenset(events)
        self._sdk = sentry_sdk
        self._client = sentry_sdk.Client(
            dsn=dsn,
            environment=environment,
            default_integrations=False,
            auto_enabling_integrations=False,
            shutdown_timeout=shutdown_timeout_seconds,
        )

    def notify(self, event: ReleaseEvent) -> None:
        if event.kind not in self.events:
            return
        try:
            scope = self._sdk.Scope()
            for key, value in (
                ("app", event.app),
                ("tag", event.tag),
                ("target", event.target),
                ("namespace", event.namespace),
                ("picchu.event", str(event.kind)),
            ):
                if value:
                    scope.set_tag(key, value)
            scope.set_extra("alerts", list(event.alerts))
            if event.reason:
                scope.set_extra("reason", event.reason)
            scope.fingerprint = ["picchu", str(event.kind), event.app, event.tag]
            self._client.capture_event({"message": event_message(event), "level": "error"}, scope=scope)
        except Exception:
            log.exception("sentry: reporting %s %s/%s failed", event.kind, event.app, event.tag)

    def flush(self, timeout_seconds: float = 5.0) -> None:
        self._client.flush(timeout=timeout_seconds)

    def close(self) -> None:
        self._client.close()
