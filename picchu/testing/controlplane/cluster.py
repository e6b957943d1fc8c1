"""One logical Kubernetes cluster of the local control plane: a kube-apiserver on its own port.

Why: picchu talks to one delivery cluster and many target clusters. Each `Cluster` here is a separate
kube-apiserver (own port, own certificates, own `--etcd-prefix` on the shared etcd), so an object in one
is invisible in another, exactly like separate clusters.

Neighbours: `plane.ControlPlane` creates clusters and owns the etcd; `processes` keeps the apiserver
from outliving the test run; `picchu.testing.upstream_crds` and `picchu.testing.requests` take a
`Cluster`.

Invariants:
- The admin is a static bearer token in group `system:masters`, for setup only; least-privilege identities
  are ServiceAccounts with tokens the apiserver issues (`service_account_token`, the TokenRequest API), as in
  production (ServiceAccount admission on, RBAC on). TLS is verified against the self-signed CA the apiserver
  writes into its cert dir (`ca_data`).
- Every request made with a ServiceAccount token is recorded at audit level Metadata in `audit_log_path`
  (JSON lines), so tests can measure what an identity really used and catch every 403.
- `stop_apiserver()` / `start_apiserver()` keep the port, certificates and token, so clients built
  before a restart work again afterwards.
- The cluster machinery (`machinery.Machinery`: kube-controller-manager, kube-scheduler, kwok) authenticates
  as its own users (`MACHINERY_USERS`, also in `system:masters`); the apiserver audit-logs exactly their
  requests to the same audit log (`machinery_audit_log`), so `picchu.testing.requests` can tell the
  operator's requests from the machinery's (counting from `audit_offset_at_launch`, as `/metrics` restarts with
  the process).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from picchu.testing.controlplane.binaries import Binaries
from picchu.testing.controlplane.processes import ManagedProcess, free_port, port_in_use_error

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

_PORT_ATTEMPTS = 5
# Metadata (who, verb, resource, namespace, response code; no bodies) for ServiceAccounts (what an identity
# really used, every 403), for the machinery's own users and for the apiserver's loopback client (its own
# informers re-open their WATCHes every 30-60 min, and it renews its identity Lease): request counts leave
# those out. Nothing else: the admin's setup traffic stays out of the log.
MACHINERY_USERS = ("picchu-kube-controller-manager", "picchu-kube-scheduler", "picchu-kwok")
APISERVER_USER = "system:apiserver"
_AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived", "ResponseStarted"],
    "rules": [{"level": "Metadata", "userGroups": ["system:serviceaccounts"]},
              {"level": "Metadata", "users": [*MACHINERY_USERS, APISERVER_USER]},
              {"level": "None"}],
}


class KubectlError(subprocess.CalledProcessError):
    """kubectl failed; `str()` includes its stderr so test failures explain themselves."""

    def __str__(self) -> str:
        return f"{super().__str__()}\nstderr: {(self.stderr or '').strip()}"


class ClusterStartError(RuntimeError):
    """An apiserver did not become ready; the message carries the tail of its log."""


class Cluster:
    """A running (or stopped) kube-apiserver that is one logical cluster."""

    def __init__(self, name: str, *, workdir: Path, binaries: Binaries, etcd_url: str,
                 service_account_key: Path) -> None:
        self.name = name
        self.workdir = workdir
        self.binaries = binaries
        self.token = secrets.token_hex(24)
        self.machinery_tokens = {user: secrets.token_hex(24) for user in MACHINERY_USERS}
        self.audit_offset_at_launch = 0
        self.port = 0
        self._etcd_url = etcd_url
        self._service_account_key = service_account_key
        self._process: ManagedProcess | None = None
        self._ca_data: bytes | None = None
        self._keep_port = False
        self._attempt = 1
        self._launched_at: datetime | None = None
        self.startup_windows: list[tuple[datetime, datetime]] = []
        """(launched, ready) of every start: an apiserver answers before its RBAC caches are filled, so a
        request it serves in that window may be refused (403) whatever the caller's roles."""

    # --- connection details -------------------------------------------------------------------
    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_data(self) -> bytes:
        """PEM bytes that verify the apiserver's serving certificate."""
        if self._ca_data is None:
            self._ca_data = (self.workdir / "certs" / "apiserver.crt").read_bytes()
        return self._ca_data

    @property
    def kubeconfig_path(self) -> Path:
        return self.workdir / "kubeconfig"

    @property
    def log_path(self) -> Path:
        return self.workdir / "kube-apiserver.log"

    @property
    def audit_log_path(self) -> Path:
        """Audit events (one JSON object a line) of requests made with ServiceAccount tokens."""
        return self.workdir / "audit.log"

    @property
    def machinery_audit_log(self) -> Path:
        """Where the machinery's requests are logged: the one audit log (`audit_log_path`)."""
        return self.audit_log_path

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process and self._process.running else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    def kubeconfig_dict(self, user: str | None = None) -> dict[str, Any]:
        """A kubeconfig (as a dict) with one context named after the cluster; the admin's unless `user`
        names one of `MACHINERY_USERS`."""
        token = self.machinery_tokens[user] if user else self.token
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": self.name, "cluster": {
                "server": self.server,
                "certificate-authority-data": base64.b64encode(self.ca_data).decode(),
            }}],
            "users": [{"name": f"{self.name}-{user or 'admin'}", "user": {"token": token}}],
            "contexts": [{"name": self.name, "context": {"cluster": self.name,
                                                         "user": f"{self.name}-{user or 'admin'}"}}],
            "current-context": self.name,
            "preferences": {},
        }

    def api_client(self) -> ApiClient:
        """A new, independent `kubernetes.client.ApiClient` for this cluster (caller may close it)."""
        from kubernetes import config

        api: ApiClient = config.new_client_from_config_dict(
            self.kubeconfig_dict(), persist_config=False)
        return api

    def service_account_token(self, namespace: str, name: str, *, seconds: int = 24 * 3600) -> str:
        """A token for ServiceAccount `namespace/name`, issued by the apiserver (TokenRequest), as a pod gets."""
        body = json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                           "spec": {"expirationSeconds": seconds}}).encode()
        status, answer = self.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
                                      body=body, content_type="application/json")
        if status != 201:
            raise RuntimeError(f"TokenRequest for {namespace}/{name} on {self.name} answered {status}: "
                               f"{answer[-300:].decode(errors='replace')}")
        return str(json.loads(answer)["status"]["token"])

    def kubeconfig_for_token(self, token: str, user: str) -> dict[str, Any]:
        """A kubeconfig (as a dict) for this cluster that authenticates with `token` as `user`."""
        config = self.kubeconfig_dict()
        config["users"] = [{"name": user, "user": {"token": token}}]
        config["contexts"] = [{"name": self.name, "context": {"cluster": self.name, "user": user}}]
        return config

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.ca_data.decode())

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """Run the built kubectl against this cluster; with `check`, a failure raises `KubectlError`."""
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig_path),
               "KUBECACHEDIR": str(self.workdir / "kubectl-cache")}
        result = subprocess.run([str(self.binaries.kubectl), *args], input=input, env=env,
                                capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise KubectlError(result.returncode, result.args, result.stdout, result.stderr)
        return result

    def get(self, path: str, *, timeout: float = 10.0) -> tuple[int, bytes]:
        """GET a raw API path (e.g. `/metrics`) with the admin token; returns (status, body)."""
        return self.request("GET", path, timeout=timeout)

    def request(self, method: str, path: str, *, body: bytes | None = None, content_type: str | None = None,
                timeout: float = 30.0) -> tuple[int, bytes]:
        """One raw HTTP request with the admin token; returns (status, body) for any status."""
        headers = {"Authorization": f"Bearer {self.token}"}
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(self.server + path, data=body, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=self.ssl_context()) as response:
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as error:
            return int(error.code), bytes(error.read())

    # --- lifecycle -----------------------------------------------------------------------------
    def start_apiserver(self, *, timeout: float = 180.0) -> None:
        """Start the apiserver (on its previous port after a stop) and wait for it to be ready."""
        self.launch_apiserver()
        self.await_apiserver(timeout=timeout)

    def launch_apiserver(self) -> None:
        """Start the process without waiting (`await_apiserver` waits). Call from the main thread:
        children started there die with the Python process even when it is SIGKILLed."""
        if self.running:
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._write_token_file()
        self._keep_port = self.port != 0
        self._attempt = 1
        self._launched_at = datetime.now(UTC)
        self._launch()

    def await_apiserver(self, *, timeout: float = 180.0) -> None:
        """Wait for `/readyz`; on a port collision start again (on a new port, unless restarting)."""
        assert self._process is not None, "launch_apiserver() first"
        while True:
            try:
                self._wait_ready(timeout)
                break
            except ClusterStartError:
                collided = port_in_use_error(self._process.current_log())
                self._process.stop()
                if not collided or self._attempt >= _PORT_ATTEMPTS:
                    raise
                self._attempt += 1
                time.sleep(1.0 if self._keep_port else 0.0)  # same port: give its holder time to let go
                self._launch()
        self._write_kubeconfig()
        if self._launched_at is not None:
            self.startup_windows.append((self._launched_at, datetime.now(UTC)))

    def _launch(self) -> None:
        if not self._keep_port:
            self.port = free_port()
        # Request counts restart with the process, as /metrics do: `picchu.testing.requests` reads the audit log
        # from here on. (The log itself is kept whole: permission checks read all of it.)
        self.audit_offset_at_launch = self.audit_log_path.stat().st_size if self.audit_log_path.exists() else 0
        self._process = ManagedProcess(f"kube-apiserver[{self.name}]", self._argv(), self.log_path)
        self._process.start()

    def stop_apiserver(self, *, wait: bool = True) -> None:
        """Stop this cluster's apiserver only; its data stays in etcd and its port is kept.

        `wait=False` only sends SIGTERM (to stop several at once); call again with `wait=True`."""
        if self._process is not None:
            self._process.stop() if wait else self._process.terminate()

    def _argv(self) -> list[str]:
        return [
            str(self.binaries.kube_apiserver),
            f"--etcd-servers={self._etcd_url}",
            f"--etcd-prefix=/{self.name}/registry",
            f"--secure-port={self.port}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--cert-dir={self.workdir / 'certs'}",
            f"--service-account-key-file={self._service_account_key}",
            f"--service-account-signing-key-file={self._service_account_key}",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--token-auth-file={self.workdir / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            f"--audit-policy-file={self.workdir / 'audit-policy.yaml'}",
            f"--audit-log-path={self.audit_log_path}",
            "--audit-log-format=json",
            # TaintNodesByCondition taints every new Node not-ready until a node-lifecycle controller lifts
            # it; the machinery's kwok nodes have none (and need none: they never become unready).
            "--disable-admission-plugins=TaintNodesByCondition",
            "--endpoint-reconciler-type=none",
            # Room for 65,000 Services: one per app per cluster, and the scale bench goes to 1,000 apps (a /24
            # refused the 255th Service with "failed to allocate a serviceIP").
            "--service-cluster-ip-range=10.0.0.0/16",
            "--allow-privileged=true",
            "--profiling=false",
            "--audit-log-mode=blocking",
        ]

    def _write_token_file(self) -> None:
        lines = [f"{self.token},picchu-admin,picchu-admin,system:masters"]
        lines += [f"{token},{user},{user},system:masters" for user, token in self.machinery_tokens.items()]
        (self.workdir / "tokens.csv").write_text("\n".join(lines) + "\n")
        (self.workdir / "audit-policy.yaml").write_text(json.dumps(_AUDIT_POLICY, indent=2))

    def _write_kubeconfig(self) -> None:
        self._ca_data = None  # re-read: a fresh cert dir means a fresh CA
        # JSON is YAML that Go's YAML 1.1 parser cannot misread (a cluster named `y` is not a bool).
        self.kubeconfig_path.write_text(json.dumps(self.kubeconfig_dict(), indent=2))

    def _wait_ready(self, timeout: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if not self._process.running:
                raise ClusterStartError(
                    f"kube-apiserver for cluster {self.name!r} exited with {self._process.exit_code}; "
                    f"log {self.log_path}:\n{self._process.log_tail()}")
            if (self.workdir / "certs" / "apiserver.crt").exists():
                try:
                    self._ca_data = None
                    status, body = self.get("/readyz", timeout=5)
                    if status == 200:
                        # Ready also means usable: the bootstrap creates `default` just after /readyz.
                        status, body = self.get("/api/v1/namespaces/default", timeout=5)
                        if status == 200:
                            return
                    last = f"answered {status}: {body[-300:].decode(errors='replace')}"
                except (OSError, ssl.SSLError) as error:
                    last = str(error)
            time.sleep(0.25)
        raise ClusterStartError(
            f"kube-apiserver for cluster {self.name!r} not ready after {timeout:.0f}s ({last}); "
            f"log {self.log_path}:\n{self._process.log_tail()}")

    def __repr__(self) -> str:
        return f"Cluster(name={self.name!r}, server={self.server!r}, running={self.running})"
