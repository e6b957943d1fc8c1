"""The local control plane: one etcd and N kube-apiservers, each a separate logical cluster.

Why: picchu's tests, demo and benchmarks need a delivery cluster and several target clusters with real
API semantics (validation, server-side apply, watches, status subresources), started in seconds.

Neighbours: `cluster.Cluster` is one apiserver; `binaries` provides the executables; `processes` makes
sure nothing outlives the run; `picchu.testing.fixtures` wraps this in pytest fixtures.

Invariants:
- One etcd serves all clusters; each apiserver uses `--etcd-prefix=/<cluster>/registry`.
- `stop()` stops everything `start()` started, by process group, and is safe to call twice; it also
  runs at interpreter exit. A workdir this class created itself is removed on stop.
- Cluster names are DNS labels (they appear in paths, etcd prefixes and kubeconfig contexts).
- Clusters named in `machinery` (or passed to `start_machinery` later) also run a kube-controller-manager,
  a kube-scheduler and kwok with fake nodes (`machinery.Machinery`); the others are apiservers alone.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from picchu.testing.controlplane.binaries import Binaries, ensure_binaries
from picchu.testing.controlplane.cluster import Cluster, ClusterStartError
from picchu.testing.controlplane.machinery import DEFAULT_NODES, Machinery, NodeShape
from picchu.testing.controlplane.processes import ManagedProcess, free_port, port_in_use_error

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$")
_ETCD_ATTEMPTS = 5


class ControlPlane:
    """Start with `start()` or `with ControlPlane([...]) as cp:`; clusters are in `cp.clusters`."""

    def __init__(self, clusters: Iterable[str] = ("delivery", "a", "b"), *, workdir: Path | str | None = None,
                 binaries: Binaries | None = None, machinery: Iterable[str] = (),
                 nodes: NodeShape = DEFAULT_NODES) -> None:
        self._names = list(clusters)
        for name in self._names:
            _check_name(name)
        self._machinery_names = list(machinery)
        unknown = set(self._machinery_names) - set(self._names)
        if unknown:
            raise ValueError(f"machinery asked for unknown clusters {sorted(unknown)}")
        self._nodes = nodes
        self.machinery: dict[str, Machinery] = {}
        self._binaries = binaries
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="picchu-cp-"))
        self.clusters: dict[str, Cluster] = {}
        self._etcd: ManagedProcess | None = None
        self.etcd_url = ""

    @property
    def binaries(self) -> Binaries:
        if self._binaries is None:
            self._binaries = ensure_binaries()
        return self._binaries

    @property
    def kubeconfig_path(self) -> Path:
        """One kubeconfig with a context per cluster (each cluster also has its own file)."""
        return self.workdir / "kubeconfig"

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> ControlPlane:
        """Start etcd and every cluster's apiserver (concurrently) and wait until all are ready."""
        if self._etcd is not None and self._etcd.running:
            raise RuntimeError("this control plane is already running")
        try:
            self.workdir.mkdir(parents=True, exist_ok=True)
            self._start_etcd()
            self._generate_service_account_key()
            for name in self._names:
                self.clusters[name] = self._new_cluster(name)
            # Launch all from this thread (see Cluster.launch_apiserver), then wait for each.
            for cluster in self.clusters.values():
                cluster.launch_apiserver()
            for cluster in self.clusters.values():
                cluster.await_apiserver()
            self._write_combined_kubeconfig()
            if self._machinery_names:
                self.start_machinery(*self._machinery_names)
        except BaseException:
            self.stop()
            raise
        return self

    def add_cluster(self, name: str) -> Cluster:
        """Start one more logical cluster on the running etcd."""
        _check_name(name)
        if name in self.clusters:
            raise ValueError(f"cluster {name!r} already exists")
        if self._etcd is None:
            raise RuntimeError("start() the control plane before adding clusters")
        cluster = self._new_cluster(name)
        self.clusters[name] = cluster
        cluster.start_apiserver()
        self._write_combined_kubeconfig()
        return cluster

    def start_machinery(self, *names: str, timeout: float = 120.0) -> dict[str, Machinery]:
        """Run kube-controller-manager, kube-scheduler and kwok (with fake nodes) in these clusters; clusters
        that already run them are left alone (one whose component exited is restarted). Builds kwok first
        if needed. Returns the machinery by cluster."""
        from picchu.testing.controlplane.kwok import ensure_kwok

        kwok = ensure_kwok()
        started = []
        for name in names:
            if name not in self.machinery or not self.machinery[name].running:
                if name in self.machinery:  # one component died: start all three afresh
                    self.machinery[name].stop()
                self.machinery[name] = Machinery(self.clusters[name], kwok, nodes=self._nodes)
                self.machinery[name].launch()
                started.append(self.machinery[name])
        for machinery in started:
            machinery.await_ready(timeout)
        return {name: self.machinery[name] for name in names}

    def stop(self) -> None:
        """Stop the machinery, every apiserver, then etcd. Idempotent."""
        for machinery in self.machinery.values():
            machinery.stop(wait=False)
        for machinery in self.machinery.values():
            machinery.stop()
        for cluster in self.clusters.values():
            cluster.stop_apiserver(wait=False)
        for cluster in self.clusters.values():
            cluster.stop_apiserver()
        if self._etcd is not None:
            self._etcd.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def pids(self) -> dict[str, int]:
        """PIDs of the running processes: `etcd`, `kube-apiserver[<cluster>]` and the machinery's
        `kube-controller-manager[<cluster>]`, `kube-scheduler[<cluster>]`, `kwok[<cluster>]`."""
        found = {f"kube-apiserver[{c.name}]": c.pid for c in self.clusters.values() if c.pid}
        for machinery in self.machinery.values():
            found.update(machinery.pids())
        if self._etcd is not None and self._etcd.pid and self._etcd.running:
            found["etcd"] = self._etcd.pid
        return {name: pid for name, pid in found.items() if pid is not None}

    # --- internals -----------------------------------------------------------------------------
    def _new_cluster(self, name: str) -> Cluster:
        return Cluster(name, workdir=self.workdir / "clusters" / name, binaries=self.binaries,
                       etcd_url=self.etcd_url, service_account_key=self.workdir / "service-account.key")

    def _start_etcd(self, timeout: float = 60.0) -> None:
        for attempt in range(1, _ETCD_ATTEMPTS + 1):
            client_port, peer_port = free_port(), free_port()
            self.etcd_url = f"http://127.0.0.1:{client_port}"
            peer_url = f"http://127.0.0.1:{peer_port}"
            self._etcd = ManagedProcess("etcd", [
                str(self.binaries.etcd),
                "--name=picchu",
                f"--data-dir={self.workdir / 'etcd' / 'data'}",
                f"--listen-client-urls={self.etcd_url}",
                f"--advertise-client-urls={self.etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=picchu={peer_url}",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ], self.workdir / "etcd" / "etcd.log")
            self._etcd.start()
            try:
                self._wait_etcd(timeout)
                return
            except ClusterStartError:
                collided = port_in_use_error(self._etcd.current_log())
                self._etcd.stop()
                shutil.rmtree(self.workdir / "etcd" / "data", ignore_errors=True)
                if not collided or attempt == _ETCD_ATTEMPTS:
                    raise

    def _wait_etcd(self, timeout: float) -> None:
        assert self._etcd is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._etcd.running:
                raise ClusterStartError(f"etcd exited with {self._etcd.exit_code}; log "
                                        f"{self._etcd.log_path}:\n{self._etcd.log_tail()}")
            try:
                with urllib.request.urlopen(self.etcd_url + "/health", timeout=2) as response:
                    if b'"health":"true"' in response.read():
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        raise ClusterStartError(f"etcd not healthy after {timeout:.0f}s; log {self._etcd.log_path}:\n"
                                f"{self._etcd.log_tail()}")

    def _generate_service_account_key(self) -> None:
        key = self.workdir / "service-account.key"
        if key.exists():
            return
        openssl = shutil.which("openssl")
        if not openssl:
            raise ClusterStartError("openssl is needed to create the service-account signing key; "
                                    "install it (Debian: apt-get install openssl)")
        subprocess.run([openssl, "ecparam", "-name", "prime256v1", "-genkey", "-noout",
                        "-out", str(key)], check=True, capture_output=True)

    def _write_combined_kubeconfig(self) -> None:
        merged: dict[str, object] = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [],
                                     "contexts": [], "preferences": {}}
        for cluster in self.clusters.values():
            single = cluster.kubeconfig_dict()
            for key in ("clusters", "users", "contexts"):
                merged[key] += single[key]
        if self.clusters:
            merged["current-context"] = next(iter(self.clusters))
        self.kubeconfig_path.write_text(json.dumps(merged, indent=2))


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(f"cluster name {name!r} must be a lowercase DNS label (a-z, 0-9, '-'), "
                         "at most 42 characters")
