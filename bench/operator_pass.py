"""Benchmark: whole ReleaseManager and Revision passes of the engine, against real apiservers.

One app with a 4-step geometric ramp on three target clusters. The passes are called directly (no kopf, so
the numbers are the engine's own), with the ReplicaSet stand-in stepped between passes. Prints, per phase:

  rollout     every pass from a new Revision to released (first writes everywhere)
  ramp        a second Revision ramping 10 → 100 while the first retires
  steady      passes over an unchanged world: must write nothing anywhere

requests by verb per apiserver (delivery and the sum over targets, housekeeping excluded), wall time per
pass and the peak Python allocation of one steady pass.

Run: `.venv/bin/python bench/operator_pass.py` (needs the local control plane binaries; ~1 minute).
"""

from __future__ import annotations

import resource
import statistics
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kubernetes import client

from picchu.engine.assembly import build_context
from picchu.engine.release_manager import reconcile_release_manager
from picchu.engine.revision import reconcile_revision
from picchu.settings import Settings
from picchu.testing import requests
from picchu.testing.builders import revision_manifest
from picchu.testing.controlplane import ControlPlane, ensure_binaries
from picchu.testing.fleet import cluster_manifests, ensure_namespace, kubectl_apply
from picchu.testing.replicaset_controller import ReplicaSetReadiness
from picchu.testing.upstream_crds import install_crds_from_dir, install_upstream_crds

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ("a", "b", "c")
NS = "picchu"


def main() -> None:
    plane = ControlPlane(("delivery", *TARGETS), workdir=Path(tempfile.mkdtemp(prefix="picchu-bench-")),
                         binaries=ensure_binaries())
    with plane:
        delivery = plane.clusters["delivery"]
        for name in plane.clusters:
            install_upstream_crds(plane.clusters[name])
        install_crds_from_dir(delivery, ROOT / "config" / "crd")
        ensure_namespace(delivery, NS)
        kubectl_apply(delivery, [m for n in TARGETS for m in cluster_manifests(plane.clusters[n], "production")])
        ctx = build_context(Settings(sync_period_seconds=1, namespace=NS), delivery.api_client())
        apps = [client.AppsV1Api(plane.clusters[n].api_client()) for n in TARGETS]
        kubelets = [ReplicaSetReadiness(plane.clusters[n].api_client(), delay_seconds=0) for n in TARGETS]
        counters = {n: requests.RequestCounter(plane.clusters[n]) for n in plane.clusters}
        start = datetime.now(UTC) - timedelta(hours=1)

        def one_pass(totals: dict[str, requests.RequestCounts] | None = None) -> float:
            """One Revision + ReleaseManager pass; its requests (only the engine's) are added to `totals`."""
            before = {n: c.snapshot() for n, c in counters.items()}
            t0 = time.perf_counter()
            reconcile_revision(ctx, NS, "echo-v1")
            if ctx.delivery.get("Revision", NS, "echo-v2"):
                reconcile_revision(ctx, NS, "echo-v2")
            reconcile_release_manager(ctx, NS, "echo-production")
            elapsed = time.perf_counter() - t0
            if totals is not None:
                for n, c in counters.items():
                    totals[n] = requests.RequestCounts(_merge(totals.get(n), requests.delta(before[n], c.snapshot())))
            for kubelet, api in zip(kubelets, apps, strict=True):  # pods get ready between passes
                kubelet.step(api, time.monotonic())
                kubelet.step(api, time.monotonic() + 1)
            time.sleep(1.05)  # the ramp delay is 1 s
            return elapsed

        def phase(name: str, done: object, limit: int = 40) -> None:
            totals: dict[str, requests.RequestCounts] = {}
            times = []
            for _ in range(limit):
                times.append(one_pass(totals))
                if callable(done) and done():
                    break
            report(name, times, totals)

        def state(tag: str) -> str:
            rm = ctx.delivery.get("ReleaseManager", NS, "echo-production") or {}
            return next((e["state"]["current"] for e in (rm.get("status") or {}).get("revisions") or []
                         if e["tag"] == tag), "")

        kubectl_apply(delivery, [revision_manifest("echo", "v1", namespace=NS, committed=start)])
        phase("rollout", lambda: state("v1") == "released")
        kubectl_apply(delivery, [revision_manifest("echo", "v2", namespace=NS, committed=start + timedelta(minutes=5))])
        phase("ramp", lambda: state("v2") == "released" and state("v1") == "retired")
        one_pass()  # Revision statuses copy the ReleaseManager's with a one-pass lag: let them settle
        one_pass()
        phase("steady", None, limit=5)
        tracemalloc.start()
        one_pass()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"peak Python allocation of one steady pass: {peak / 1024:.0f} KiB; "
              f"process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


def _merge(a: requests.RequestCounts | None, b: requests.RequestCounts) -> dict[requests.RequestKey, int]:
    merged = dict(a or {})
    for key, count in b.items():
        merged[key] = merged.get(key, 0) + count
    return merged


def report(name: str, times: list[float], change: dict[str, requests.RequestCounts]) -> None:
    targets: dict[str, int] = {}
    for n in TARGETS:
        for verb, count in change[n].without(*requests.HOUSEKEEPING).by_verb().items():
            targets[verb] = targets.get(verb, 0) + count
    delivery = change["delivery"].without(*requests.HOUSEKEEPING).by_verb()
    print(f"{name:8} {len(times):3} passes  median {statistics.median(times) * 1000:6.1f} ms/pass  "
          f"max {max(times) * 1000:6.1f} ms")
    print(f"         delivery requests: {dict(sorted(delivery.items()))}")
    writes = change["delivery"].without(*requests.HOUSEKEEPING).by_resource(
        verbs=("POST", "PUT", "PATCH", "APPLY", "DELETE"))
    print(f"         delivery writes by resource: {writes}")
    print(f"         target requests (3 clusters): {dict(sorted(targets.items()))}")
    per_pass = sum(v for k, v in targets.items() if k not in ("GET", "LIST", "WATCH")) / len(times)
    print(f"         target writes per pass: {per_pass:.1f}")


if __name__ == "__main__":
    main()
