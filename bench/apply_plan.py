"""Benchmark: render one app with 3 tags for 3 clusters and apply it; then re-apply it unchanged.

Prints, per pass, the requests the three API servers served by verb (from their own
`apiserver_request_total`, housekeeping excluded), the requests the client sent (which also shows the
discovery GETs the apiserver does not count as resource requests) and wall time; then the same passes for a
second app under tracemalloc for peak Python allocations (kept apart so tracing does not skew the times).

Passes:
  first     a fresh applier writes everything to empty clusters (discovery + writes + prune lists)
  unchanged the same applier, same plans: must send nothing
  restart   a new applier (an operator restart), same plans: re-sends every object once, changes nothing
  ramp      the same applier after one traffic step (weights 10/90 → 20/80): only routing objects change

Before measuring, every kind the plan can touch is listed once with kubectl: a freshly installed CRD makes
the apiserver's first LIST of it wait about a second for its watch cache, which a long-running cluster never
shows (pass `--cold` to skip the warm-up and see it).

Run: `.venv/bin/python bench/apply_plan.py [--cold]` (needs the local control plane binaries; ~1 minute).
The object set comes from `picchu.plans.render_cluster`.
"""

from __future__ import annotations

import collections
import resource
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from typing import Any

from picchu.api.v1alpha1 import load_revision
from picchu.clusters import Applier, ClientPool, ClusterConnection
from picchu.plans.inputs import (
    AppInput,
    ClusterInput,
    ConfigCopy,
    MonitoringInput,
    RouteRevision,
    RoutingInput,
    TagInput,
    TagScale,
)
from picchu.plans.plan import APP_NAMESPACE_KINDS, RenderedPlan, render_cluster
from picchu.testing import requests
from picchu.testing.builders import revision_manifest
from picchu.testing.controlplane import ControlPlane
from picchu.testing.fleet import cluster_manifests
from picchu.testing.upstream_crds import install_crd_documents, upstream_crd_documents

CLUSTERS = ("a", "b", "c")
SLO = {"name": "availability", "enabled": True, "objectivePercentString": "99.9",
       "serviceLevelIndicator": {"canary": {"enabled": True, "allowancePercent": 1, "failAfter": "1m"},
                                 "tagKey": "destination_workload", "alertAfter": "1m",
                                 "errorQuery": "sum(rate(errors[2m])) by (destination_workload)",
                                 "totalQuery": "sum(rate(total[2m])) by (destination_workload)"}}


def app_input(app: str, weights: tuple[int, int, int]) -> AppInput:
    """«app»/production with tags v3 (canary, ramping), v2 (released), v1 (retired): as a pass would decide."""
    committed = datetime(2026, 11, 1, tzinfo=UTC)
    targets = [load_revision(revision_manifest(app, f"v{i}", namespace="picchu", committed=committed,
                                               target={"serviceLevelObjectives": [SLO]})).spec.targets[0]
               for i in (3, 2, 1)]
    scales = (TagScale(replicas=1, min_replicas=1, max_replicas=4, cpu_target=50),
              TagScale(replicas=4, min_replicas=4, max_replicas=8, cpu_target=50),
              TagScale(replicas=0, autoscaled=False))
    tags = tuple(TagInput(tag=f"v{i}", image=f"registry.example/{app}:v{i}", target=target, scale=scale,
                          canary_rules=i == 3, configs=(ConfigCopy("ConfigMap", f"{app}-v{i}", {"level": "info"}),))
                 for i, target, scale in zip((3, 2, 1), targets, scales, strict=True))
    revisions = tuple(RouteRevision(f"v{i}", w, f"{app}-tag") for i, w in zip((3, 2, 1), weights, strict=True))
    return AppInput(app=app, target="production", fleet="production", tags=tags,
                    routing=RoutingInput.from_targets(tuple(targets[:2]), revisions),
                    monitoring=MonitoringInput(alertable_target=targets[1], releasable_target=targets[1]))


def cluster_input(name: str) -> ClusterInput:
    gateway = {"dnsName": "", "gateway": "private-gateway", "defaultDomains": ["example.internal"]}
    return ClusterInput(name=name, spec={"enabled": True, "scalingFactorString": "1.0", "ingresses": {
        "public": {**gateway, "gateway": "public-gateway"}, "private": gateway}})


