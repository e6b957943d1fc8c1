"""A local cluster with its machinery behaves like a real one: the ReplicaSet controller creates Pods, the
scheduler places them by the nodes' capacity, kwok makes them Ready (or not, as annotated), and the
machinery's own requests are not counted as anyone else's."""

from __future__ import annotations

import os
import time
from typing import Any

from kubernetes import client

from picchu.testing.controlplane import ControlPlane
from picchu.testing.controlplane.kwok_stages import READY_AFTER_ANNOTATION
from picchu.testing.fleet import wait_for
from picchu.testing.requests import HOUSEKEEPING, RequestCounter, delta


def _replica_set(name: str, replicas: int, cpu: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels, "annotations": annotations or {}},
            "spec": {"containers": [{"name": "app", "image": "registry.example/app:1",
                                     "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}]}}},
    }


def _ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))


def _pods(core: client.CoreV1Api, app: str) -> list[Any]:
    return list(core.list_namespaced_pod("default", label_selector=f"app={app}").items)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_cluster_with_machinery_runs_real_pods_on_fake_nodes_and_counts_only_other_requests(
        tmp_path, control_plane_binaries, kwok_binary):
    plane = ControlPlane(["m"], workdir=tmp_path, binaries=control_plane_binaries, machinery=["m"])
    with plane:
        cluster = plane.clusters["m"]
        api = cluster.api_client()
        core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        nodes = set(plane.machinery["m"].node_names)
        assert {n.metadata.name for n in core.list_node().items} == nodes

        apps.create_namespaced_replica_set("default", _replica_set("web", 3, "1"))
        wait_for(lambda: len(pods := _pods(core, "web")) == 3 and all(_ready(p) for p in pods), 120,
                 message="3 Ready web Pods")
        assert {p.spec.node_name for p in _pods(core, "web")} <= nodes
        assert wait_for(lambda: apps.read_namespaced_replica_set("web", "default").status.available_replicas == 3,
                        60, message="the ReplicaSet counts 3 available")

        # Scheduling is real: no node has 5 CPUs.
        apps.create_namespaced_replica_set("default", _replica_set("big", 1, "5"))
        pending = wait_for(lambda: [c for p in _pods(core, "big") for c in (p.status.conditions or [])
                                    if c.type == "PodScheduled" and c.reason == "Unschedulable"], 60,
                           message="the 5-CPU Pod is unschedulable")
        assert "Insufficient cpu" in pending[0].message

        # A Pod annotated never-ready runs but never becomes Ready.
        apps.create_namespaced_replica_set("default", _replica_set("stuck", 1, "100m",
                                                                   {READY_AFTER_ANNOTATION: "never"}))
        wait_for(lambda: [p for p in _pods(core, "stuck") if p.status.phase == "Running"], 60,
                 message="the never-ready Pod runs")
        time.sleep(3)  # ready stages fire after one second; give them ample time to (wrongly) fire
        assert not any(_ready(p) for p in _pods(core, "stuck"))

        # Only our own requests are counted: one scale PATCH, not the controller's Pod POSTs or kwok's PATCHes.
        counter = RequestCounter(cluster)
        before = counter.snapshot()
        apps.patch_namespaced_replica_set("web", "default", {"spec": {"replicas": 5}})
        wait_for(lambda: len(pods := _pods(core, "web")) == 5 and all(_ready(p) for p in pods), 120,
                 message="5 Ready web Pods")
        change = delta(before, counter.snapshot()).without(*HOUSEKEEPING)
        assert change.by_resource(verbs=("POST", "PUT", "PATCH", "APPLY", "DELETE")) == {"replicasets.apps": 1}

        # Deleting the ReplicaSet deletes its Pods (garbage collector + kwok finishing the deletions).
        apps.delete_namespaced_replica_set("web", "default", propagation_policy="Background")
        wait_for(lambda: not _pods(core, "web"), 120, message="the web Pods are gone")
        pids = plane.pids()
        api.close()

    assert {"kube-controller-manager[m]", "kube-scheduler[m]", "kwok[m]"} <= set(pids)
    assert not [name for name, pid in pids.items() if _pid_alive(pid)]
