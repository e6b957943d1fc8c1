"""`make demo`: three local clusters, the real operator, and a sample app rolled out twice, shown live.

What it does, in order: build (or reuse) the control plane binaries; start `delivery`, `a` and `b` on one
etcd, `a` and `b` with their machinery (kube-controller-manager, kube-scheduler and kwok with three fake nodes
each, so ReplicaSets get real Pods that kwok makes Ready); install the upstream CRDs and picchu's CRDs; register
`a` and `b` as the `production` fleet (Cluster + credentials Secret holding a token of the shipped target role,
as a platform team would); install the chart with helm and start `picchu run` as the chart's ServiceAccount
(the admin identity only sets things up); apply Revision `v1` and, once it is released, Revision `v2`; render a
live table of every cluster's Pods (Ready/total per tag) and VirtualService weights until `v2` is released and
`v1` retired; then apply `v3`, abort it half-way (`picchu abort`) and watch traffic return to `v2`; finally
print the `picchu status echo` screen and write the `picchu history echo --plot` timeline PNG. Everything it
starts is stopped on exit (Ctrl-C included) and its working directory (etcd data, certificates, tokens, the
operator log) removed; with `--keep` (`make demo KEEP=1`) the clusters keep running until Ctrl-C and the
directory stays.
"""

from __future__ import annotations

import os
import shutil
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
from picchu.ctl.delivery import Delivery
from picchu.ctl.history import build as build_history
from picchu.ctl.status import collect
from picchu.ctl.status import render as render_status
from picchu.ctl.steer import steer
from picchu.ctl.timeline import plot
from picchu.testing import audit
from picchu.testing.controlplane import ControlPlane, ensure_binaries
from picchu.testing.fleet import (
    DELIVERY_NAMESPACE,
    TARGET_USER,
    OperatorProcess,
    cluster_manifests,
    ensure_namespace,
    install_operator,
    kubectl_apply,
)
from picchu.testing.helm import Helm, ensure_helm
from picchu.testing.upstream_crds import install_crds_from_dir, install_upstream_crds

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "examples" / "echo" / "revision.yaml.tmpl"
TARGETS = ("a", "b")
console = Console()


def revision_manifest(tag: str, committed: datetime) -> dict[str, Any]:
    text = string.Template(TEMPLATE.read_text()).substitute(TAG=tag, COMMITTED=committed.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return dict(yaml.safe_load(text))


def run_demo(keep: bool = False, timeout: float = 600.0, plot_path: str = "picchu-demo-timeline.png") -> None:
    console.print("[bold]1/5[/] control plane binaries (first build takes several minutes)…")
    binaries = ensure_binaries(log=sys.stderr)
    helm_binary = ensure_helm(log=sys.stderr)
    workdir = Path(tempfile.mkdtemp(prefix="picchu-demo-"))
    plane = ControlPlane(("delivery", *TARGETS), workdir=workdir, binaries=binaries, machinery=TARGETS)
    operator: OperatorProcess | None = None
    try:
        console.print("[bold]2/5[/] starting clusters delivery, a, b (a and b with controllers, scheduler, "
                      "kwok nodes)…")
        plane.start()
        delivery = plane.clusters["delivery"]
        for name in plane.clusters:
            console.print(f"    installing the upstream CRDs into {name}…")
            install_upstream_crds(plane.clusters[name])
        install_crds_from_dir(delivery, ROOT / "config" / "crd")
        ensure_namespace(delivery, DELIVERY_NAMESPACE)
        console.print("[bold]3/5[/] registering clusters a and b as fleet 'production'…")
        kubectl_apply(delivery, [m for n in TARGETS for m in cluster_manifests(plane.clusters[n], "production")])
        console.print("[bold]4/5[/] helm install charts/picchu, then the operator (picchu run) as its ServiceAccount…")
        helm = Helm(helm_binary, workdir=workdir, kubeconfig=delivery.kubeconfig_path)
        kubeconfig = install_operator(helm, delivery, DELIVERY_NAMESPACE, workdir=workdir, release="picchu")
        operator = OperatorProcess(kubeconfig, args=("--sync-period-seconds", "2"),
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
        console.print("[bold]then[/] v3 ramps, and someone aborts it half-way (`picchu abort echo-v3`)…")
        v3 = revision_manifest("v3", now + timedelta(minutes=5))
        v3["spec"]["targets"][0]["release"]["geometricScaling"]["delay"] = "10s"  # time to abort it half-way
        kubectl_apply(delivery, [v3])
        _watch(plane, operator, until=lambda s: s.get("v3", ("", 0))[1] >= 20, timeout=timeout)
        view = Delivery(delivery.api_client(), DELIVERY_NAMESPACE)
        try:
            console.print(steer(view, "echo-v3", "abort", reason="demo: latency looked wrong"))
            _watch(plane, operator, until=lambda s: s.get("v3", ("", 0))[0] == "failed"
                   and s.get("v2") == ("released", 100), timeout=timeout)
            console.print("[green bold]v3 was rolled back; v2 serves 100 % again.[/]\n")
            console.rule("picchu status echo")
            console.print(render_status(collect(view, "echo")))
            timeline = plot(build_history(view, "echo"), Path(plot_path).resolve())
            console.print(f"timeline written to [bold]{timeline}[/] (picchu history echo --plot …)")
        finally:
            view.close()
        refused = _refusals(plane, operator)
        if refused:
            raise RuntimeError("the operator was refused (its roles lack a permission):\n" + "\n".join(refused))
        console.print("    the operator held only the chart's role and the target role: no request refused")
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
        if keep:
            console.print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _refusals(plane: ControlPlane, operator: OperatorProcess) -> list[str]:
    """Every 403 the operator's identities got (apiserver audit logs) and every Forbidden in its log."""
    users = (f"system:serviceaccount:{DELIVERY_NAMESPACE}:picchu", TARGET_USER)
    found = [f"{c.name}: {r.user} {r.verb} {r.uri}" for c in plane.clusters.values()
             for r in audit.forbidden(audit.read_requests(c.audit_log_path)[0], users)]
    return found + audit.refusals_in_log(operator.logs(100_000).splitlines())


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
