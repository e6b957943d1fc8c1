"""A stand-in for the kube-controller-manager's ReplicaSet controller and the kubelet, for runs about the
operator alone (the `bench/operator_pass.py` benchmark).

End-to-end tests and `make demo` run the real machinery instead (`picchu.testing.controlplane.machinery`:
kube-controller-manager, kube-scheduler, kwok). Without it the local control plane is only kube-apiserver +
etcd: nothing creates pods, so no ReplicaSet ever reports ready replicas and no rollout could progress. `ReplicaSetReadiness` plays that part, visibly and explicitly:
it polls every ReplicaSet of one cluster and, once a ReplicaSet has asked for the same replica count for
`delay_seconds`, writes `status.replicas/readyReplicas/availableReplicas` equal to `spec.replicas` through
the status subresource (exactly what the real controllers would eventually report). `hold()` freezes a
cluster (pods never become ready) to test capacity gates.

Usage::

    with ReplicaSetReadiness(cluster.api_client(), delay_seconds=2):
        ...  # ReplicaSets in that cluster become available two seconds after each scale change
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client


@dataclass
class ReplicaSetReadiness:
    api_client: client.ApiClient
    delay_seconds: float = 2.0
    poll_seconds: float = 0.5
    _seen: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _held: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> ReplicaSetReadiness:
        self._thread = threading.Thread(target=self._loop, name="replicaset-readiness", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def hold(self) -> None:
        """Stop making pods ready (as if the cluster had no capacity)."""
        self._held.set()

    def release(self) -> None:
        self._held.clear()

    def __enter__(self) -> ReplicaSetReadiness:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self) -> None:
        apps = client.AppsV1Api(self.api_client)
        while not self._stop.is_set():
            try:
                if not self._held.is_set():
                    self.step(apps, time.monotonic())
            except Exception:  # the apiserver may be stopped on purpose by a test; keep polling
                pass
            self._stop.wait(self.poll_seconds)

    def step(self, apps: client.AppsV1Api, now: float) -> int:
        """One poll: make ReplicaSets that waited long enough available. Returns how many were updated."""
        updated = 0
        for rs in apps.list_replica_set_for_all_namespaces().items:
            key = (rs.metadata.namespace, rs.metadata.name)
            wanted = rs.spec.replicas if rs.spec.replicas is not None else 1
            status = rs.status
            available = (status.available_replicas or 0) if status else 0
            if available == wanted and ((status.replicas or 0) if status else 0) == wanted:
                self._seen.pop(key, None)
                continue
            first = self._seen.get(key)
            if first is None or first[0] != wanted:
                self._seen[key] = (wanted, now)
                continue
            if now - first[1] < self.delay_seconds:
                continue
            body: dict[str, Any] = {
                "status": {
                    "replicas": wanted,
                    "fullyLabeledReplicas": wanted,
                    "readyReplicas": wanted,
                    "availableReplicas": wanted,
                    "observedGeneration": rs.metadata.generation,
                }
            }
            apps.patch_namespaced_replica_set_status(rs.metadata.name, rs.metadata.namespace, body)
            self._seen.pop(key, None)
            updated += 1
        return updated
