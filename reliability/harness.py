"""The world every reliability scenario runs in: one local control plane (delivery + targets `a`, `b`), the
ReplicaSet stand-in on each target, and the real `picchu run` process(es) a scenario starts.

Why a harness of its own (not pytest fixtures): scenarios run for minutes, are bounded by their own counts and
deadlines, and report numbers in a table rather than pass/fail per assertion. Everything a scenario reads is
what an operator or a user reads: VirtualService weights, ReplicaSets, statuses, Events, logs, metrics.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kubernetes import client

from picchu import keys
from picchu.testing.builders import revision_manifest
from picchu.testing.controlplane import ControlPlane, ensure_binaries
from picchu.testing.fleet import OperatorProcess, cluster_manifests, ensure_namespace, kubectl_apply
from picchu.testing.replicaset_controller import ReplicaSetReadiness
from picchu.testing.upstream_crds import install_test_environment_crds

TARGETS = ("a", "b")
KINDS = ("revisions", "releasemanagers", "clusters", "clustersecrets", "mirrors", "faultinjectors")


@dataclass
class Row:
    """One line of the summary table."""

    scenario: str
    ok: bool
    seconds: float
    numbers: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class World:
    def __init__(self) -> None:
        self.plane = ControlPlane(("delivery", *TARGETS), workdir=Path(tempfile.mkdtemp(prefix="picchu-rel-")),
                                  binaries=ensure_binaries())
        self.operators: list[OperatorProcess] = []
        self.pollers: list[ReplicaSetReadiness] = []
        self.secrets: set[str] = set()
        self.retired_metrics: list[str] = []
        """Every credential string handed to picchu in this run: none may show up anywhere it writes."""

    def __enter__(self) -> World:
        self.plane.start()
        install_test_environment_crds(self.plane, delivery="delivery")
        self.delivery = self.plane.clusters["delivery"]
        self.apis = {n: c.api_client() for n, c in self.plane.clusters.items()}
        self.pollers = [ReplicaSetReadiness(self.apis[n], delay_seconds=0.5, poll_seconds=0.3).start()
                        for n in TARGETS]
        self.secrets.update(self.plane.clusters[n].token for n in TARGETS)
        return self

    def __exit__(self, *exc: object) -> None:
        for operator in self.operators:
            operator.stop()
            if operator.log_path is not None and os.environ.get("PICCHU_KEEP_LOGS", "") in ("", "0"):
                operator.log_path.unlink(missing_ok=True)
        for poller in self.pollers:
            poller.stop()
        for api in self.apis.values():
            api.close()
        self.plane.stop()
        shutil.rmtree(self.plane.workdir, ignore_errors=True)  # the plane keeps a workdir it was given

    # -- setup ------------------------------------------------------------------------------------------------
    def namespace(self, prefix: str) -> str:
        name = f"{prefix}-{secrets.token_hex(3)}"
        ensure_namespace(self.delivery, name)
        kubectl_apply(self.delivery, [m for n in TARGETS
                                      for m in cluster_manifests(self.plane.clusters[n], "production", namespace=name)])
        return name

    def operator(self, namespace: str, *args: str, env: dict[str, str] | None = None,
                 sync_period: float = 1.0) -> OperatorProcess:
        """Start `picchu run` on `namespace`; its log is kept until the world ends (the secrets scan reads it)."""
        operator = OperatorProcess(self.delivery.kubeconfig_path, namespace=namespace, keep_log=True,
                                   args=("--sync-period-seconds", f"{sync_period:g}", *args),
                                   env=dict(env or {})).start()
        self.operators.append(operator)
        return operator

    def retire(self, *operators: OperatorProcess) -> None:
        """Stop operators a scenario is done with; their logs and last metrics stay for the secrets scan."""
        for operator in operators:
            if operator.running:
                self.retired_metrics.append(self.metrics(operator))
            operator.stop()

    def revision(self, namespace: str, app: str, tag: str, minutes: int, **kwargs: Any) -> None:
        committed = datetime.now(UTC) - timedelta(hours=2) + timedelta(minutes=minutes)
        kubectl_apply(self.delivery, [revision_manifest(app, tag, namespace=namespace, committed=committed, **kwargs)])

    # -- reading ----------------------------------------------------------------------------------------------
    def weights(self, cluster: str, app: str) -> dict[str, int] | None:
        """Release-route weights of `app`'s VirtualService on `cluster` (None when it cannot be read)."""
        try:
            vs = client.CustomObjectsApi(self.apis[cluster]).get_namespaced_custom_object(
                "networking.istio.io", "v1alpha3", f"{app}-production", "virtualservices", app,
                _request_timeout=15)
        except Exception:  # not there yet, or the apiserver (or etcd) is down on purpose
            return None
        for route in vs.get("spec", {}).get("http", []):
            if route.get("name") == "01_release-http":
                return {d["destination"]["subset"]: d.get("weight", 0) for d in route.get("route", [])
                        if d.get("weight", 0)}
        return None

    def entries(self, namespace: str, app: str) -> dict[str, dict[str, Any]]:
        try:
            rm = client.CustomObjectsApi(self.apis["delivery"]).get_namespaced_custom_object(
                keys.GROUP, keys.VERSION, namespace, "releasemanagers", f"{app}-production", _request_timeout=15)
        except Exception:  # not there yet, or the apiserver (or etcd) is down on purpose
            return {}
        return {e["tag"]: e for e in (rm.get("status") or {}).get("revisions") or []}

    def state(self, namespace: str, app: str, tag: str) -> str | None:
        entry = self.entries(namespace, app).get(tag)
        return entry["state"]["current"] if entry else None

    def replicasets(self, cluster: str, app: str) -> dict[str, int]:
        """ReplicaSet name (the tag) → spec.replicas in the app's namespace on `cluster`."""
        items = client.AppsV1Api(self.apis[cluster]).list_namespaced_replica_set(f"{app}-production").items
        return {rs.metadata.name: rs.spec.replicas or 0 for rs in items}

    def revisions(self, namespace: str) -> list[str]:
        items = client.CustomObjectsApi(self.apis["delivery"]).list_namespaced_custom_object(
            keys.GROUP, keys.VERSION, namespace, "revisions")["items"]
        return [o["metadata"]["name"] for o in items]

    def metrics(self, operator: OperatorProcess) -> str:
        try:
            with urllib.request.urlopen(operator.metrics_url, timeout=5) as response:
                return str(response.read().decode())
        except OSError:
            return ""

    def metric_sum(self, operator: OperatorProcess, family: str, **labels: str) -> float:
        """Sum of the samples of counter/gauge `family` (name without `_total`) matching `labels`."""
        from prometheus_client.parser import text_string_to_metric_families

        total = 0.0
        for found in text_string_to_metric_families(self.metrics(operator)):
            if found.name == family:
                total += sum(s.value for s in found.samples if s.name in (family, f"{family}_total")
                             and all(s.labels.get(k) == v for k, v in labels.items()))
        return total

    @staticmethod
    def tracebacks(*operators: OperatorProcess) -> int:
        """Tracebacks in the logs of `operators` (a JSON log line carries one in its `error` field)."""
        return sum(o.log_path.read_text(errors="replace").count("Traceback (most recent call last)")
                   for o in operators if o.log_path and o.log_path.exists())

    @staticmethod
    def traceback_sources(*operators: OperatorProcess, top: int = 3) -> list[str]:
        """The commonest (logger, message, last traceback line) of the tracebacks in the logs of `operators`."""
        import json
        from collections import Counter

        found: Counter[str] = Counter()
        for operator in operators:
            if not (operator.log_path and operator.log_path.exists()):
                continue
            for line in operator.log_path.read_text(errors="replace").splitlines():
                if "Traceback (most recent call last)" not in line:
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    found[f"not JSON: {line[:120]}"] += 1
                    continue
                last = (str(record.get("error", "")).strip().splitlines() or [""])[-1]
                found[f"{record.get('logger')}: {str(record.get('msg'))[:80]} / {last[:160]}"] += 1
        return [f"{count}× {where}" for where, count in found.most_common(top)]

    @staticmethod
    def failed_passes(*operators: OperatorProcess, top: int = 4) -> list[str]:
        """The commonest kinds of failed passes in the logs of `operators`: `count× kind: type: message`."""
        import json
        import re
        from collections import Counter

        found: Counter[str] = Counter()
        for operator in operators:
            if not (operator.log_path and operator.log_path.exists()):
                continue
            for line in operator.log_path.read_text(errors="replace").splitlines():
                if '"error_type"' not in line:
                    continue
                try:
                    message = str(json.loads(line).get("msg", ""))
                except ValueError:
                    continue
                found[re.sub(r'"[^"]*"|\S{40,}', "…", message)[:120]] += 1
        return [f"{count}× {what}" for what, count in found.most_common(top)]

    def written_text(self) -> dict[str, str]:
        """Everything picchu wrote that people read, as text: operator logs, Events, statuses of every kind."""
        texts = {f"log {k}": (o.log_path.read_text(errors="replace") if o.log_path else "")
                 for k, o in enumerate(self.operators)}
        core = client.CoreV1Api(self.apis["delivery"])
        texts["events"] = "\n".join(f"{e.reason} {e.message}" for e in core.list_event_for_all_namespaces().items)
        custom = client.CustomObjectsApi(self.apis["delivery"])
        for kind in KINDS:
            items = custom.list_cluster_custom_object(keys.GROUP, keys.VERSION, kind)["items"]
            texts[f"status {kind}"] = "\n".join(repr(o.get("status")) for o in items)
        return texts
