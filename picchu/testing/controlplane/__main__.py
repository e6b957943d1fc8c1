"""Command line of the local control plane: `build` the binaries and kwok (and fetch the pinned upstream CRDs),
bring clusters `up` for a person.

    python -m picchu.testing.controlplane build
    python -m picchu.testing.controlplane up --clusters delivery,a,b [--machinery a,b] [--dir DIR] [--no-crds]

Neighbours: `binaries.ensure_binaries`, `plane.ControlPlane`, `picchu.testing.upstream_crds`.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

from picchu.testing.controlplane.binaries import BINARY_NAMES, ControlPlaneUnavailable, ensure_binaries
from picchu.testing.controlplane.kwok import ensure_kwok
from picchu.testing.controlplane.plane import ControlPlane


def _build(_: argparse.Namespace) -> int:
    from picchu.testing.upstream_crds import load_pins, upstream_crd_documents

    binaries = ensure_binaries(log=sys.stdout)
    print(f"control-plane binaries (k8s {binaries.version}):")
    for name in BINARY_NAMES:
        path = binaries.bin_dir / name
        print(f"  {path}")
    print(f"kwok (simulated nodes): {ensure_kwok(log=sys.stdout)}")
    crds = upstream_crd_documents()  # fetch now, so tests never need the network or Go
    print(f"{len(crds)} upstream CRDs from {len(load_pins())} pinned modules cached under:")
    for source in load_pins():
        print(f"  {source.cache_dir}")
    return 0


def _up(args: argparse.Namespace) -> int:
    from picchu.testing.upstream_crds import install_test_environment_crds

    names = [name.strip() for name in args.clusters.split(",") if name.strip()]
    binaries = ensure_binaries(log=sys.stdout)
    started = time.monotonic()
    machinery = [name.strip() for name in args.machinery.split(",") if name.strip()]
    control_plane = ControlPlane(names, workdir=Path(args.dir).resolve() if args.dir else None,
                                 binaries=binaries, machinery=machinery)
    with control_plane:
        if not args.no_crds:
            install_test_environment_crds(control_plane, delivery=names[0])
        print(f"{len(names)} cluster(s) ready in {time.monotonic() - started:.1f}s "
              f"(workdir {control_plane.workdir}):")
        for cluster in control_plane.clusters.values():
            print(f"  {cluster.name:<12} {cluster.server}  KUBECONFIG={cluster.kubeconfig_path}")
        print(f"all contexts: KUBECONFIG={control_plane.kubeconfig_path}  (kubectl: {binaries.kubectl})")
        for process, pid in control_plane.pids().items():
            print(f"  {process} pid {pid}")
        print("Press Ctrl-C to stop.", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("\nstopping...", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m picchu.testing.controlplane",
                                     description="Local kube-apiserver + etcd control plane for picchu.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("build", help="build (or find cached) kube-apiserver, kube-controller-manager, "
                        "kube-scheduler, etcd, kubectl and kwok").set_defaults(run=_build)
    up = commands.add_parser("up", help="start clusters and keep them running until Ctrl-C")
    up.add_argument("--clusters", default="delivery,a,b",
                    help="comma-separated cluster names; the first gets picchu's CRDs (default: delivery,a,b)")
    up.add_argument("--machinery", default="",
                    help="comma-separated clusters that also run kube-controller-manager, kube-scheduler and kwok "
                         "with fake nodes (real Pods), e.g. a,b (default: none)")
    up.add_argument("--dir", help="work directory for kubeconfigs, certificates and logs (default: a temp dir)")
    up.add_argument("--no-crds", action="store_true", help="do not install the upstream and picchu CRDs")
    up.set_defaults(run=_up)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except ControlPlaneUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
