"""Measure the local control plane: warm start of delivery,a,b with CRDs, and its memory (RSS).

    .venv/bin/python hack/controlplane/measure.py [--rounds 3] [--machinery a,b]

Prints, per round: seconds until etcd + three apiservers answer, seconds to install the CRDs (upstream in
all three, picchu's own in delivery), and the resident memory of etcd and each kube-apiserver. With
`--machinery`, those clusters' kube-controller-manager, kube-scheduler and kwok are started after the CRDs
(as the end-to-end fixture does) and timed until their fake nodes are Ready; their memory is listed too.
Binaries must be built (`python -m picchu.testing.controlplane build`); their build is not timed here.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from picchu.testing.controlplane import ControlPlane, ensure_binaries
from picchu.testing.upstream_crds import install_test_environment_crds, upstream_crd_documents


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--machinery", default="", help="clusters that also run their machinery, e.g. a,b")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds to wait before reading RSS")
    args = parser.parse_args()
    binaries = ensure_binaries()
    upstream_crd_documents()  # fill the CRD cache outside the timed part
    for round_number in range(1, args.rounds + 1):
        started = time.monotonic()
        with ControlPlane(["delivery", "a", "b"], binaries=binaries) as plane:
            up = time.monotonic() - started
            install_test_environment_crds(plane)
            ready = time.monotonic() - started
            machinery = [name for name in args.machinery.split(",") if name]
            if machinery:
                plane.start_machinery(*machinery)
                print(f"round {round_number}: machinery of {','.join(machinery)} ready (nodes Ready) "
                      f"{time.monotonic() - started - ready:.1f}s after the CRDs", flush=True)
            time.sleep(args.settle)
            memory = {name: rss_mib(pid) for name, pid in plane.pids().items()}
        parts = ", ".join(f"{name} {mib:.0f}" for name, mib in sorted(memory.items()))
        print(f"round {round_number}: clusters up {up:.1f}s, with CRDs {ready:.1f}s; "
              f"RSS MiB total {sum(memory.values()):.0f} ({parts})", flush=True)


if __name__ == "__main__":
    main()
