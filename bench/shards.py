"""Benchmark: N apps split over 1, 2 and 4 `picchu run --shards` processes on the local apiservers (issue 16).

For each process count, a fresh delivery namespace gets N apps (one Revision each, fleet of one target
cluster); the shard processes run with a sync period P. Once every app is released, the steady state is
watched for a window: per app, the mean interval between its ReleaseManager passes (scraped from
`picchu_release_manager_reconcile_interval_seconds` of every process) against P, and from the delivery
apiserver's audit log, how many apps were written by more than one shard (must be 0); and each process's CPU
seconds per period and RSS over the window.

Run: `.venv/bin/python bench/shards.py [--apps 2000] [--processes 1,2,4] [--period 15] [--window 120]`
(local control plane binaries; the default of 2,000 apps needs far more than a loaded 2-core machine).
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

from picchu import keys
from picchu.testing import audit
from picchu.testing.builders import revision_manifest
from picchu.testing.controlplane import ControlPlane, ensure_binaries
from picchu.testing.fleet import OperatorProcess, cluster_manifests, ensure_namespace, kubectl_apply, wait_for
from picchu.testing.hostile import create_all
from picchu.testing.replicaset_controller import ReplicaSetReadiness
from picchu.testing.upstream_crds import install_crds_from_dir, install_upstream_crds

ROOT = Path(__file__).resolve().parent.parent
AGENT = re.compile(r"picchu/shard-(\d+)-of-(\d+)/pid-(\d+)")


def intervals(operators: list[OperatorProcess]) -> dict[str, tuple[float, int]]:
    """App → (sum of seconds between passes, number of intervals), over every process."""
    found: dict[str, list[float]] = {}
    for operator in operators:
        with urllib.request.urlopen(operator.metrics_url, timeout=30) as response:
            text = response.read().decode()
        for family in text_string_to_metric_families(text):
            if family.name != "picchu_release_manager_reconcile_interval_seconds":
                continue
            for sample in family.samples:
                entry = found.setdefault(sample.labels["app"], [0.0, 0.0])
                if sample.name.endswith("_sum"):
                    entry[0] += sample.value
                elif sample.name.endswith("_count"):
                    entry[1] += sample.value
    return {app: (s, int(c)) for app, (s, c) in found.items()}


def released_count(api: client.ApiClient, namespace: str) -> int:
    items = client.CustomObjectsApi(api).list_namespaced_custom_object(
        keys.GROUP, keys.VERSION, namespace, "releasemanagers", _request_timeout=120)["items"]
    return sum(1 for rm in items for e in (rm.get("status") or {}).get("revisions") or []
               if e["state"]["current"] == "released")


def run(plane: ControlPlane, processes: int, apps: int, period: float, window: float, timeout: float) -> None:
    delivery, target = plane.clusters["delivery"], plane.clusters["a"]
    namespace = f"shards-{processes}"
    ensure_namespace(delivery, namespace)
    kubectl_apply(delivery, cluster_manifests(target, "production", namespace=namespace))
    api = delivery.api_client()
    start = datetime.now(UTC) - timedelta(hours=1)
    names = [f"s{processes}app{n}" for n in range(apps)]
    t0 = time.monotonic()
    create_all(api, [revision_manifest(a, "v1", namespace=namespace, committed=start) for a in names], workers=4)
    print(f"[{processes} processes] created {apps} Revisions in {time.monotonic() - t0:.0f}s", flush=True)
    audit_from = delivery.audit_log_path.stat().st_size if delivery.audit_log_path.exists() else 0
    operators = [OperatorProcess(delivery.kubeconfig_path, namespace=namespace, args=(
        "--sync-period-seconds", str(period), "--shards", str(processes), "--shard-index", str(i),
        "--enable-leader-election", "--log-level", "WARNING")).start() for i in range(processes)]
    try:
        t0 = time.monotonic()
        try:
            wait_for(lambda: released_count(api, namespace) >= apps, timeout, interval=5,
                     message=f"{apps} apps released")
        except AssertionError as error:
            print(f"[{processes} processes] {error}", flush=True)
        print(f"[{processes} processes] {released_count(api, namespace)}/{apps} released after "
              f"{time.monotonic() - t0:.0f}s", flush=True)
        before, cpu0, t_window = intervals(operators), [o.cpu_seconds() for o in operators], time.monotonic()
        time.sleep(window)
        after, cpu1 = intervals(operators), [o.cpu_seconds() for o in operators]
        periods = (time.monotonic() - t_window) / period
        print(f"[{processes} processes] per process: CPU-s per {period:g}s period "
              f"{', '.join(f'{(b - a) / periods:.2f}' for a, b in zip(cpu0, cpu1, strict=True))}; RSS MiB "
              f"{', '.join(f'{o.rss_bytes() / 2**20:.0f}' for o in operators)}", flush=True)
        means = []
        for app in names:
            s0, c0 = before.get(app, (0.0, 0))
            s1, c1 = after.get(app, (0.0, 0))
            if c1 > c0:
                means.append((s1 - s0) / (c1 - c0))
        starved = apps - len(means)
        requests, _ = audit.read_requests(delivery.audit_log_path, audit_from)
        writers: dict[str, set[int]] = {}
        for r in requests:
            match = AGENT.search(r.user_agent)
            if match and r.verb in ("create", "update", "patch", "delete") and r.namespace == namespace \
                    and r.resource.startswith("releasemanagers"):
                writers.setdefault(r.name.removesuffix("-production"), set()).add(int(match[1]))
        shared = sum(1 for w in writers.values() if len(w) > 1)
        if means:
            means.sort()
            p95 = means[int(len(means) * 0.95) - 1] if len(means) >= 20 else means[-1]
            print(f"[{processes} processes] pass interval per app over {window:.0f}s: mean "
                  f"{statistics.mean(means):.1f}s, p95 {p95:.1f}s, max {means[-1]:.1f}s (period {period:g}s); "
                  f"{starved} apps without a pass in the window; {shared} apps written by more than one shard",
                  flush=True)
        else:
            print(f"[{processes} processes] no app got two passes in the window; {shared} apps shared", flush=True)
    finally:
        for operator in operators:
            operator.stop()
        api.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--apps", type=int, default=2000)
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument("--period", type=float, default=15)
    parser.add_argument("--window", type=float, default=120)
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    plane = ControlPlane(("delivery", "a"), workdir=Path(tempfile.mkdtemp(prefix="picchu-shards-")),
                         binaries=ensure_binaries())
    with plane:
        for cluster in plane.clusters.values():
            install_upstream_crds(cluster)
        install_crds_from_dir(plane.clusters["delivery"], ROOT / "config" / "crd")
        # The ReplicaSet stand-in, not the cluster machinery: this bench measures the operator alone, and the
        # machinery's own CPU would blur the numbers on 2 cores.
        readiness = ReplicaSetReadiness(plane.clusters["a"].api_client(), delay_seconds=1.0).start()
        try:
            for processes in (int(p) for p in args.processes.split(",")):
                run(plane, processes, args.apps, args.period, args.window, args.timeout)
        finally:
            readiness.stop()


if __name__ == "__main__":
    main()
