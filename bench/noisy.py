"""Benchmark: does a legitimate app ramp as fast with 1,000+ broken objects next to it? (issue 16)

One real `picchu run` process (1 s sync period) watches a delivery namespace holding one healthy target
cluster. A legitimate app is ramped from a new Revision to `released` (geometric 10 → 100, 1 s steps) three
times: alone; with `--hostile` broken objects present (`picchu.testing.hostile`: Clusters with dead servers
or bad credentials, broken Secrets, Revisions/ReleaseManagers/ClusterSecrets of many apps on those fleets,
malformed Revisions); and while a further flood of broken objects is being created. Prints, per phase, the
ramp time, the legitimate app's ReleaseManager passes, and all passes the operator ran meanwhile.

Run: `.venv/bin/python bench/noisy.py [--hostile 1000] [--flood 500]` (local control plane binaries; minutes).
"""

from __future__ import annotations

import argparse
import base64
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

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
    parser.add_argument("--hostile", type=int, default=1000)
    parser.add_argument("--flood", type=int, default=500)
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
        readiness = ReplicaSetReadiness(target.api_client(), delay_seconds=1.0).start()
        operator = OperatorProcess(delivery.kubeconfig_path, namespace=NS, keep_log=True,
                                   args=("--sync-period-seconds", "1", *args.operator_arg)).start()
        start = datetime.now(UTC) - timedelta(hours=1)
        api = delivery.api_client()

        def ramp(tag: str, minutes: int, app: str = "legit") -> tuple[float, int, int]:
            from kubernetes import client

            custom = client.CustomObjectsApi(api)
            rm_before, all_before = operator.passes(), sum(operator.passes(k) for k in KINDS)
            t0 = time.monotonic()
            kubectl_apply(delivery, [revision_manifest(app, tag, namespace=NS,
                                                       committed=start + timedelta(minutes=minutes))])

            def released() -> bool:
                try:
                    rm = custom.get_namespaced_custom_object("picchu.medium.engineering", "v1alpha1", NS,
                                                             "releasemanagers", f"{app}-production")
                except client.ApiException:
                    return False
                entries = (rm.get("status") or {}).get("revisions") or []
                return any(e["tag"] == tag and e["state"]["current"] == "released" for e in entries)

            try:
                wait_for(released, args.timeout, interval=0.5, message=f"{app} {tag} released")
            except AssertionError:
                print(f"{app} {tag} not released within {args.timeout:.0f}s", flush=True)
            result = (time.monotonic() - t0, operator.passes() - rm_before,
                      sum(operator.passes(k) for k in KINDS) - all_before)
            print(f"{tag}: ramp {result[0]:.1f}s, {result[1]} RM passes, {result[2]} passes in all", flush=True)
            return result

        try:
            wait_for(lambda: operator.passes("Cluster") > 0, 120, message="operator serving")
            ramp("v0", 0)  # the first release goes to 100% at once; the next ones ramp 10, 20, 40, 80, 100
            results = {"alone": ramp("v1", 1)}
            real_ca = base64.b64encode(target.ca_data).decode()
            hostile = hostile_manifests(args.hostile, namespace=NS, committed=start, real_server=target.server,
                                        real_ca=real_ca)
            t0 = time.monotonic()
            accepted = create_all(api, hostile)
            print(f"created {sum(accepted.values())} of {len(hostile)} hostile objects in "
                  f"{time.monotonic() - t0:.0f}s: {accepted}", flush=True)
            results[f"{args.hostile} broken present"] = ramp("v2", 2)
            flood = [m for m in hostile_manifests(args.flood + args.hostile, namespace=NS, committed=start,
                                                  real_server=target.server, real_ca=real_ca)
                     if m["kind"] in ("Revision", "ReleaseManager")][-args.flood:]
            for m in flood:
                m["metadata"]["name"] = "f" + m["metadata"]["name"]
                if m["kind"] == "Revision":
                    m["spec"]["app"]["name"] = "f" + m["spec"]["app"]["name"]
                else:
                    m["spec"]["app"] = "f" + m["spec"]["app"]
            stop = threading.Event()

            def flood_loop() -> None:
                for i in range(0, len(flood), 25):  # ~25 objects/s, as in the issue
                    if stop.is_set():
                        return
                    create_all(api, flood[i:i + 25])
                    time.sleep(1)

            flooder = threading.Thread(target=flood_loop, daemon=True)
            flooder.start()
            results[f"during a flood of {len(flood)}"] = ramp("v3", 3)
            stop.set()
            flooder.join()
            print(f"{'phase':40} {'ramp s':>7} {'RM passes (all)':>16} {'all passes':>11}")
            for phase, (seconds, rm_passes, all_passes) in results.items():
                print(f"{phase:40} {seconds:7.1f} {rm_passes:16d} {all_passes:11d}")
        finally:
            operator.stop()
            readiness.stop()
            print(f"operator log: {operator.log_path}")


KINDS = ("Revision", "ReleaseManager", "Cluster", "ClusterSecrets")

if __name__ == "__main__":
    main()
