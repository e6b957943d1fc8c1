"""`MetricsExporter`: a tiny /metrics endpoint with settable gauges, for a real Prometheus to scrape.

Why: the honest way to make an SLO alert fire in a test or the demo is the production path: a metric is
scraped, an alerting rule evaluates it, and the alert appears in ALERTS. This exporter is the "application"
side: set `errors{app="echo",tag="v1"}` to 1 and a rule like `ERROR_RULE` fires for that app and tag.

Uses `prometheus_client` with a private registry (no global state) on a free loopback port.
Neighbours: `picchu.testing.prometheus.PrometheusServer` scrapes `exporter.target`.
"""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, Gauge, start_http_server

ERROR_METRIC = "picchu_test_errors"


def error_rule(alert: str = "echo_availability", metric: str = ERROR_METRIC, canary: bool = False) -> str:
    """An alerting-rule file firing `alert` for every app/tag whose `metric` > 0 (labels as Picchu expects).

    `slo="true"` makes it an SLO alert (the default query, §13.1); `canary=True` also adds `canary="true"`.
    """
    canary_label = '\n      canary: "true"' if canary else ""
    return f"""groups:
- name: picchu-test-{alert}
  rules:
  - alert: {alert}
    expr: {metric} > 0
    labels:
      slo: "true"{canary_label}
"""


class MetricsExporter:
    """Serves gauges labelled (app, tag) on http://127.0.0.1:<port>/metrics until `stop()`.

    >>> with MetricsExporter() as exporter:  # doctest: +SKIP
    ...     exporter.set(app="echo", tag="v1", value=1)  # picchu_test_errors{app="echo",tag="v1"} 1
    """

    def __init__(self, metric: str = ERROR_METRIC, labels: tuple[str, ...] = ("app", "tag")):
        self.registry = CollectorRegistry()
        self._labels = labels
        self._gauge = Gauge(metric, "Test signal set by picchu tests", list(labels), registry=self.registry)
        self._server: object | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    def start(self) -> MetricsExporter:
        server, thread = start_http_server(0, addr="127.0.0.1", registry=self.registry)
        self._server, self._thread = server, thread
        self.port = server.server_port
        return self

    @property
    def target(self) -> str:
        """The `host:port` to put in a Prometheus scrape config."""
        return f"127.0.0.1:{self.port}"

    def set(self, value: float = 1.0, **labels: str) -> None:
        self._gauge.labels(**labels).set(value)

    def remove(self, **labels: str) -> None:
        """Stop exposing one series (Prometheus marks it stale on the next scrape)."""
        self._gauge.remove(*(labels[name] for name in self._labels))

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()  # type: ignore[attr-defined]
            self._server.server_close()  # type: ignore[attr-defined]
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> MetricsExporter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
