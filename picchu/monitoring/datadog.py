"""`DatadogMonitorSource`: Picchu's retired Datadog canary check (§9.8), as an optional `AlertSource`.

Picchu 1.6.0 makes no Datadog call; before that, a release failed when a `*-«app»-canary-monitor` monitor
emitted an error event for its version in the last 5 minutes. This source asks the Datadog Events API
(v2, `GET /api/v2/events`) exactly that through `datadog-api-client`, against a configurable host (a
Datadog site, or a local fake in tests), and answers with the same `AlertVerdict` as the Prometheus source:
triggered with the monitor names, clear, or UNKNOWN with the reason (never an exception). Answers are
cached per query for `ttl_seconds` (Picchu: 120 s); errors are not cached.

`picchu run --datadog-api-key ... --datadog-app-key ...` (or DD_API_KEY, DD_APP_KEY, DD_SITE) turns it on; the
engine then asks it together with Prometheus (`CombinedAlertSource`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from picchu.monitoring.alerts import AlertVerdict
from picchu.monitoring.cache import TtlCache

log = logging.getLogger(__name__)


def canary_monitor_query(app: str, tag: str) -> str:
    return f"*-{app}-canary-monitor AND status:error AND version:{tag}"


class DatadogMonitorSource:
    def __init__(
        self,
        api_key: str,
        app_key: str,
        *,
        host: str = "https://api.datadoghq.com",
        window: str = "now-5m",
        ttl_seconds: float = 120.0,
        timeout_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not api_key or not app_key:
            raise ValueError("datadog api_key and app_key are both required (DD_API_KEY / DD_APP_KEY)")
        self.host = host.rstrip("/")
        self.window = window
        self._cache: TtlCache[tuple[str, ...]] = TtlCache(ttl_seconds, clock=clock)
        from datadog_api_client import (  # here: loaded only when Datadog is configured
            ApiClient,
            Configuration,
        )
        from datadog_api_client.v2.api.events_api import EventsApi

        configuration = Configuration(  # type: ignore[no-untyped-call]
            host=self.host,
            api_key={"apiKeyAuth": api_key, "appKeyAuth": app_key},
            request_timeout=timeout_seconds,
        )
        self._events = EventsApi(ApiClient(configuration))  # type: ignore[no-untyped-call]

    def triggered_alerts(self, app: str, tag: str, canaries_only: bool) -> AlertVerdict:
        query = canary_monitor_query(app, tag)
        names = self._cache.get(query)
        if names is None:
            try:
                names = self._monitor_names(query)
            except Exception as error:  # any failure is "unknown", never a crash of the reconcile
                reason = f"querying Datadog events at {self.host} failed: {type(error).__name__}: {_first_line(error)}"
                log.warning("datadog canary check for app=%s tag=%s: %s", app, tag, reason)
                return AlertVerdict.unknown(reason)
            self._cache.put(query, names)
        return AlertVerdict.triggered(names) if names else AlertVerdict.clear()

    def _monitor_names(self, query: str) -> tuple[str, ...]:
        answer: Any = self._events.list_events(filter_query=query, filter_from=self.window, page_limit=5)
        names = []
        for event in answer.get("data") or []:
            details = event.get("attributes", {}).get("attributes", {})
            if str(details.get("status", "error")) != "error":
                continue
            monitor = details.get("monitor")
            names.append(
                str(monitor.get("name")) if monitor and monitor.get("name") else str(details.get("title", ""))
            )
        return tuple(name for name in names if name)


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""
