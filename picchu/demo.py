"""`make demo`: three local clusters, the real operator, and a sample app rolled out twice, shown live.

What it does, in order: build (or reuse) the control plane binaries; start `delivery`, `a` and `b` on one
etcd, `a` and `b` with their machinery (kube-controller-manager, kube-scheduler and kwok with three fake
nodes each, so ReplicaSets get real Pods that kwok makes Ready); install the upstream CRDs and picchu's CRDs;
register `a` and `b` as the `production` fleet (Cluster + credentials Secret, as a platform team would);
start `picchu run`; apply Revision `v1` and, once it is released, Revision `v2`; render a live table of every
cluster's Pods (Ready/total per tag) and VirtualService weights until `v2` is released and `v1` retired.
Everything it starts is stopped on exit (Ctrl-C included) unless `--keep` is given.
"""

from __future__ import annotations

import os
import string
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from rich.console import Console
from rich.live import Live
from rich.table import Table

from picchu import keys
from picchu.testing.controlplane import ControlPlane, ensure_binaries
from picchu.testing.fleet import (
    DELIVERY_NAMESPACE,
    OperatorProcess,
    cluster_manifests,
    ensure_namespace,
    kubectl_apply,
)
from picchu.testing.upstream_crds import install_crds_from_dir, install_upstream_crds

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "examples" / "echo" / "revision.yaml.tmpl"
TARGETS = ("a", "b")
console = Console()


def revision_manifest(tag: str, committed: datetime) -> dict[str, Any]:
    text = string.Template(TEMPLATE.read_text()).substitute(TAG=tag, COMMITTED=committed.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return dict(yaml.safe_load(text))


def run_demo(keep: bool = False, timeout: float = 600.0) -> None:
    console.print("[bold]1/5[/] control plane binaries (first build takes several minutes)…")
    binaries = ensure_binaries(log=sys.stderr)
    workdir = Path(tempfile.mkdtemp(prefix="picchu-demo-"))
    plane = ControlPlane(("delivery", *TARGETS), workdir=workdir, binaries=binaries, machinery=TARGETS)
    operator: OperatorProcess | None = None
    try:
        console.print("[bold]2/5[/] starting clusters delivery, a, b (a and b with controllers, scheduler, "
                      "kwok nodes)…")
        plane.start()
        delivery = plane.clusters["delivery"]
        for name in plane.clusters:
            install_upstream_crds(plane.clusters[name])
        install_crds_from_dir(delivery, ROOT / "config" / "crd")
        ensure_namespace(delivery, DELIVERY_NAMESPACE)
        console.print("[bold]3/5[/] registering clusters a and b as fleet 'production'…")
        kubectl_apply(delivery, [m for n in TARGETS for m in cluster_manifests(plane.clusters[n], "production")])
        console.print("[bold]4/5[/] starting the operator (picchu run)…")
        operator = OperatorProcess(delivery.kubeconfig_path, args=("--sync-period-seconds", "2"),
                                   log_path=workdir / "operator.log").start()
        console.print(f"    operator logs: {operator.log_path}")
        console.print("[bold]5/5[/] rolling out echo v1, then v2 (Ctrl-C to stop)")
        now = datetime.now(UTC)
        kubectl_apply(delivery, [revision_manifest("v1", now - timedelta(minutes=10))])
        _watch(plane, operator, until=lambda s: s.get("v1") == ("released", 100), timeout=timeout)
        kubectl_apply(delivery, [revision_manifest("v2", now)])
        _watch(plane, operator, until=lambda s: s.get("v2") == ("released", 100) and s.get("v1", ("", 0))[1] == 0,
               timeout=timeout)
        console.print("[green bold]v2 is released on every cluster; v1 is retired.[/]")
        if keep:
            console.print(f"clusters keep running; kubeconfigs: {workdir}/*/kubeconfig. Ctrl-C to stop.")
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        console.print("stopping…")
    finally:
        if operator is not None:
            operator.stop()
        plane.stop()


def _states(delivery_api: client.ApiClient) -> dict[str, tuple[str, int]]:
    rm = client.CustomObjectsApi(delivery_api).get_namespaced_custom_object(
        keys.GROUP, keys.VERSION, DELIVERY_NAMESPACE, "releasemanagers", "echo-production")
    return {e["tag"]: (e["state"]["current"], e.get("currentPercent", 0))
            for e in (rm.get("status") or {}).get("revisions") or []}


def _cluster_view(api: client.ApiClient) -> dict[str, tuple[int, int, int, int]]:
    """tag → (replicas wanted, Pods Ready, Pods in total, weight in the VirtualService) in one cluster."""
    view: dict[str, tuple[int, int, int, int]] = {}
    try:
        for rs in client.AppsV1Api(api).list_namespaced_replica_set("echo-production").items:
            tag = (rs.metadata.labels or {}).get(keys.LABEL_TAG, rs.metadata.name)
            view[tag] = (rs.spec.replicas or 0, 0, 0, 0)
        for pod in client.CoreV1Api(api).list_namespaced_pod("echo-production").items:
            tag = (pod.metadata.labels or {}).get(keys.LABEL_TAG, "")
            ready = any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))
            wanted, ready_count, total, weight = view.get(tag, (0, 0, 0, 0))
            view[tag] = (wanted, ready_count + ready, total + 1, weight)
        vs = client.CustomObjectsApi(api).get_namespaced_custom_object(
            "networking.istio.io", "v1alpha3", "echo-production", "virtualservices", "echo")
        for route in vs.get("spec", {}).get("http", []):
            if route.get("name") == "01_release-http":
                for dest in route.get("route", []):
                    tag = dest["destination"].get("subset", "")
                    wanted, ready_count, total, _ = view.get(tag, (0, 0, 0, 0))
                    view[tag] = (wanted, ready_count, total, dest.get("weight", 0))
    except client.ApiException:
        pass
    return view


def _watch(plane: ControlPlane, operator: OperatorProcess, until: Any, timeout: float) -> None:
    apis = {name: plane.clusters[name].api_client() for name in plane.clusters}
    deadline = time.monotonic() + timeout
    with Live(console=console, refresh_per_second=2) as live:
        while time.monotonic() < deadline:
            if not operator.running:
                raise RuntimeError("the operator exited:\n" + operator.logs())
            try:
                states = _states(apis["delivery"])
            except client.ApiException:
                states = {}
            live.update(_table(states, {n: _cluster_view(apis[n]) for n in TARGETS}))
            if until(states):
                return
            time.sleep(1)
    raise TimeoutError("the rollout did not finish in time; operator log:\n" + operator.logs())


def _table(states: dict[str, tuple[str, int]], clusters: dict[str, dict[str, tuple[int, int, int, int]]]
           ) -> Table:
    table = Table(title="echo on fleet production", expand=False)
    table.add_column("tag")
    table.add_column("state")
    table.add_column("percent", justify="right")
    for name in clusters:
        table.add_column(f"{name}: pods ready/total (wanted)", justify="right")
        table.add_column(f"{name}: weight", justify="right")
    for tag in sorted(set(states) | {t for v in clusters.values() for t in v}):
        state, percent = states.get(tag, ("-", 0))
        row = [tag, state, f"{percent}%"]
        for view in clusters.values():
            wanted, ready, total, weight = view.get(tag, (0, 0, 0, 0))
            row += [f"{ready}/{total} ({wanted})", f"{weight}%"]
        table.add_row(*row)
    return table


if __name__ == "__main__":
    run_demo(keep="--keep" in sys.argv or bool(os.environ.get("KEEP")))
