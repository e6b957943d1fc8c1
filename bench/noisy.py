"""Benchmark: does a legitimate app ramp as fast with 1,000+ broken objects next to it? (issue 16)

One real `picchu run` process (1 s sync period) watches a delivery namespace holding one healthy target
cluster. A legitimate app is ramped from a new Revision to `released` (geometric 10 → 100, 1 s steps) three
times: alone; while `--hostile` broken objects are sent at `--rate` per second (`picchu.testing.hostile`:
Clusters with dead servers or bad credentials, broken Secrets, Revisions/ReleaseManagers/ClusterSecrets of
many apps on those fleets, malformed Revisions the apiserver partly refuses); and `--settle` seconds after
the flood, with the broken objects merely present. Prints, per phase, the ramp time (Revision created →
`released` seen), ReleaseManager passes and all passes the operator ran meanwhile.

Run: `.venv/bin/python bench/noisy.py [--hostile 1350] [--rate 25]` (local control plane binaries; minutes).
"""

from __future__ import annotations

import argparse
import base64
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kubernetes import client

from picchu import keys
from picchu.testing.builders import revision_manifest
from picchu.testing.controlplane import ControlPlane, ensure_binaries
from picchu.testing.fleet import OperatorProcess, cluster_manifests, ensure_namespace, kubectl_apply, wait_for
from picchu.testing.hostile import create_all, hostile_manifests
from picchu.testing.replicaset_controller import ReplicaSetReadiness
from picchu.testing.upstream_crds import install_crds_from_dir, install_upstream_crds

ROOT = Path(__file__).resolve().parent.parent
NS = "picchu"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hostile", type=int, default=1350, help="broken objects to send (~1,040 are accepted)")
    parser.add_argument("--rate", type=float, default=25, help="objects sent per second during the flood")
    parser.add_argument("--settle", type=float, default=60, help="seconds between the flood and the last ramp")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--operator-arg", action="append", default=[])
    args = parser.parse_args()
    plane = ControlPlane(("delivery", "a"), workdir=Path(tempfile.mkdtemp(prefix="picchu-noisy-")),
                         binaries=ensure_binaries())
    with plane:
        delivery, target = plane.clusters["delivery"], plane.clusters["a"]
        for cluster in plane.clusters.values():
            install_upstream_crds(cluster)
        install_crds_from_dir(delivery, ROOT / "config" / "crd")
        ensure_namespace(delivery, NS)
        kubectl_apply(delivery, cluster_manifests(target, "production"))
        # The ReplicaSet stand-in, not the cluster machinery: this bench measures the operator alone, and the
        # machinery's own CPU would blur the numbers on 2 cores.
        readiness = ReplicaSetReadiness(target.api_client(), delay_seconds=1.0).start()
        operator = OperatorProcess(delivery.kubeconfig_path, namespace=NS, keep_log=True,
                                   args=("--sync-period-seconds", "1", *args.operator_arg)).start()
        start = datetime.now(UTC) - timedelta(hours=1)
        api = delivery.api_client()
        custom = client.CustomObjectsApi(api)

        def released(tag: str) -> bool:
            try:
                rm = custom.get_namespaced_custom_object(keys.GROUP, keys.VERSION, NS, "releasemanagers",
                                                         "legit-production")
            except client.ApiException:
                return False
            entries = (rm.get("status") or {}).get("revisions") or []  # type: ignore[union-attr]
            return any(e["tag"] == tag and e["state"]["current"] == "released" for e in entries)

        def ramp(tag: str, minutes: int) -> tuple[float, int, int]:
            """Seconds from the Revision's creation to `released`, RM passes and all passes meanwhile."""
            rm_before, all_before = operator.passes(), sum(operator.passes(k) for k in KINDS)
            t0 = time.monotonic()
            create_all(api, [revision_manifest("legit", tag, namespace=NS,
                                               committed=start + timedelta(minutes=minutes))], workers=1)
            try:
                wait_for(lambda: released(tag), args.timeout, interval=0.5, message=f"legit {tag} released")
            except AssertionError:
                print(f"legit {tag} not released within {args.timeout:.0f}s", flush=True)
            result = (time.monotonic() - t0, operator.passes() - rm_before,
                      sum(operator.passes(k) for k in KINDS) - all_before)
            print(f"{tag}: ramp {result[0]:.1f}s, {result[1]} RM passes, {result[2]} passes in all", flush=True)
            return result

        try:
            wait_for(lambda: operator.passes("Cluster") > 0, 120, message="operator serving")
            ramp("v0", 0)  # the first release goes to 100% at once; the next ones ramp 10, 20, 40, 80, 100
            results = {"alone": ramp("v1", 1)}
            hostile = hostile_manifests(args.hostile, namespace=NS, committed=start, real_server=target.server,
                                        real_ca=base64.b64encode(target.ca_data).decode())
            accepted: dict[str, int] = {}
            done = threading.Event()

            def flood() -> None:
                step = max(1, int(args.rate))
                for i in range(0, len(hostile), step):
                    began = time.monotonic()
                    for kind, n in create_all(api, hostile[i:i + step]).items():
                        accepted[kind] = accepted.get(kind, 0) + n
                    time.sleep(max(0.0, 1 - (time.monotonic() - began)))
                done.set()

            t0 = time.monotonic()
            threading.Thread(target=flood, daemon=True).start()
            results[f"during a flood of {len(hostile)} at {args.rate:g}/s"] = ramp("v2", 2)
            done.wait()
            print(f"flood: {sum(accepted.values())} of {len(hostile)} accepted in {time.monotonic() - t0:.0f}s: "
                  f"{accepted}", flush=True)
            time.sleep(args.settle)
            results[f"{sum(accepted.values())} broken present"] = ramp("v3", 3)
            print(f"{'phase':44} {'ramp s':>7} {'RM passes':>10} {'all passes':>11}")
            for phase, (seconds, rm_passes, all_passes) in results.items():
                print(f"{phase:44} {seconds:7.1f} {rm_passes:10d} {all_passes:11d}")
        finally:
            operator.stop()
            readiness.stop()
            print(f"operator log: {operator.log_path}")


KINDS = ("Revision", "ReleaseManager", "Cluster", "ClusterSecrets")

if __name__ == "__main__":
    main()