def warm_up(plane: ControlPlane) -> None:
    kinds = ",".join(kind.lower() + (f".{api.split('/')[0]}" if "/" in api else "") for api, kind in APP_NAMESPACE_KINDS)
    for cluster in plane.clusters.values():
        cluster.kubectl("get", kinds, "--all-namespaces")


def count_client_requests(connections: list[ClusterConnection], tally: collections.Counter[str]) -> None:
    """Wrap each client's REST layer to count what picchu sends (discovery GETs included)."""
    for connection in connections:
        rest = connection.api.rest_client
        original = rest.request

        def request(method: str, url: str, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            path = url.split("?", 1)[0]
            discovery = method == "GET" and path.rstrip("/").count("/") <= 5 and "/namespaces/" not in path
            tally["discovery GET" if discovery else method] += 1
            return _original(method, url, *args, **kwargs)

        rest.request = request


def run_pass(label: str, applier: Applier, work: list[tuple[ClusterConnection, RenderedPlan]],
             counters: dict[str, requests.RequestCounter], client_tally: collections.Counter[str],
             traced: bool) -> None:
    before = {name: c.snapshot() for name, c in counters.items()}
    client_tally.clear()
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    results = applier.apply(work)
    elapsed = time.perf_counter() - started
    if traced:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"{label:<10} peak Python allocations during apply: {peak / 1024:6.0f} KiB")
        return
    served: collections.Counter[str] = collections.Counter()
    for name, counter in counters.items():
        served.update(requests.delta(before[name], counter.snapshot()).without(*requests.HOUSEKEEPING).by_verb())
    failed = [f"{n}: {f}" for n, r in results.items() for f in r.failed]
    summary = {k: sum(len(getattr(r, k)) for r in results.values()) for k in ("applied", "unchanged", "pruned")}
    print(f"{label:<10} wall {elapsed * 1000:8.1f} ms  objects {summary}")
    print(f"{'':<10} served by apiservers: {dict(sorted(served.items())) or '{} (none)'}")
    print(f"{'':<10} sent by client:       {dict(sorted(client_tally.items())) or '{} (none)'}")
    if failed:
        print(f"{'':<10} FAILED: {failed[:5]}")


def scenario(app: str, connections: list[ClusterConnection], counters: dict[str, requests.RequestCounter],
             client_tally: collections.Counter[str], *, traced: bool) -> None:
    started = time.perf_counter()
    plans = [(c, render_cluster(app_input(app, (10, 90, 0)), cluster_input(c.name))) for c in connections]
    render_ms = (time.perf_counter() - started) * 1000
    if not traced:
        print(f"render     {render_ms:.1f} ms for {len(CLUSTERS)} clusters, "
              f"{len(plans[0][1].objects)} objects and {len(plans[0][1].prune)} prune scopes per cluster")
    applier = Applier(timeout=60)
    run_pass("first", applier, plans, counters, client_tally, traced)
    run_pass("unchanged", applier, plans, counters, client_tally, traced)
    run_pass("restart", Applier(timeout=60), plans, counters, client_tally, traced)
    ramped = [(c, render_cluster(app_input(app, (20, 80, 0)), cluster_input(c.name))) for c in connections]
    run_pass("ramp", applier, ramped, counters, client_tally, traced)
    if not traced:
        changed = sum(a.manifest != b.manifest
                      for a, b in zip(plans[0][1].objects, ramped[0][1].objects, strict=True))
        print(f"{'':<10} ({changed} object per cluster differs after the ramp step)")


def main() -> int:
    with ControlPlane(CLUSTERS) as plane:
        documents = upstream_crd_documents()
        for cluster in plane.clusters.values():
            install_crd_documents(cluster, documents)
        if "--cold" not in sys.argv:
            warm_up(plane)
        pool = ClientPool(max_concurrency=4)
        connections = []
        for cluster in plane.clusters.values():
            cluster_obj, secret_obj = cluster_manifests(cluster, "production")
            connections.append(pool.connect(cluster_obj, secret_obj))
        client_tally: collections.Counter[str] = collections.Counter()
        count_client_requests(connections, client_tally)
        counters = {name: requests.RequestCounter(c) for name, c in plane.clusters.items()}
        scenario("echo", connections, counters, client_tally, traced=False)
        print("memory (same passes for a second app, under tracemalloc, so not timed):")
        scenario("memo", connections, counters, client_tally, traced=True)
        pool.close()
    print(f"process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
