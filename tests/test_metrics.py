"""What a Prometheus scrape of the operator shows: Picchu's names kept, the conventional names beside them,
no `_created` noise, build/process information, work-queue and per-cluster request series."""

from __future__ import annotations

import asyncio
import re

from prometheus_client import generate_latest

from picchu.handlers.workqueue import WorkQueue
from picchu.metrics import OperatorMetrics


def exposition(metrics: OperatorMetrics) -> str:
    return generate_latest(metrics.registry).decode()


def names(text: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", text, re.M)}


def test_picchus_histograms_are_kept_and_their_conventional_seconds_twins_are_served_beside_them() -> None:
    m = OperatorMetrics.create()
    m.picchu_git_create_latency.labels("echo", "production").observe(3300)
    m.release_manager_reconcile_interval.labels("echo", "production").observe(15)
    m.mirror_failures.labels("echo", "b").inc()
    found = names(exposition(m))
    for name in ("picchu_git_create_latency", "picchu_release_manager_reconcile_interval"):
        assert {f"{name}_count", f"{name}_seconds_count", f"{name}_seconds_bucket"} <= found
    assert "picchu_mirror_failures_total" in found


def test_no_created_series_and_build_and_process_information_are_served() -> None:
    m = OperatorMetrics.create()
    m.reconcile_errors.labels("Revision").inc()
    m.reconcile_duration.labels("Revision").observe(0.2)
    text = exposition(m)
    assert "_created" not in text
    found = names(text)
    assert {"picchu_build_info", "process_resident_memory_bytes", "process_cpu_seconds_total",
            "python_gc_objects_collected_total", "picchu_reconcile_duration_seconds_bucket"} <= found
    assert re.search(r'^picchu_build_info\{python_version="[\d.]+",version="[^"]+"\} 1\.0$', text, re.M)


def test_requests_to_target_clusters_are_counted_per_cluster_and_missing_answers_apart() -> None:
    m = OperatorMetrics.create()
    m.count_request("a", "PATCH", 200)
    m.count_request("a", "PATCH", 200)
    m.count_request("b", "GET", None)
    get = m.registry.get_sample_value
    assert get("picchu_cluster_requests_total", {"cluster": "a", "method": "PATCH", "code": "200"}) == 2
    assert get("picchu_cluster_request_errors_total", {"cluster": "b"}) == 1


def test_the_work_queue_exports_depth_adds_wait_work_duration_and_retries() -> None:
    m = OperatorMetrics.create()
    calls: list[str] = []

    def reconcile(key: object) -> float | None:
        calls.append(str(key))
        if key == "bad":
            raise RuntimeError("boom")
        return None

    queue = WorkQueue("revisions", reconcile, 2, base_backoff=60, metrics=m)

    async def main() -> None:
        task = asyncio.create_task(queue.run())
        queue.add("good")
        queue.add("bad")
        for _ in range(200):
            await asyncio.sleep(0.05)
            if len(calls) >= 2 and m.registry.get_sample_value("workqueue_retries_total", {"name": "revisions"}):
                break
        task.cancel()

    asyncio.run(main())
    get = m.registry.get_sample_value
    assert get("workqueue_adds_total", {"name": "revisions"}) == 3  # good, bad, and bad's back-off
    assert get("workqueue_retries_total", {"name": "revisions"}) == 1
    assert get("workqueue_depth", {"name": "revisions"}) == 1  # bad waits for its back-off
    assert get("workqueue_queue_duration_seconds_count", {"name": "revisions"}) == 2
    assert get("workqueue_work_duration_seconds_count", {"name": "revisions"}) == 2


def test_a_per_app_histogram_scrapes_exactly_like_two_prometheus_client_histograms() -> None:
    from prometheus_client import CollectorRegistry, Histogram

    from picchu.metrics import GIT_BUCKETS

    m = OperatorMetrics.create()
    reference = CollectorRegistry()
    expected = [Histogram(name, "Seconds from commit to revision seen", ["app", "target"], buckets=GIT_BUCKETS,
                          registry=reference) for name in ("picchu_git_create_latency",
                                                           "picchu_git_create_latency_seconds")]
    for app, value in (("echo", 120), ("echo", 121), ("web", 0.5), ("echo", 10**7), ("web", 360)):
        m.picchu_git_create_latency.labels(app, "production").observe(value)
        for histogram in expected:
            histogram.labels(app, "production").observe(value)

    def series(text: str) -> list[str]:
        return sorted(line for line in text.splitlines() if line.startswith("picchu_git_create_latency"))

    assert series(exposition(m)) == series(generate_latest(reference).decode())
    assert len(series(exposition(m))) == 2 * 2 * (len(GIT_BUCKETS) + 3)  # 2 names × 2 apps × (buckets+Inf+sum+count)


def test_per_app_gauges_scrape_exactly_like_prometheus_client_gauges_and_forget_removed_series() -> None:
    from prometheus_client import CollectorRegistry, Gauge

    m = OperatorMetrics.create()
    reference = CollectorRegistry()
    expected = Gauge("picchu_revision_release_weight", "Traffic weight of a revision", ["app", "target", "tag"],
                     registry=reference)
    for tag, weight in (("v1", 90), ("v2", 10), ("v1", 40), ("v2", 60), ("v3", 0)):
        m.revision_release_weight.labels("echo", "production", tag).set(weight)
        expected.labels("echo", "production", tag).set(weight)
    m.revision_release_weight.remove("echo", "production", "v3")
    expected.remove("echo", "production", "v3")
    m.revision_release_weight.remove("echo", "production", "never-there")  # tolerated: nothing to forget

    def series(text: str) -> list[str]:
        return sorted(line for line in text.splitlines() if line.startswith("picchu_revision_release_weight"))

    assert series(exposition(m)) == series(generate_latest(reference).decode())
    assert 'picchu_revision_release_weight{app="echo",tag="v2",target="production"} 60.0' in exposition(m)
    assert "v3" not in exposition(m)
