"""Leader election on a coordination.k8s.io Lease, so two replicas can run and only one acts.

kopf's own "peering" is priority-based and freezes equal replicas, so we use the Lease helper shipped with the
`kubernetes` package (lease id `de705aec.picchu.medium.engineering`, as Picchu). The process blocks until it
leads, then renews in a background thread; when renewal fails it exits at once, like controller-runtime, and
Kubernetes restarts it as a follower.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid

from kubernetes import client
from kubernetes.leaderelection import electionconfig, leaderelection
from kubernetes.leaderelection.resourcelock.leaselock import LeaseLock

log = logging.getLogger(__name__)


def acquire_leadership(api_client: client.ApiClient, lease_name: str, namespace: str) -> None:
    identity = f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"
    lock = LeaseLock(lease_name, namespace, identity)
    lock.api_instance = client.CoordinationV1Api(api_client)
    config = electionconfig.Config(
        lock, lease_duration=15, renew_deadline=10, retry_period=2,
        onstarted_leading=lambda: None, onstopped_leading=lambda: None,
    )
    election = leaderelection.LeaderElection(config)
    log.info("waiting to lead", extra={"object": lease_name, "namespace": namespace})
    election.acquire()
    log.info("leading", extra={"object": lease_name, "namespace": namespace})

    def renew() -> None:
        election.renew_loop()
        log.error("lost the leader lease; exiting so a new leader can take over")
        os._exit(1)

    threading.Thread(target=renew, name="picchu-lease", daemon=True).start()
