"""Leader election on a coordination.k8s.io Lease, so two replicas can run and only one acts.

kopf's own "peering" is priority-based and freezes equal replicas, so we use the Lease helper shipped with the
`kubernetes` package (lease id `de705aec.picchu.medium.engineering`, as Picchu). The process blocks until it
leads, calling `waiting()` on every attempt so its liveness probe stays green while it follows, then renews in
a background thread; when renewal fails it exits at once, like controller-runtime, and Kubernetes restarts it
as a follower. Neighbours: `operator.run_operator` calls this before kopf starts watching.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from kubernetes import client
from kubernetes.leaderelection import electionconfig, leaderelection
from kubernetes.leaderelection.resourcelock.leaselock import LeaseLock

log = logging.getLogger(__name__)
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
LEASE_SECONDS, RENEW_DEADLINE_SECONDS, RETRY_SECONDS = 15, 10, 2


def lease_namespace(configured: str, watched: str) -> str:
    """Where the Lease lives: the configured namespace, else the watched one, else the pod's own, else "picchu"."""
    if configured or watched:
        return configured or watched
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or "picchu"
    except OSError:
        return "picchu"


def acquire_leadership(api_client: client.ApiClient, lease_name: str, namespace: str,
                       waiting: Callable[[], None] = lambda: None) -> str:
    """Block until this process holds the Lease; returns its holder identity."""
    identity = f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"
    lock = LeaseLock(lease_name, namespace, identity)
    lock.api_instance = client.CoordinationV1Api(api_client)
    config = electionconfig.Config(
        lock, lease_duration=LEASE_SECONDS, renew_deadline=RENEW_DEADLINE_SECONDS, retry_period=RETRY_SECONDS,
        onstarted_leading=lambda: None, onstopped_leading=lambda: None,
    )
    election = _TolerantElection(config)
    log.info("waiting to lead", extra={"object": lease_name, "namespace": namespace})
    while True:
        waiting()
        if election.try_acquire_or_renew():
            break
        time.sleep(RETRY_SECONDS)
    log.info("leading", extra={"object": lease_name, "namespace": namespace})

    def renew() -> None:
        # returns once the lease could not be renewed within the deadline
        election.renew_loop()
        log.error("lost the leader lease; exiting so a new leader can take over")
        logging.shutdown()
        os._exit(1)

    threading.Thread(target=renew, name="picchu-lease", daemon=True).start()
    return identity


class _TolerantElection(leaderelection.LeaderElection):  # type: ignore[misc]
    """An apiserver that cannot be reached is a failed try (retried until the deadline), never a crash."""

    def try_acquire_or_renew(self) -> bool:
        try:
            return bool(super().try_acquire_or_renew())
        except Exception as exc:
            log.warning("cannot reach the leader Lease: %s", exc)
            return False
