"""Benchmark: an idle fleet's drift reads per sync period, against the number of apps, under the drift budget.

Why a separate bench: the applier reads each written object back after ``--drift-check-after`` (15 min) and
lists each prune scope again after four times that, and under the default budget (`--drift-reads-per-second
5`) a fleet of 500 apps is checked about once an hour. Seeing the steady state in `bench/scale.py` would take
hours of real time, so this bench drives the real `Applier` on a simulated clock instead (the budget on the
same clock) against the real local apiservers: every app is written once (1 released tag per app, as
`bench/scale.py`; `picchu.plans.render_cluster` for three target clusters), then, second by simulated second,
a fifteenth of the apps get their pass (each app one pass per 15 s period, as in the operator) for
``--lifetimes`` times the objects' trust period (by default 1.25: the first wave of checks, the most bunched,
since every app was written at once; prune scopes are trusted four times as long, so their re-listing is in
the run only when the trust period is not stretched). Every read and write is real, counted as the client sends it.

Prints per size: reads (GET/LIST) per period, the mean from the first check on and the max, writes (should be 0), how long the
objects were trusted, the age of the oldest memory at the end (the longest any object has gone without a
check), and wall time. `--budget 0` runs
without a budget (today's fixed 15 min / 1 h, for comparison).

Run: `.venv/bin/python bench/drift_reads.py [--apps 100,500,1000] [--budget 5] [--lifetimes 1.25]`.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
import time
from datetime import UTC, datetime
from typing import Any

from apply_plan import CLUSTERS, SLO, cluster_input, count_client_requests, warm_up

from picchu.api.v1alpha1 import load_revision
from picchu.clusters import Applier, ClientPool, ClusterConnection, ClusterPlan
from picchu.clusters import applier as applier_module
from picchu.clusters.drift_budget import DriftBudget
from picchu.plans.inputs import AppInput, MonitoringInput, RouteRevision, RoutingInput, TagInput, TagScale
from picchu.plans.plan import render_cluster
from picchu.testing.builders import revision_manifest
from picchu.testing.controlplane import ControlPlane
from picchu.testing.fleet import cluster_manifests
from picchu.testing.upstream_crds import install_crd_documents, upstream_crd_documents

PERIOD = 15
REMEMBER_FOR = 900.0  # the operator's default --drift-check-after


def released_app(app: str) -> AppInput:
    """«app»/production with one tag serving 100 %, as `bench/scale.py` leaves each app once released."""
    target = load_revision(revision_manifest(app, "v1", namespace="picchu", committed=datetime(2026, 11, 1, tzinfo=UTC),
                                             target={"serviceLevelObjectives": [SLO]})).spec.targets[0]
    tag = TagInput(tag="v1", image=f"registry.example/{app}:v1", target=target,
                   scale=TagScale(replicas=2, min_replicas=2, max_replicas=4, cpu_target=50))
    return AppInput(app=app, target="production", fleet="production", tags=(tag,),
                    routing=RoutingInput.from_targets((target,), (RouteRevision("v1", 100, f"{app}-tag"),)),
                    monitoring=MonitoringInput(alertable_target=target, releasable_target=target))


def run_size(size: int, prefix: str, budget_per_second: float, lifetimes: float,
             connections: list[ClusterConnection], tally: collections.Counter[str]) -> dict[str, Any]:
    now = [0.0]
    budget = DriftBudget(budget_per_second, clock=lambda: now[0]) if budget_per_second else None
    applier = Applier(timeout=60, remember_for=REMEMBER_FOR, drift_budget=budget, clock=lambda: now[0])
    apps: list[list[tuple[ClusterConnection, ClusterPlan]]] = [  # rendered once, as an idle pass would skip it
        [(c, ClusterPlan.adapt(render_cluster(released_app(f"{prefix}{i}"), cluster_input(c.name))))
         for c in connections] for i in range(size)]
    started = time.monotonic()
    for work in apps:  # every app written once, at simulated time 0
        results = applier.apply(work)
        assert all(r.ok for r in results.values()), results
    written_in = time.monotonic() - started
    lifetime = applier._lifetime(applier._written)  # noqa: SLF001 (what the bench reports, not a control)
    prune_lifetime = applier._lifetime(applier._pruned)  # noqa: SLF001
    end = lifetimes * lifetime
    reads_per_period: list[int] = []
    writes = 0
    tally.clear()
    started = time.monotonic()
    while now[0] < end:
        for second in range(PERIOD):
            now[0] += 1.0
            for work in apps[second::PERIOD]:
                applier.apply(work)
        reads_per_period.append(tally["GET"])
        writes += sum(n for verb, n in tally.items() if verb not in ("GET", "discovery GET"))
        tally.clear()
    checking = reads_per_period[next((i for i, n in enumerate(reads_per_period) if n), len(reads_per_period)):]
    # Each check (or write) stamps its memory anew, so the oldest stamp is the longest any object went unchecked.
    oldest = max(now[0] - applier_module._made_at(m) for _, _, m in applier._written.items())  # noqa: SLF001
    objects = len(applier._written)  # noqa: SLF001
    return {"apps": size, "objects": objects, "written_in": written_in, "lifetime": lifetime,
            "prune_lifetime": prune_lifetime, "simulated": now[0], "wall": time.monotonic() - started,
            "mean": statistics.fmean(checking) if checking else 0.0, "max": max(reads_per_period), "writes": writes,
            "oldest": oldest}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apps", default="100,500,1000")
    parser.add_argument("--budget", type=float, default=5.0, help="drift reads per second (0: no budget)")
    parser.add_argument("--lifetimes", type=float, default=1.25, help="simulated time, in objects' trust periods")
    args = parser.parse_args()
    with ControlPlane(CLUSTERS) as plane:
        documents = upstream_crd_documents()
        for cluster in plane.clusters.values():
            install_crd_documents(cluster, documents)
        warm_up(plane)
        pool = ClientPool(max_concurrency=4)
        connections = [pool.connect(*cluster_manifests(cluster, "production")) for cluster in plane.clusters.values()]
        tally: collections.Counter[str] = collections.Counter()
        count_client_requests(connections, tally)
        print(f"budget {args.budget:g} reads/s, --drift-check-after {REMEMBER_FOR:g} s, {PERIOD} s periods, "
              f"{args.lifetimes:g} trust periods simulated per size; requests as sent to 3 target apiservers")
        print("\n| apps × 3 targets | objects | trusted for (objects · prune scopes) | reads per period once checks began: mean · max "
              "| writes | oldest memory at the end | simulated · wall |")
        print("|---|---|---|---|---|---|---|")
        for index, size in enumerate(int(n) for n in args.apps.split(",")):
            r = run_size(size, f"s{index}-", args.budget, args.lifetimes, connections, tally)
            print(f"| {r['apps']} | {r['objects']} | {r['lifetime'] / 60:.0f} min · {r['prune_lifetime'] / 60:.0f} min "
                  f"| {r['mean']:.1f} · {r['max']} | {r['writes']} | {r['oldest'] / 60:.0f} min "
                  f"| {r['simulated'] / 3600:.1f} h · {r['wall']:.0f} s (+{r['written_in']:.0f} s writing) |",
                  flush=True)
        pool.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
