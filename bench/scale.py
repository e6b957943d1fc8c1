"""Benchmark: many apps × 3 target clusters, the real operator process (`picchu run`), on this machine.

For each number of apps (`--apps 100,250,500`, added to the same fleet and the same operator process, so the
numbers are what one operator does as the fleet grows), once every app is released and idle:

  reads/writes  requests per sync period served by the delivery apiserver and by the three target apiservers
                (GET+LIST; WATCH left out: the apiserver counts a watch when it ends, and watches are the point),
                housekeeping excluded; the bench's own ReplicaSet stand-in is paused during the window
  due → start   distribution of the time from a key's due requeue to its pass start
                (`workqueue_queue_duration_seconds`, ReleaseManager and Revision queues; bucket upper bounds)
  passes        ReleaseManager passes per period (each app should get at least one)
  CPU           operator CPU seconds per period (utime+stime of the process)
  RSS           operator resident memory
  reaction      `kubectl apply` of a new Revision of an idle app → its ReplicaSet exists in all three targets,
                timed from kubectl's start (what a user waits) and from its return (the Revision stored: what the
                operator takes; the difference is kubectl's own start, discovery, validation and request)
  rollback      an SLO alert of a tag serving 10 % fires in Prometheus (the alert's `activeAt`, a real Prometheus
                evaluating every second) → that tag at 0 % in all three targets' VirtualServices (`--alerts N` apps
                per size; needs the Debian `prometheus` package)

`--heap-breakdown` also reads, inside the operator after each measurement, where its memory is: pymalloc's and
glibc's live and free bytes, resident memory by mapping, objects by type (`bench/heap_probe/`).

`--soak SECONDS` then samples RSS every `--soak-every` seconds at the largest size. Writes `--plot`
(pass latency, CPU and RSS against apps) and, with a soak, the RSS curve beside it; prints a Markdown table.
Nothing is asserted: these are figures to read with the machine's load, which is printed too.

Run: `.venv/bin/python bench/scale.py --apps 100,250,500` (needs the local control plane binaries).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

from picchu import keys
from picchu.testing import requests
from picchu.testing.builders import revision_manifest
from picchu.testing.controlplane import ControlPlane, ensure_binaries
from picchu.testing.fleet import OperatorProcess, cluster_manifests, ensure_namespace, kubectl_apply, wait_for
from picchu.testing.prometheus import SloAlerts
from picchu.testing.replicaset_controller import ReplicaSetReadiness
from picchu.testing.upstream_crds import install_crds_from_dir, install_upstream_crds

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ("a", "b", "c")
NS = "picchu"
ONE_STEP = {"eligible": True, "schedule": "always", "scalingStrategy": "linear",
            "linearScaling": {"increment": 100, "delay": "1s"}}
SETTLED = {"released", "retired", "deleted", "failed"}


@dataclass
class SizeResult:
    apps: int
    period: float
    load: float
    delivery_reads: float
    delivery_writes: float
    target_reads: float
    target_writes: float
    rm_passes: float
    revision_passes: float
    cpu_seconds: float
    rss_mib: float
    rss_peak_mib: float = 0.0  # the process's highest RSS so far: the burst and the window's two scrapes
    latency: dict[str, dict[str, float]] = field(default_factory=dict)
    reaction_p50: float | None = None
    reaction_max: float | None = None
    reaction_stored_p50: float | None = None  # from kubectl's return
    reaction_stored_max: float | None = None
    rollback_p50: float | None = None
    rollback_p95: float | None = None
    rollback_max: float | None = None
    reads_by_resource: dict[str, dict[str, int]] = field(default_factory=dict)
    queue_adds: dict[str, float] = field(default_factory=dict)
    heap: str = ""  # with --heap-breakdown: the operator's own report, read right after the window


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apps", default="100,250,500", help="comma-separated app counts, ascending")
    parser.add_argument("--period", type=float, default=15.0, help="the operator's --sync-period-seconds")
    parser.add_argument("--window-periods", type=int, default=2, help="sync periods per measurement window")
    parser.add_argument("--reactions", type=int, default=5, help="new Revisions timed per size")
    parser.add_argument("--alerts", type=int, default=5, help="rollbacks timed per size (0: no Prometheus)")
    parser.add_argument("--soak", type=float, default=0.0, help="seconds of RSS sampling at the largest size")
    parser.add_argument("--soak-every", type=float, default=60.0)
    parser.add_argument("--plot", type=Path, default=ROOT / "bench" / "scale.png")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    parser.add_argument("--heap-breakdown", action="store_true",
                        help="after each measurement, print where the operator's memory is (bench/heap_probe)")
    parser.add_argument("--operator-arg", action="append", default=[], help="extra `picchu run` argument")
    args = parser.parse_args()
    sizes = sorted(int(n) for n in args.apps.split(","))

    workdir = Path(tempfile.mkdtemp(prefix="picchu-scale-"))
    plane = ControlPlane(("delivery", *TARGETS), workdir=workdir, binaries=ensure_binaries())
    results: list[SizeResult] = []
    soak: list[tuple[float, float]] = []
    alerts = SloAlerts(alert="bench_availability").start() if args.alerts > 0 else None
    alert_args = ("--prometheus-query-address", alerts.url, "--prometheus-query-ttl", "1") if alerts else ()
    with plane:
        delivery = plane.clusters["delivery"]
        for name in plane.clusters:
            install_upstream_crds(plane.clusters[name])
        install_crds_from_dir(delivery, ROOT / "config" / "crd")
        ensure_namespace(delivery, NS)
        kubectl_apply(delivery, [m for n in TARGETS for m in cluster_manifests(plane.clusters[n], "production")])
        kubelets = [ReplicaSetReadiness(plane.clusters[n].api_client(), delay_seconds=0).start() for n in TARGETS]
        probe = _heap_probe_env(workdir / "heap.txt") if args.heap_breakdown else {}
        operator = OperatorProcess(delivery.kubeconfig_path, namespace=NS, log_path=workdir / "operator.log",
                                   env=probe, args=("--sync-period-seconds", f"{args.period:g}", *alert_args,
                                         *args.operator_arg)).start()
        print(f"operator log: {workdir / 'operator.log'}", flush=True)
        fleet = Fleet(plane, operator, kubelets)
        try:
            wait_for(lambda: _ready(operator), 120, message="operator ready")
            for size in sizes:
                fleet.grow(size)
                results.append(fleet.measure(size, args.period, args.window_periods))
                if probe:
                    results[-1].heap = _heap_report(operator, Path(probe["PICCHU_HEAP_REPORT"]))
                fleet.react(results[-1], args.reactions)
                if alerts is not None:
                    fleet.roll_back(results[-1], args.alerts, alerts)
                print_result(results[-1], flush=True)
                plot(results, [], args.plot)  # after every size: an interrupted run still leaves its figures
                if args.json:
                    args.json.write_text(json.dumps({"sizes": [asdict(r) for r in results]}, indent=1))
            if args.soak > 0:
                soak = fleet.soak(args.soak, args.soak_every)
        finally:
            operator.stop()
            for kubelet in kubelets:
                kubelet.stop()
            if alerts is not None:
                alerts.stop()
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps({"sizes": [asdict(r) for r in results], "soak": soak}, indent=1))
    plot(results, soak, args.plot)


class Fleet:
    """The apps created so far, and the measurements taken on them."""

    def __init__(self, plane: ControlPlane, operator: OperatorProcess, kubelets: list[ReplicaSetReadiness]) -> None:
        self.plane, self.operator, self.kubelets = plane, operator, kubelets
        self.delivery = plane.clusters["delivery"]
        self.custom = client.CustomObjectsApi(self.delivery.api_client())
        self.apps: list[str] = []
        self.tags: dict[str, int] = {}
        self.start = datetime.now(UTC) - timedelta(hours=1)
        self.counters = {n: requests.RequestCounter(plane.clusters[n]) for n in plane.clusters}

    def grow(self, size: int) -> None:
        new = [f"app{i:04d}" for i in range(len(self.apps), size)]
        for i in range(0, len(new), 50):
            # 50 creations during a burst the operator is busy writing: once took over kubectl's usual 120 s
            kubectl_apply(self.delivery, [revision_manifest(a, "v1", namespace=NS, committed=self.start,
                                                            target={"release": ONE_STEP}) for a in new[i:i + 50]],
                          timeout=900)
        self.apps += new
        self.tags.update(dict.fromkeys(new, 1))
        began = time.monotonic()
        wait_for(lambda: self._settled(), 3600, interval=5, message=f"{size} apps released")
        print(f"{size} apps released and idle after {time.monotonic() - began:.0f} s", flush=True)

    def _settled(self) -> bool:
        rms = self.custom.list_namespaced_custom_object(keys.GROUP, keys.VERSION, NS, "releasemanagers")["items"]
        done = 0
        for rm in rms:
            states = [e["state"]["current"] for e in (rm.get("status") or {}).get("revisions") or []]
            if states and "released" in states and set(states) <= SETTLED:
                done += 1
        return done >= len(self.apps)

    def measure(self, size: int, period: float, periods: int) -> SizeResult:
        time.sleep(period)  # the last status writes of the rollout land in this period
        for kubelet in self.kubelets:
            kubelet.hold()
        try:
            # Scraping four apiservers takes seconds on a loaded machine: each side of the window is timed
            # and figures are divided by the periods that really elapsed between its own two readings.
            snap0, t_snap0 = self._snapshots(), time.monotonic()
            metrics0, cpu0, t0 = _metrics(self.operator), self.operator.cpu_seconds(), time.monotonic()
            time.sleep(period * periods)
            metrics1, cpu1, t1 = _metrics(self.operator), self.operator.cpu_seconds(), time.monotonic()
            snap1, t_snap1 = self._snapshots(), time.monotonic()
        finally:
            for kubelet in self.kubelets:
                kubelet.release()
        periods_operator = (t1 - t0) / period
        periods_requests = (t_snap1 - t_snap0) / period
        change = {n: requests.delta(snap0[n], snap1[n]).without(*requests.HOUSEKEEPING) for n in snap0}
        reads = {n: sum(change[n].by_resource(verbs=("GET", "LIST")).values()) for n in change}
        writes = {n: change[n].writes() for n in change}
        latency = {queue: _quantiles(metrics0, metrics1, queue) for queue in ("releasemanagers", "revisions")}
        adds = {q: (_labelled(metrics1, "workqueue_adds", q) - _labelled(metrics0, "workqueue_adds", q))
                / periods_operator
                for q in ("releasemanagers", "revisions", "clusters")}
        by_resource = {n: change[n].by_resource(verbs=("GET", "LIST")) for n in change}
        passes = {kind: _counter(metrics1, "picchu_reconcile_passes", kind) -
                  _counter(metrics0, "picchu_reconcile_passes", kind) for kind in ("ReleaseManager", "Revision")}
        return SizeResult(
            apps=size, period=period, load=os.getloadavg()[0],
            delivery_reads=reads["delivery"] / periods_requests,
            delivery_writes=writes["delivery"] / periods_requests,
            target_reads=sum(reads[n] for n in TARGETS) / periods_requests,
            target_writes=sum(writes[n] for n in TARGETS) / periods_requests,
            rm_passes=passes["ReleaseManager"] / periods_operator,
            revision_passes=passes["Revision"] / periods_operator,
            cpu_seconds=(cpu1 - cpu0) / periods_operator, rss_mib=self.operator.rss_bytes() / 2**20,
            rss_peak_mib=self.operator.peak_rss_bytes() / 2**20, latency=latency,
            reads_by_resource=by_resource, queue_adds=adds)

    def react(self, result: SizeResult, count: int) -> None:
        """Time `kubectl apply` of a new tag of `count` idle apps until its ReplicaSet exists in every target."""
        apis = [client.AppsV1Api(self.plane.clusters[n].api_client()) for n in TARGETS]
        times, stored = [], []
        for app in self.apps[:count]:
            self.tags[app] += 1
            tag = f"v{self.tags[app]}"
            manifest = revision_manifest(app, tag, namespace=NS, target={"release": ONE_STEP},
                                         committed=self.start + timedelta(minutes=self.tags[app]))
            began = time.monotonic()
            kubectl_apply(self.delivery, [manifest])
            returned = time.monotonic()
            wait_for(lambda a=app, t=tag: all(_exists(api, f"{a}-production", t) for api in apis), 120,
                     interval=0.02, message=f"{app} {tag} ReplicaSets in every target")
            times.append(time.monotonic() - began)
            stored.append(times[-1] - (returned - began))
        if times:
            times.sort()
            stored.sort()
            result.reaction_p50, result.reaction_max = times[len(times) // 2], times[-1]
            result.reaction_stored_p50, result.reaction_stored_max = stored[len(stored) // 2], stored[-1]
        wait_for(lambda: self._settled(), 600, interval=5, message="reaction apps released")

    def roll_back(self, result: SizeResult, count: int, alerts: SloAlerts) -> None:
        """Time `count` rollbacks: a new tag of an idle app takes 10 % (steps 20 s apart), its SLO alert fires
        as soon as every target routes to it, and the clock runs from the alert's `activeAt` in Prometheus until
        every target's VirtualService gives the tag 0 %."""
        apis = [client.CustomObjectsApi(self.plane.clusters[n].api_client()) for n in TARGETS]
        hold = {"eligible": True, "schedule": "always", "scalingStrategy": "linear",
                "linearScaling": {"increment": 10, "delay": "20s"}}
        times = []
        for app in self.apps[-count:]:
            self.tags[app] += 1
            tag = f"v{self.tags[app]}"
            kubectl_apply(self.delivery, [revision_manifest(app, tag, namespace=NS, target={"release": hold},
                                                            committed=self.start + timedelta(minutes=self.tags[app]))])
            wait_for(lambda a=app, t=tag: all(_weight(api, a, t) > 0 for api in apis), 300, interval=0.2,
                     message=f"{app} {tag} serving in every target")
            alerts.fire(app, tag, wait=False)
            wait_for(lambda a=app, t=tag: all(_weight(api, a, t) == 0 for api in apis), 300, interval=0.02,
                     message=f"{app} {tag} rolled back in every target")
            done = time.time()
            times.append(done - _active_at(alerts, app, tag))
            alerts.clear(app, tag, wait=False)
        if times:
            times.sort()
            result.rollback_p50, result.rollback_max = times[len(times) // 2], times[-1]
            result.rollback_p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
        wait_for(lambda: self._settled(), 600, interval=5, message="rolled-back apps settled")

    def soak(self, seconds: float, every: float) -> list[tuple[float, float]]:
        began, samples = time.monotonic(), []
        while True:
            elapsed = time.monotonic() - began
            samples.append((elapsed, self.operator.rss_bytes() / 2**20))
            print(f"soak {elapsed:6.0f} s  RSS {samples[-1][1]:.0f} MiB", flush=True)
            if elapsed >= seconds:
                return samples
            time.sleep(min(every, max(0.0, seconds - elapsed)))

    def _snapshots(self) -> dict[str, requests.RequestCounts]:
        return {n: c.snapshot() for n, c in self.counters.items()}


def _heap_probe_env(report: Path) -> dict[str, str]:
    """The operator's environment for `bench/heap_probe`: its `sitecustomize` first on the path."""
    path = [str(ROOT / "bench" / "heap_probe"), *filter(None, [os.environ.get("PYTHONPATH", "")])]
    return {"PYTHONPATH": os.pathsep.join(path), "PICCHU_HEAP_REPORT": str(report)}


def _heap_report(operator: OperatorProcess, report: Path) -> str:
    """Ask the running operator for its heap report (SIGUSR2) and return it; a busy operator may take seconds."""
    report.unlink(missing_ok=True)
    operator.send_signal(signal.SIGUSR2)
    wait_for(report.exists, 120, interval=0.5, message="the operator's heap report")
    return report.read_text()


def _ready(operator: OperatorProcess) -> bool:
    try:
        with urllib.request.urlopen(f"{operator.health_url}/readyz", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def _exists(api: client.AppsV1Api, namespace: str, name: str) -> bool:
    try:
        api.read_namespaced_replica_set(name, namespace)
    except client.ApiException:
        return False
    return True


def _weight(api: client.CustomObjectsApi, app: str, tag: str) -> int:
    """`tag`'s weight in the app's release route of one target's VirtualService (0 when absent)."""
    try:
        vs = api.get_namespaced_custom_object("networking.istio.io", "v1alpha3", f"{app}-production",
                                              "virtualservices", app)
    except client.ApiException:
        return 0
    for route in vs.get("spec", {}).get("http", []):  # type: ignore[union-attr]
        if route.get("name") == "01_release-http":
            return sum(d.get("weight", 0) for d in route.get("route", []) if d["destination"]["subset"] == tag)
    return 0


def _active_at(alerts: SloAlerts, app: str, tag: str) -> float:
    """When Prometheus started firing the alert of `app`/`tag` (its rule has no `for`), as a Unix time."""
    assert alerts.server is not None
    with urllib.request.urlopen(f"{alerts.server.url}/api/v1/alerts", timeout=10) as answer:
        found = json.loads(answer.read())["data"]["alerts"]
    stamps = [a["activeAt"] for a in found if a["labels"].get("app") == app and a["labels"].get("tag") == tag]
    assert stamps, f"no alert for {app} {tag} in Prometheus"
    return datetime.fromisoformat(stamps[0].replace("Z", "+00:00")).timestamp()


def _metrics(operator: OperatorProcess) -> list[Any]:
    """The operator's metrics; a busy operator on a loaded machine may take long to answer (a 10 s timeout
    once lost a 250-app measurement), so wait up to a minute, three times."""
    for attempt in range(3):
        try:
            with urllib.request.urlopen(operator.metrics_url, timeout=60) as answer:
                return list(text_string_to_metric_families(answer.read().decode()))
        except OSError:
            if attempt == 2:
                raise
    return []


def _counter(families: list[Any], name: str, kind: str) -> float:
    return sum(s.value for f in families if f.name == name for s in f.samples
               if s.name.endswith("_total") and s.labels.get("kind") == kind)


def _labelled(families: list[Any], name: str, queue: str) -> float:
    return sum(s.value for f in families if f.name == name for s in f.samples
               if s.name.endswith("_total") and s.labels.get("name") == queue)


def _buckets(families: list[Any], queue: str) -> dict[float, float]:
    return {float(s.labels["le"]): s.value for f in families if f.name == "workqueue_queue_duration_seconds"
            for s in f.samples if s.name.endswith("_bucket") and s.labels.get("name") == queue}


def _quantiles(before: list[Any], after: list[Any], queue: str) -> dict[str, float]:
    """p50/p95/p99/max of the window as bucket upper bounds (seconds); `n` observations."""
    b0, b1 = _buckets(before, queue), _buckets(after, queue)
    cumulative = sorted((le, b1[le] - b0.get(le, 0.0)) for le in b1)
    total = cumulative[-1][1] if cumulative else 0.0
    out = {"n": total}
    for label, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0)):
        out[label] = next((le for le, count in cumulative if total and count >= q * total), float("nan"))
    return out


