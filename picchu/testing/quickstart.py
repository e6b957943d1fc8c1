"""What `python -m picchu.testing.controlplane up --fleet NAME` adds so a person can roll out with kubectl alone.

A bare control plane is not enough for a first rollout: the target clusters must be registered (a Cluster and
its credentials Secret per cluster, which only the control plane knows how to write for local apiservers),
Pods must run (the target clusters run their machinery: controllers, scheduler, kwok nodes), and the SLO
rollback example needs a Prometheus whose alerts a person can trigger. This module writes `fleet.yaml` and an
`env` file into the work directory, and optionally runs the bundled Prometheus
(`SloAlerts`), whose alert fires for every Revision annotated `quickstart.picchu.dev/errors: "true"`.
"""

from __future__ import annotations

import shlex
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from picchu import keys
from picchu.testing.controlplane.plane import ControlPlane
from picchu.testing.fleet import cluster_manifests

ERRORS_ANNOTATION = "quickstart.picchu.dev/errors"


def write_fleet(plane: ControlPlane, fleet: str, namespace: str, targets: list[str]) -> Path:
    """`fleet.yaml`: a Cluster labelled with the fleet and its `auth-info` Secret, per target cluster."""
    manifests = [m for name in targets for m in cluster_manifests(plane.clusters[name], fleet, namespace=namespace)]
    path = plane.workdir / "fleet.yaml"
    header = (f"# Fleet {fleet!r}: one Cluster (labelled {keys.LABEL_FLEET}) and one credentials Secret (key\n"
              f"# {keys.SECRET_AUTH_INFO_KEY}: a kubeconfig user) per target cluster, for namespace {namespace!r}.\n")
    path.write_text(header + yaml.safe_dump_all(manifests, sort_keys=False))
    return path


def write_env(plane: ControlPlane, delivery: str, namespace: str, kubectl: Path,
              prometheus_url: str | None) -> Path:
    """`env`: variables for kubectl (KUBECONFIG with a context per cluster) and `picchu run` (PICCHU_*)."""
    values = {
        "KUBECONFIG": str(plane.kubeconfig_path),
        "PATH": f"{kubectl.parent}:$PATH",
        "PICCHU_KUBECONFIG": str(plane.clusters[delivery].kubeconfig_path),
        "PICCHU_NAMESPACE": namespace,
        "PICCHU_SYNC_PERIOD_SECONDS": "2",
        "PICCHU_METRICS_ADDR": "127.0.0.1:8383",
        "PICCHU_HEALTH_ADDR": "127.0.0.1:8080",
    }
    if prometheus_url:
        values["PICCHU_PROMETHEUS_QUERY_ADDRESS"] = prometheus_url
        values["PICCHU_PROMETHEUS_QUERY_TTL"] = "1"
    path = plane.workdir / "env"
    lines = [f'export {k}="{v}"' if k == "PATH" else f"export {k}={shlex.quote(v)}" for k, v in values.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class ErrorSwitch:
    """Sets the bundled exporter's error gauge of each Revision from its `quickstart.picchu.dev/errors`
    annotation, so `kubectl annotate revision ... quickstart.picchu.dev/errors=true` fires its SLO alert."""

    api: client.ApiClient
    namespace: str
    exporter: Any
    poll_seconds: float = 1.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> ErrorSwitch:
        self._thread = threading.Thread(target=self._loop, name="quickstart-errors", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def step(self) -> None:
        revisions = client.CustomObjectsApi(self.api).list_namespaced_custom_object(
            keys.GROUP, keys.VERSION, self.namespace, "revisions")
        for rev in revisions.get("items", []):
            app = (rev.get("spec") or {}).get("app") or {}
            if not app.get("name") or not app.get("tag"):
                continue
            annotations = rev["metadata"].get("annotations") or {}
            self.exporter.set(1.0 if annotations.get(ERRORS_ANNOTATION) == "true" else 0.0,
                              app=app["name"], tag=app["tag"])

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception:  # the namespace may not exist yet; keep polling
                pass
            self._stop.wait(self.poll_seconds)
