"""The operator's /metrics endpoint: what prometheus_client's server would send, in every format a scraper asks
for, scraped by a real Prometheus, and without holding the whole scrape in memory."""

from __future__ import annotations

import gzip
import http.client
import re
import tracemalloc
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from picchu.handlers.metrics_endpoint import exposition, serve_metrics
from picchu.metrics import OperatorMetrics, Twin
from picchu.testing.fleet import wait_for
from picchu.testing.prometheus import PrometheusServer, require_prometheus

OPENMETRICS = "application/openmetrics-text;version=1.0.0"


STATES = ("deployed", "canaried", "released")


def fleet_metrics(apps: int) -> OperatorMetrics:
    """The operator's registry with every per-app series a released app has, for `apps` apps."""
    metrics = OperatorMetrics.create()
    histograms = [value for value in vars(metrics).values() if isinstance(value, Twin)]
    for i in range(apps):
        app = f"app{i:04d}"
        for histogram in histograms:
            histogram.labels(app, "production").observe(30)
        for state in STATES:
            metrics.incarnation_count.labels(app, "production", state).set(1)
        metrics.reconcile_passes.labels("ReleaseManager").inc()
    return metrics


def steady(text: bytes) -> bytes:
    """Without the process and garbage-collector families, whose values change from one scrape to the next."""
    return b"".join(line for line in text.splitlines(keepends=True)
                    if not re.match(rb"(# [A-Z]+ )?(process_|python_gc_)", line))


@pytest.fixture(scope="module")
def endpoint() -> Iterator[tuple[str, OperatorMetrics]]:
    metrics = fleet_metrics(20)
    server = serve_metrics("127.0.0.1:0", metrics.registry)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", metrics
    finally:
        server.shutdown()
        server.server_close()


def scrape(url: str, **headers: str) -> tuple[str, str, bytes]:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as answer:
        return answer.headers["Content-Type"], answer.headers.get("Content-Encoding", ""), answer.read()


def test_the_text_format_is_byte_for_byte_what_prometheus_client_renders(endpoint) -> None:
    url, metrics = endpoint
    content_type, encoding, body = scrape(f"{url}/metrics")
    assert content_type.startswith("text/plain; version=0.0.4") and encoding == ""
    assert steady(body) == steady(generate_latest(metrics.registry))
    assert b"\nprocess_resident_memory_bytes " in body


def test_openmetrics_and_gzip_are_served_when_asked_for_with_one_end_marker(endpoint) -> None:
    url, metrics = endpoint
    content_type, encoding, body = scrape(f"{url}/metrics", Accept=OPENMETRICS, **{"Accept-Encoding": "gzip"})
    assert content_type.startswith("application/openmetrics-text") and encoding == "gzip"
    text = gzip.decompress(body)
    assert steady(text) == steady(generate_openmetrics(metrics.registry))
    assert text.count(b"# EOF") == 1 and text.endswith(b"# EOF\n")
    assert list(text_string_to_metric_families(text.decode()))  # a valid exposition (raises otherwise)


def test_name_selects_families_as_with_prometheus_client(endpoint) -> None:
    url, metrics = endpoint
    name = "picchu_incarnation_count"
    _, _, body = scrape(f"{url}/metrics?name[]={name}")
    assert body == generate_latest(metrics.registry.restricted_registry([name]))
    assert body.count(b"\npicchu_incarnation_count{") == 20 * len(STATES)


class FailingCollector(Collector):
    """One family, then an error: a collector that breaks halfway through a scrape."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily("picchu_before_the_failure", "sent before the error", value=1)
        raise RuntimeError("broken collector")


def test_a_collector_failing_halfway_makes_the_scrape_fail_instead_of_look_complete() -> None:
    registry = CollectorRegistry()
    registry.register(FailingCollector())
    server = serve_metrics("127.0.0.1:0", registry)
    try:
        with pytest.raises(http.client.IncompleteRead):
            scrape(f"http://127.0.0.1:{server.server_address[1]}/metrics")
    finally:
        server.shutdown()
        server.server_close()


def test_a_scrape_holds_one_family_at_a_time_not_the_whole_text() -> None:
    """At 500 apps a whole scrape is ~10 MB of text; rendered at once it raised the operator's RSS by ~35 MiB."""
    registry = fleet_metrics(100).registry

    def peak(scrape_once) -> int:
        tracemalloc.start()
        try:
            scrape_once()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    whole = len(generate_latest(registry))
    at_once = peak(lambda: generate_latest(registry))
    streamed = peak(lambda: sum(len(piece) for piece in exposition(registry, None)[1]))
    assert steady(b"".join(exposition(registry, None)[1])) == steady(generate_latest(registry))
    assert at_once > 2 * whole  # the lines, their join and its encoding
    assert streamed < at_once / 4


@pytest.mark.prometheus
def test_a_real_prometheus_scrapes_the_endpoint(endpoint) -> None:
    url, _ = endpoint
    require_prometheus()
    with PrometheusServer(scrape_targets=[url.removeprefix("http://")]) as prometheus:
        wait_for(lambda: prometheus.query('up{job="picchu-test"} == 1'), 120, message="a successful scrape")
        series = prometheus.query('picchu_incarnation_count{state="released"}')
        assert len(series) == 20
        assert {s["metric"]["app"] for s in series} == {f"app{i:04d}" for i in range(20)}