def print_result(r: SizeResult, flush: bool = False) -> None:
    rm, rev = r.latency["releasemanagers"], r.latency["revisions"]
    reaction = (f"{r.reaction_p50:.2f} s p50 (max {r.reaction_max:.2f} s), from kubectl's return "
                f"{r.reaction_stored_p50:.2f} s p50 (max {r.reaction_stored_max:.2f} s)"
                if r.reaction_p50 is not None and r.reaction_stored_p50 is not None else "-")
    rollback = (f"{r.rollback_p50:.2f} s p50, {r.rollback_p95:.2f} s p95 (max {r.rollback_max:.2f} s)"
                if r.rollback_p50 is not None and r.rollback_p95 is not None else "-")
    print(f"{r.apps} apps (load {r.load:.1f}): per {r.period:g} s period: delivery reads {r.delivery_reads:.1f} "
          f"writes {r.delivery_writes:.1f}; target reads {r.target_reads:.1f} writes {r.target_writes:.1f}; "
          f"passes RM {r.rm_passes:.0f} Revision {r.revision_passes:.0f}; CPU {r.cpu_seconds:.2f} s; "
          f"RSS {r.rss_mib:.0f} MiB (peak so far {r.rss_peak_mib:.0f})\n    due→start RM p50 ≤{rm['p50']:g} p95 ≤{rm['p95']:g} max ≤{rm['max']:g} s; "
          f"Revision p50 ≤{rev['p50']:g} p95 ≤{rev['p95']:g} max ≤{rev['max']:g} s; new Revision → ReplicaSets "
          f"in 3 targets {reaction}; alert firing → tag at 0 % in 3 targets {rollback}\n    reads in the window by resource: {r.reads_by_resource}; "
          f"queue adds per period: {r.queue_adds}", flush=flush)
    if r.heap:
        print(f"    the operator's heap right after the window:\n{r.heap}", flush=flush)


