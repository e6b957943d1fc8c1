"""The Grafana dashboard shipped in the chart queries only metrics and labels the operator really exports.

The operator's registry is filled with one sample per metric (through `OperatorMetrics.create()`, the same
constructor `picchu run` uses) and exposed in the Prometheus text format; every metric name and every label a
dashboard query uses must be among what that exposition contains. A renamed metric fails this test instead of
leaving an empty panel.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from picchu.metrics import LeanGauge, OperatorMetrics, Twin

DASHBOARD = Path(__file__).resolve().parents[2] / "charts" / "picchu" / "dashboards" / "picchu.json"
METRIC = re.compile(r"\b(picchu_[a-z0-9_]+)\b")
SELECTOR = re.compile(r"\b(picchu_[a-z0-9_]+)\{([^}]*)\}")
BY = re.compile(r"\bby \(([^)]*)\)")


def exported() -> dict[str, set[str]]:
    """Sample name → label names, as `/metrics` of the operator shows them."""
    metrics = OperatorMetrics.create()
    for collector in vars(metrics).values():
        if isinstance(collector, Twin):  # one series served under both of its names
            collector.labels(*["x"] * len(collector.labelnames)).observe(1)
        if isinstance(collector, LeanGauge):  # per-app gauges: one dict entry per label set
            collector.labels(*["x"] * len(collector.labelnames)).set(1)
        if not isinstance(collector, Counter | Gauge | Histogram):
            continue
        child = collector.labels(*["x"] * len(collector._labelnames))
        if isinstance(child, Counter):
            child.inc()
        elif isinstance(child, Gauge):
            child.set(1)
        else:
            child.observe(1)
    text = generate_latest(metrics.registry).decode()
    names: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names


def queries(dashboard: dict[str, Any]) -> list[str]:
    found = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    found += [v["query"] for v in dashboard["templating"]["list"] if v.get("type") == "query"]
    return found


def test_every_metric_the_dashboard_queries_is_exported_with_the_labels_it_uses() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    names = exported()
    exprs = queries(dashboard)
    assert len(exprs) >= 10
    used = {m for e in exprs for m in METRIC.findall(e)}
    assert used, "the dashboard queries picchu metrics"
    assert used <= set(names), f"not exported by the operator: {sorted(used - set(names))}"
    for expr in exprs:
        in_expr = set().union(*(names[m] for m in METRIC.findall(expr)))
        for metric, matchers in SELECTOR.findall(expr):
            labels = {m.split("=")[0].strip().rstrip("!~") for m in matchers.split(",") if m.strip()}
            assert labels <= names[metric], f"{expr}: {metric} has no label(s) {labels - names[metric]}"
        for group in BY.findall(expr):
            labels = {label.strip() for label in group.split(",")}
            assert labels <= in_expr, f"{expr}: no label(s) {labels - in_expr}"


def test_the_dashboard_shows_the_traffic_per_revision_and_failures() -> None:
    exprs = " ".join(queries(json.loads(DASHBOARD.read_text())))
    for metric in ("picchu_revision_release_weight", "picchu_revision_failed", "picchu_incarnation_count",
                   "picchu_revision_rollback_latency_bucket", "picchu_reconcile_errors_total"):
        assert metric in exprs
