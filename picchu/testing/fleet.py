"""A delivery cluster wired to target clusters the way a platform team does it, plus the operator process.

`cluster_manifests` writes what a user writes: a `Cluster` (fleet label, server, CA, ingresses) and its
credentials Secret (`auth-info`: a kubeconfig user object) in the delivery cluster. The token in that Secret
belongs to the identity the project ships for target clusters (`config/rbac/target.yaml`, generated from
`charts/picchu-target`), never to the admin. `install_operator` installs the delivery chart with real helm and
returns a kubeconfig holding a token of the chart's ServiceAccount. `OperatorProcess` runs the real
`picchu run` in a child process against the delivery cluster and stops it by PID. The end-to-end tests and
`make demo` are built from these pieces and target clusters that run their machinery
(`picchu.testing.controlplane.machinery`: real controllers, scheduler and kwok nodes); the admin identity only sets things up.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from picchu import keys
from picchu.testing.controlplane.binaries import repo_root
from picchu.testing.controlplane.cluster import Cluster as LocalCluster
from picchu.testing.controlplane.processes import free_port
from picchu.testing.helm import Helm

DELIVERY_NAMESPACE = "picchu"
# The shipped target-cluster identity (charts/picchu-target rendered as release `picchu-target`).
TARGET_ROLE_MANIFEST = Path("config") / "rbac" / "target.yaml"
TARGET_MIRROR_MANIFEST = Path("config") / "rbac" / "target-mirror.yaml"  # a Mirror's destination, on top
TARGET_NAMESPACE = "picchu-system"
TARGET_ACCOUNT = "picchu-target"
TARGET_USER = f"system:serviceaccount:{TARGET_NAMESPACE}:{TARGET_ACCOUNT}"
DELIVERY_CHART = Path("charts") / "picchu"
_target_tokens: dict[Path, str] = {}  # per cluster workdir: the apiserver keeps its signing key across restarts
_mirror_roles: set[Path] = set()


def target_identity_token(cluster: LocalCluster, *, mirror: bool = False) -> str:
    """A token of the shipped target identity in `cluster`, creating that identity on first use (as admin);
    `mirror` also binds the shipped Mirror-destination role to it."""
    if cluster.workdir not in _target_tokens:
        cluster.kubectl("apply", "-f", str(repo_root() / TARGET_ROLE_MANIFEST))
        _target_tokens[cluster.workdir] = cluster.service_account_token(TARGET_NAMESPACE, TARGET_ACCOUNT)
    if mirror and cluster.workdir not in _mirror_roles:
        cluster.kubectl("apply", "-f", str(repo_root() / TARGET_MIRROR_MANIFEST))
        _mirror_roles.add(cluster.workdir)
    return _target_tokens[cluster.workdir]


def release_name(namespace: str) -> str:
    """A helm release name for the operator chart, unique per delivery namespace (its ClusterRole is global)."""
    return f"picchu-{namespace[-8:]}"


def install_operator(helm: Helm, delivery: LocalCluster, namespace: str, *, workdir: Path,
                     release: str | None = None, values: tuple[str, ...] = ()) -> Path:
    """`helm install` the delivery chart into `namespace` (watching it) and return a kubeconfig for its
    ServiceAccount: the operator then holds exactly the RBAC the chart grants."""
    release = release or release_name(namespace)
    helm.run("upgrade", "--install", release, str(repo_root() / DELIVERY_CHART), "--namespace", namespace,
             "--skip-crds", "--set", f"run.namespace={namespace}", *[a for v in values for a in ("--set", v)])
    token = delivery.service_account_token(namespace, release)
    path = workdir / f"{release}.kubeconfig"
    path.write_text(json.dumps(delivery.kubeconfig_for_token(token, f"system:serviceaccount:{namespace}:{release}")))
    return path


def cluster_manifests(cluster: LocalCluster, fleet: str, *, namespace: str = DELIVERY_NAMESPACE,
                      enabled: bool = True, hot_standby: bool = False, scaling_factor: str = "1.0",
                      private_domains: tuple[str, ...] = ("example.internal",),
                      token: str | None = None, mirror: bool = False) -> list[dict[str, Any]]:
    """The Cluster and its credentials Secret for one local apiserver; the Secret holds `token`, by default a
    token of the shipped target identity (`target_identity_token`, with the Mirror role when `mirror`)."""
    token = token if token is not None else target_identity_token(cluster, mirror=mirror)
    return [
        {
            "apiVersion": keys.API_VERSION,
            "kind": "Cluster",
            "metadata": {"name": cluster.name, "namespace": namespace, "labels": {keys.LABEL_FLEET: fleet}},
            "spec": {
                "enabled": enabled,
                "hotStandby": hot_standby,
                "scalingFactorString": scaling_factor,
                "config": {"server": cluster.server,
                           "certificate-authority-data": base64.b64encode(cluster.ca_data).decode()},
                "ingresses": {
                    "public": {"dnsName": f"public.{cluster.name}.example", "gateway": "public-gateway",
                               "defaultDomains": []},
                    "private": {"dnsName": f"private.{cluster.name}.example", "gateway": "private-gateway",
                                "defaultDomains": list(private_domains)},
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": cluster.name, "namespace": namespace},
            "stringData": {keys.SECRET_AUTH_INFO_KEY: json.dumps({"token": token})},
        },
    ]


def kubectl_apply(delivery: LocalCluster, manifests: list[dict[str, Any]], timeout: float = 120.0) -> None:
    """Apply manifests with the built kubectl, exactly as a user or CI pipeline would."""
    delivery.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(manifests), timeout=timeout)


def ensure_namespace(cluster: LocalCluster, name: str) -> None:
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace",
                                                               "metadata": {"name": name}}))


WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class OperatorProcess:
    """`picchu run` as a child process; logs go to a file so a failing test can show them. A log file this
    class created itself is removed by `stop()` unless `keep_log` or PICCHU_KEEP_LOGS=1 (so test runs leave no
    files behind); a `log_path` given by the caller is the caller's."""

    kubeconfig: Path
    namespace: str = DELIVERY_NAMESPACE
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    keep_log: bool = False
    _process: subprocess.Popen[bytes] | None = None
    _own_log: bool = False

    def start(self) -> OperatorProcess:
        if self.log_path is None:
            handle, name = tempfile.mkstemp(prefix="picchu-operator-", suffix=".log")
            os.close(handle)
            self.log_path, self._own_log = Path(name), True
        metrics_port, health_port = free_port(), free_port()
        argv = [sys.executable, "-m", "picchu", "run", "--kubeconfig", str(self.kubeconfig),
                "--namespace", self.namespace, "--metrics-addr", f"127.0.0.1:{metrics_port}",
                "--health-addr", f"127.0.0.1:{health_port}", *self.args]
        self.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        self.health_url = f"http://127.0.0.1:{health_port}"
        log = open(self.log_path, "ab")  # noqa: SIM115 (owned by the child for its lifetime)
        self._process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                         env={**os.environ, **self.env})
        log.close()
        return self

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def exit_code(self) -> int | None:
        """The exit status once the process ended by itself (None while running or after stop/kill)."""
        return self._process.poll() if self._process is not None else None

    def rss_bytes(self) -> int:
        """Resident memory of the operator process (0 when it is not running), read from /proc."""
        return self._status_bytes("VmRSS:")

    def peak_rss_bytes(self) -> int:
        """The most resident memory the operator process has had since it started (0 when not running)."""
        return self._status_bytes("VmHWM:")

    def _status_bytes(self, field: str) -> int:
        if not self.running:
            return 0
        assert self._process is not None
        try:
            for line in Path(f"/proc/{self._process.pid}/status").read_text().splitlines():
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the operator process has used so far (0 when it is not running)."""
        if not self.running:
            return 0.0
        assert self._process is not None
        try:
            fields = Path(f"/proc/{self._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime

    def stop(self, timeout: float = 15.0) -> None:
        self._stop_process(timeout)
        keep = self.keep_log or os.environ.get("PICCHU_KEEP_LOGS", "") not in ("", "0")
        if self._own_log and not keep and self.log_path is not None:
            self.log_path.unlink(missing_ok=True)

    def _stop_process(self, timeout: float) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(5)
        self._process = None

    def _counters(self) -> tuple[dict[str, int], int]:
        """(finished passes by kind, write requests sent to target clusters), read from the metrics endpoint;
        nothing counted before it serves."""
        from prometheus_client.parser import text_string_to_metric_families

        try:
            with urllib.request.urlopen(self.metrics_url, timeout=5) as response:
                text = response.read().decode()
        except OSError:
            return {}, 0
        passes: dict[str, int] = {}
        writes = 0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if not sample.name.endswith("_total"):
                    continue
                if family.name == "picchu_reconcile_passes":
                    kind = sample.labels.get("kind", "")
                    passes[kind] = passes.get(kind, 0) + int(sample.value)
                elif family.name == "picchu_cluster_requests" and sample.labels.get("method") in WRITES:
                    writes += int(sample.value)
        return passes, writes

    def passes(self, kind: str = "ReleaseManager") -> int:
        """Passes of `kind` the operator has finished (`picchu_reconcile_passes_total`); 0 before it serves.

        Tests count work in passes, never in seconds: a loaded machine runs fewer passes per second, not
        different ones.
        """
        return self._counters()[0].get(kind, 0)

    def wait_passes(self, count: int, kind: str = "ReleaseManager", timeout: float = 180.0) -> int:
        """Wait until `count` more passes of `kind` have finished; return the new total."""
        target = self.passes(kind) + count
        return int(wait_for(lambda: (found := self.passes(kind)) >= target and found, timeout,
                            message=f"{count} more {kind} passes (at {self.passes(kind)}, want {target})"))

    def wait_settled(self, passes: int = 2, timeout: float = 180.0) -> None:
        """Wait until `passes` ReleaseManager passes in a row wrote nothing to any target cluster: the clusters
        hold what the operator wants (a state reached a moment ago may still have one write to make)."""
        def settled() -> bool:
            before = self._counters()[1]
            self.wait_passes(passes, timeout=timeout)
            return self._counters()[1] == before

        wait_for(settled, timeout, interval=0.0, message=f"{passes} ReleaseManager passes without a write")

    def send_signal(self, number: int) -> None:
        """Send a signal to the operator process alone (not its children); nothing when it is not running."""
        if self.running:
            assert self._process is not None
            self._process.send_signal(number)

    def kill(self) -> None:
        """SIGKILL the operator (and its children) with no chance to clean up, as an OOM kill or node loss would."""
        if self._process is None:
            return
        if self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(10)
        self._process = None

    def logs(self, tail: int = 80) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-tail:])

    def __enter__(self) -> OperatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for(predicate: Any, timeout: float, interval: float = 0.5, message: str = "condition") -> Any:
    """Poll `predicate()` until it returns a truthy value; raise AssertionError with `message` on timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except Exception as exc:  # transient API errors while things start
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message} (last: {last!r})")