def print_table(results: list[SizeResult]) -> None:
    print("\n| apps | load | delivery reads / writes per period | target reads / writes per period | RM passes "
          "per period | due→start p50 / p95 / max (s) | CPU-s per period | RSS (peak so far) MiB | new Revision → RS p50 (s), from kubectl's start / return | "
          "alert → 0 % p50 / p95 (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        rm = r.latency["releasemanagers"]
        reaction = (f"{r.reaction_p50:.2f} / {r.reaction_stored_p50:.2f}"
                    if r.reaction_p50 is not None and r.reaction_stored_p50 is not None else "-")
        rollback = (f"{r.rollback_p50:.2f} / {r.rollback_p95:.2f}"
                    if r.rollback_p50 is not None and r.rollback_p95 is not None else "-")
        print(f"| {r.apps} | {r.load:.1f} | {r.delivery_reads:.1f} / {r.delivery_writes:.1f} | "
              f"{r.target_reads:.1f} / {r.target_writes:.1f} | {r.rm_passes:.0f} | "
              f"≤{rm['p50']:g} / ≤{rm['p95']:g} / ≤{rm['max']:g} | {r.cpu_seconds:.2f} | {r.rss_mib:.0f} ({r.rss_peak_mib:.0f}) | {reaction} | "
              f"{rollback} |")


def plot(results: list[SizeResult], soak: list[tuple[float, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not results:
        return
    apps = [r.apps for r in results]
    panels = 4 if soak else 3
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 3.6))
    ax = axes[0]
    for q, style in (("p50", "o-"), ("p95", "s--"), ("max", "^:")):
        ax.plot(apps, [r.latency["releasemanagers"][q] for r in results], style, label=f"{q} (bucket bound)")
    ax.set(title="due requeue → pass start", xlabel="apps × 3 clusters", ylabel="seconds")
    ax.legend(fontsize=8)
    axes[1].plot(apps, [r.cpu_seconds for r in results], "o-")
    axes[1].axhline(results[0].period * 2, color="grey", linestyle=":", label="2 cores")
    axes[1].set(title="operator CPU per sync period", xlabel="apps × 3 clusters", ylabel="CPU seconds")
    axes[1].legend(fontsize=8)
    axes[2].plot(apps, [r.rss_mib for r in results], "o-")
    axes[2].set(title="operator RSS", xlabel="apps × 3 clusters", ylabel="MiB", ylim=(0, None))
    if soak:
        axes[3].plot([t / 60 for t, _ in soak], [m for _, m in soak], ".-")
        axes[3].set(title=f"RSS soak at {apps[-1]} apps", xlabel="minutes", ylabel="MiB", ylim=(0, None))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
