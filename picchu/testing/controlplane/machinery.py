"""The machinery of one local cluster: kube-controller-manager, kube-scheduler and kwok with fake nodes.

Why: an apiserver alone never runs a Pod. With this, a ReplicaSet the operator writes gets real Pods from
the real ReplicaSet controller, the real scheduler places them on nodes with real CPU/memory capacity, and
kwok (a simulated kubelet) makes them Running/Ready per its stages (`kwok_stages`); the garbage collector,
namespace, disruption (PodDisruptionBudget) and HPA controllers act as in any cluster. Opt-in per cluster
(`ControlPlane(..., machinery=("a", "b"))` or `start_machinery`): tests that only talk to apiservers do not
pay for it.

Neighbours: `cluster.Cluster` (the apiserver, the machinery's identities and their audit log), `kwok` (the
build), `processes` (no orphans), `plane.ControlPlane` (owns one `Machinery` per cluster that asked).

Invariants:
- Every component has its own identity (`cluster.MACHINERY_USERS`), so its requests can be told apart.
- No leader election, no serving ports (`--secure-port=0`), no node heartbeats: nothing that costs an idle
  cluster requests. kwok manages only nodes annotated `kwok.x-k8s.io/node: fake`.
- `start()` returns once every fake node is Ready (schedulable); `stop()` is idempotent.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from picchu.testing.controlplane.cluster import MACHINERY_USERS, Cluster, ClusterStartError
from picchu.testing.controlplane.kwok_stages import STAGES
from picchu.testing.controlplane.processes import ManagedProcess, free_port

# What a target cluster needs for picchu's workloads: Pods from ReplicaSets (and Deployments), owner-reference
# garbage collection, namespace deletion, PodDisruptionBudget status and HPA scaling.
# serviceaccount-controller: the apiserver's ServiceAccount admission (on, as in production) refuses Pods in a
# namespace until its `default` ServiceAccount exists, and that controller creates it.
CONTROLLERS = ("replicaset-controller", "deployment-controller", "garbage-collector-controller",
               "namespace-controller", "disruption-controller", "horizontal-pod-autoscaler-controller",
               "serviceaccount-controller")
FAKE_NODE_ANNOTATION = "kwok.x-k8s.io/node"


@dataclass(frozen=True)
class NodeShape:
    """The fake nodes of one cluster: how many and what each can hold."""

    count: int = 3
    cpu: str = "4"
    memory: str = "16Gi"
    pods: int = 110


DEFAULT_NODES = NodeShape()


class Machinery:
    """The controller-manager, scheduler and kwok of one `Cluster`, plus its fake nodes."""

    def __init__(self, cluster: Cluster, kwok: Path, *, nodes: NodeShape | None = None) -> None:
        self.cluster = cluster
        self.kwok = kwok
        self.nodes = nodes or DEFAULT_NODES
        self.workdir = cluster.workdir / "machinery"
        self._processes: dict[str, ManagedProcess] = {}

    @property
    def node_names(self) -> list[str]:
        return [f"kwok-{self.cluster.name}-{index}" for index in range(self.nodes.count)]

    def launch(self) -> None:
        """Start the three processes without waiting (call from the main thread; see `processes`)."""
        if self.running:
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        users = dict(zip(("kube-controller-manager", "kube-scheduler", "kwok"), MACHINERY_USERS, strict=True))
        for component, user in users.items():
            (self.workdir / f"{component}.kubeconfig").write_text(json.dumps(self.cluster.kubeconfig_dict(user)))
        (self.workdir / "kwok-stages.yaml").write_text(STAGES)
        for component, argv in self._argvs().items():
            process = ManagedProcess(f"{component}[{self.cluster.name}]", argv, self.workdir / f"{component}.log")
            process.start()
            self._processes[component] = process

    def await_ready(self, timeout: float = 120.0) -> None:
        """Create the fake nodes and wait until kwok reports each Ready."""
        self._create_nodes()
        deadline = time.monotonic() + timeout
        waiting = set(self.node_names)
        while waiting and time.monotonic() < deadline:
            self._check_alive()
            for name in list(waiting):
                status, body = self.cluster.get(f"/api/v1/nodes/{name}")
                if status == 200 and _ready(json.loads(body)):
                    waiting.discard(name)
            time.sleep(0.25)
        if waiting:
            raise ClusterStartError(f"kwok did not make nodes {sorted(waiting)} of cluster {self.cluster.name!r} "
                                    f"Ready in {timeout:.0f}s; log {self.workdir / 'kwok.log'}:\n"
                                    f"{self._processes['kwok'].log_tail()}")

    def start(self, timeout: float = 120.0) -> Machinery:
        self.launch()
        self.await_ready(timeout)
        return self

    def stop(self, *, wait: bool = True) -> None:
        for process in self._processes.values():
            process.stop() if wait else process.terminate()

    @property
    def running(self) -> bool:
        return bool(self._processes) and all(p.running for p in self._processes.values())

    def pids(self) -> dict[str, int]:
        return {p.name: p.pid for p in self._processes.values() if p.running and p.pid is not None}

    # --- internals -----------------------------------------------------------------------------
    def _argvs(self) -> dict[str, list[str]]:
        binaries = self.cluster.binaries
        return {
            "kube-controller-manager": [
                str(binaries.kube_controller_manager),
                f"--kubeconfig={self.workdir / 'kube-controller-manager.kubeconfig'}",
                f"--controllers={','.join(CONTROLLERS)}",
                "--leader-elect=false",
                "--secure-port=0",
                "--use-service-account-credentials=false",
                "--horizontal-pod-autoscaler-sync-period=3s",
                "--horizontal-pod-autoscaler-downscale-stabilization=0s",
                "--concurrent-gc-syncs=5",
            ],
            "kube-scheduler": [
                str(binaries.kube_scheduler),
                f"--kubeconfig={self.workdir / 'kube-scheduler.kubeconfig'}",
                "--leader-elect=false",
                "--secure-port=0",
            ],
            "kwok": [
                str(self.kwok),
                f"--kubeconfig={self.workdir / 'kwok.kubeconfig'}",
                f"--config={self.workdir / 'kwok-stages.yaml'}",
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={FAKE_NODE_ANNOTATION}=fake",
                "--node-lease-duration-seconds=0",
                "--cidr=10.244.0.1/16",
                f"--server-address=127.0.0.1:{free_port()}",
            ],
        }

    def _create_nodes(self) -> None:
        for name in self.node_names:
            status, body = self.cluster.request("POST", "/api/v1/nodes", body=json.dumps(self._node(name)).encode(),
                                                content_type="application/json")
            if status not in (201, 409):
                raise ClusterStartError(f"creating fake node {name} in {self.cluster.name!r} answered {status}: "
                                        f"{body[-300:].decode(errors='replace')}")

    def _node(self, name: str) -> dict[str, Any]:
        resources = {"cpu": self.nodes.cpu, "memory": self.nodes.memory, "pods": str(self.nodes.pods)}
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "annotations": {FAKE_NODE_ANNOTATION: "fake"},
                         "labels": {"type": "kwok", "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                    "kubernetes.io/arch": "amd64"}},
            "spec": {},
            "status": {"allocatable": resources, "capacity": resources},
        }

    def _check_alive(self) -> None:
        for process in self._processes.values():
            if not process.running:
                raise ClusterStartError(f"{process.name} exited with {process.exit_code}; log {process.log_path}:\n"
                                        f"{process.log_tail()}")


def _ready(node: dict[str, Any]) -> bool:
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
