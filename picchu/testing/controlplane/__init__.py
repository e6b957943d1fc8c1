"""Local control plane: real kube-apiservers + one etcd on loopback, built from Go modules.

Why: everything picchu does is talk to Kubernetes API servers (one delivery cluster, many targets), so
its tests, demo and benchmarks run against real apiservers, the way envtest does for Go operators.

Usage::

    from picchu.testing.controlplane import ControlPlane

    with ControlPlane(["delivery", "a", "b"]) as cp:
        a = cp.clusters["a"]
        a.kubectl("create", "namespace", "demo")
        core = kubernetes.client.CoreV1Api(a.api_client())
        a.stop_apiserver(); a.start_apiserver()   # same port, same token, same data

    with ControlPlane(["delivery", "a"], machinery=["a"]) as cp:   # `a` runs real Pods on kwok nodes
        ...

Command line: ``python -m picchu.testing.controlplane build`` (idempotent; builds kube-apiserver,
kube-controller-manager, kube-scheduler, etcd, kubectl (and helm) into
``~/.cache/picchu/controlplane/<k8s version>/<pin digest>/bin`` and kwok into ``~/.cache/picchu/kwok/``) and
``python -m picchu.testing.controlplane up --clusters delivery,a,b [--machinery a,b] [--dir DIR]``.

Modules: `binaries` (build + cache), `kwok` (its build), `processes` (no orphans), `cluster` (one
apiserver), `machinery` (a cluster's controller-manager, scheduler, kwok and fake nodes), `kwok_stages`,
`plane` (etcd + clusters). A cluster without machinery is an apiserver alone: no garbage collection,
namespace finalization (deleted namespaces stay Terminating), controllers or Pods, and no token controller
(`kubernetes.io/service-account-token` Secrets stay empty: get tokens with `Cluster.service_account_token`,
the TokenRequest API).
"""

from picchu.testing.controlplane.binaries import (
    Binaries,
    ControlPlaneUnavailable,
    build_binaries,
    cached_binaries,
    ensure_binaries,
    pinned_kubernetes_version,
)
from picchu.testing.controlplane.cluster import Cluster, ClusterStartError, KubectlError
from picchu.testing.controlplane.plane import ControlPlane

__all__ = [
    "Binaries",
    "Cluster",
    "ClusterStartError",
    "ControlPlane",
    "ControlPlaneUnavailable",
    "KubectlError",
    "build_binaries",
    "cached_binaries",
    "ensure_binaries",
    "pinned_kubernetes_version",
]
