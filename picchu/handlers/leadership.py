"""Leader election on a coordination.k8s.io Lease, so two replicas can run and only one acts.

kopf's own "peering" is priority-based and freezes equal replicas, so we use the Lease helper shipped with the
`kubernetes` package (lease id `de705aec.picchu.medium.engineering`, as Picchu). `acquire_leadership` blocks
until the process leads, calling `waiting()` on every attempt so its liveness probe stays green while it follows,
then renews in a background thread. When renewal fails the process exits at once, like controller-runtime, and
Kubernetes restarts it as a follower. On a graceful stop `Leadership.release()` empties the holder, so a follower
takes over on its next try instead of waiting for the lease to expire (controller-runtime's ReleaseOnCancel).
Neighbours: `operator.run_operator` acquires before kopf starts watching and releases after kopf returns.
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


class _TolerantElection(leaderelection.LeaderElection):  # type: ignore[misc]
    """An apiserver that cannot be reached is a failed try (retried until the deadline), never a crash.
    Once released, no try writes the Lease again."""

    def __init__(self, config: electionconfig.Config) -> None:
        super().__init__(config)
        self.guard = threading.Lock()
        self.released = False

    def try_acquire_or_renew(self) -> bool:
        with self.guard:
            if self.released:
                return False
            try:
                return bool(super().try_acquire_or_renew())
            except Exception as exc:
                log.warning("cannot reach the leader Lease: %s", exc)
                return False


class Leadership:
    """A held Lease: renewed in the background until `release()`."""

    def __init__(self, election: _TolerantElection, api: client.CoordinationV1Api) -> None:
        self.election = election
        self.api = api
        lock = election.election_config.lock
        self.identity, self.name, self.namespace = lock.identity, lock.name, lock.namespace

    def renew_in_background(self) -> None:
        def renew() -> None:
            # returns once the lease could not be renewed within the deadline (or was released)
            self.election.renew_loop()
            if self.election.released:
                return
            log.error("lost the leader lease; exiting so a new leader can take over")
            logging.shutdown()
            os._exit(1)

        threading.Thread(target=renew, name="picchu-lease", daemon=True).start()

    def release(self) -> None:
        """Stop renewing and empty the holder if it is still us; a follower then acquires on its next try."""
        with self.election.guard:
            self.election.released = True
            try:
                lease = self.api.read_namespaced_lease(self.name, self.namespace)
                if lease.spec is None or lease.spec.holder_identity != self.identity:
                    return
                lease.spec.holder_identity = None
                lease.spec.lease_duration_seconds = 1
                self.api.replace_namespaced_lease(self.name, self.namespace, lease)
                log.info("released the leader lease", extra={"object": self.name, "namespace": self.namespace})
            except Exception as exc:  # the lease then simply expires
                log.warning("could not release the leader lease: %s", exc)


def acquire_leadership(api_client: client.ApiClient, lease_name: str, namespace: str,
                       waiting: Callable[[], None] = lambda: None) -> Leadership:
    """Block until this process holds the Lease, then keep renewing it in the background."""
    identity = f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"
    api = client.CoordinationV1Api(api_client)
    lock = LeaseLock(lease_name, namespace, identity)
    lock.api_instance = api
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
    leadership = Leadership(election, api)
    leadership.renew_in_background()
    return leadership
