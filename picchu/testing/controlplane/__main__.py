"""Command line of the local control plane: `build` the binaries, kwok and helm (and fetch the pinned upstream
CRDs), bring clusters `up` for a person.

    python -m picchu.testing.controlplane build
    python -m picchu.testing.controlplane up --clusters delivery,a,b [--machinery a,b] [--dir DIR] [--no-crds]
        [--fleet production [--namespace picchu] [--prometheus]] [--keep]

`--fleet` readies the clusters for the quick start in examples/ (see `picchu.testing.quickstart`).

Neighbours: `binaries.ensure_binaries`, `plane.ControlPlane`, `picchu.testing.upstream_crds`.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

from picchu.testing.controlplane.binaries import BINARY_NAMES, ControlPlaneUnavailable, ensure_binaries
from picchu.testing.controlplane.kwok import ensure_kwok
from picchu.testing.controlplane.plane import ControlPlane


def _build(_: argparse.Namespace) -> int:
    from picchu.testing.helm import ensure_helm
    from picchu.testing.upstream_crds import load_pins, upstream_crd_documents

    binaries = ensure_binaries(log=sys.stdout)
    print(f"control-plane binaries (k8s {binaries.version}):")
    for name in BINARY_NAMES:
        path = binaries.bin_dir / name
        print(f"  {path}")
    print(f"kwok (simulated nodes): {ensure_kwok(log=sys.stdout)}")
    print(f"helm: {ensure_helm(log=sys.stdout)}")
    crds = upstream_crd_documents()  # fetch now, so tests never need the network or Go
    print(f"{len(crds)} upstream CRDs from {len(load_pins())} pinned modules cached under:")
    for source in load_pins():
        print(f"  {source.cache_dir}")
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _step(text: str) -> None:
    print(text, flush=True)


def _up(args: argparse.Namespace) -> int:
    from picchu.testing.upstream_crds import install_test_environment_crds

    names = [name.strip() for name in args.clusters.split(",") if name.strip()]
    signal.signal(signal.SIGTERM, _interrupt)  # `kill PID` cleans up like Ctrl-C
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in the background
    _step("control-plane binaries (a first build compiles kube-apiserver, etcd and kubectl: several minutes)...")
    binaries = ensure_binaries(log=sys.stdout)
    started = time.monotonic()
    workdir = Path(args.dir).resolve() if args.dir else None
    created_dir = workdir is not None and not workdir.exists()
    machinery = [name.strip() for name in args.machinery.split(",") if name.strip()]
    control_plane = ControlPlane(names, workdir=workdir, binaries=binaries,
                                 machinery=machinery)
    stoppers: list[object] = []
    try:
        _step(f"starting etcd and {len(names)} API server(s): {', '.join(names)}...")
        control_plane.start()
        if not args.no_crds:
            _step("installing the upstream CRDs (Istio, KEDA, prometheus-operator, ...) and picchu's...")
            install_test_environment_crds(control_plane, delivery=names[0])
        print(f"{len(names)} cluster(s) ready in {time.monotonic() - started:.1f}s "
              f"(workdir {control_plane.workdir}):")
        for cluster in control_plane.clusters.values():
            print(f"  {cluster.name:<12} {cluster.server}  KUBECONFIG={cluster.kubeconfig_path}")
        print(f"all contexts: KUBECONFIG={control_plane.kubeconfig_path}  (kubectl: {binaries.kubectl})")
        if args.fleet:
            stoppers = _quickstart(args, control_plane, names, binaries.kubectl)
        for process, pid in control_plane.pids().items():
            print(f"  {process} pid {pid}")
        print("Press Ctrl-C to stop.", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("\nstopping...", flush=True)
    finally:
        for stopper in reversed(stoppers):
            stopper.stop()  # type: ignore[attr-defined]
        control_plane.stop()
        if created_dir and not args.keep and workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
        elif workdir is not None:
            print(f"kept {workdir}")
    return 0


def _quickstart(args: argparse.Namespace, plane: ControlPlane, names: list[str], kubectl: Path) -> list[object]:
    from picchu.testing import quickstart

    delivery, targets = names[0], names[1:]
    fleet = quickstart.write_fleet(plane, args.fleet, args.namespace, targets)
    plane.start_machinery(*targets)
    stoppers: list[object] = []
    print(f"fleet {args.fleet!r}: {fleet} (kubectl apply it after the namespace)")
    print(f"machinery running on {', '.join(targets)}: kube-controller-manager, kube-scheduler and kwok with fake "
          "nodes, so ReplicaSets get real Pods")
    url = None
    if args.prometheus:
        from picchu.testing.prometheus import SloAlerts

        alerts = SloAlerts(alert="echo_availability").start()
        stoppers.append(alerts)
        stoppers.append(quickstart.ErrorSwitch(plane.clusters[delivery].api_client(), args.namespace,
                                               alerts.exporter).start())
        url = alerts.url
        print(f"bundled Prometheus: {url}; its SLO alert echo_availability fires for a Revision annotated "
              f"{quickstart.ERRORS_ANNOTATION}=true")
    env = quickstart.write_env(plane, delivery, args.namespace, kubectl, url)
    print(f"next, in another shell: source {env}   (sets KUBECONFIG, PATH for kubectl, PICCHU_* for picchu run)")
    return stoppers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m picchu.testing.controlplane",
                                     description="Local kube-apiserver + etcd control plane for picchu.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("build", help="build (or find cached) kube-apiserver, kube-controller-manager, "
                        "kube-scheduler, etcd, kubectl, kwok and helm").set_defaults(run=_build)
    up = commands.add_parser("up", help="start clusters and keep them running until Ctrl-C")
    up.add_argument("--clusters", default="delivery,a,b",
                    help="comma-separated cluster names; the first gets picchu's CRDs (default: delivery,a,b)")
    up.add_argument("--machinery", default="",
                    help="comma-separated clusters that also run kube-controller-manager, kube-scheduler and kwok "
                         "with fake nodes (real Pods), e.g. a,b (default: none)")
    up.add_argument("--dir", help="work directory for kubeconfigs, certificates and logs (default: a temp dir)")
    up.add_argument("--no-crds", action="store_true", help="do not install the upstream and picchu CRDs")
    up.add_argument("--fleet", help="register every cluster but the first as this fleet: write fleet.yaml and an "
                                    "env file into the workdir and run the machinery on them (quick start)")
    up.add_argument("--namespace", default="picchu", help="delivery namespace for --fleet (default: picchu)")
    up.add_argument("--prometheus", action="store_true",
                    help="with --fleet: run the bundled Prometheus whose SLO alert a Revision annotation fires")
    up.add_argument("--keep", action="store_true", help="keep a --dir this command created when it stops")
    up.set_defaults(run=_up)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except ControlPlaneUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
