"""Sharding by app: `picchu run --shards M --shard-index K` handles only the apps that hash to K.

Why: one process has one event loop and one GIL; beyond a few thousand apps it cannot pass over each app
within the sync period (issue 16). M processes split the apps between them; each shard elects its own leader
on its own Lease (`picchu-shard-K-of-M`), so every shard runs exactly once however many replicas run.

Decisions:
- An app is `namespace/app name`; its shard is a stable hash of that string (blake2b, not Python's `hash`,
  which changes per process), so every process agrees, across restarts and versions. Every kind of one app
  (its Revisions and ReleaseManagers) lands on the same shard: the Revision pass creates and wakes its
  ReleaseManagers, so they must be served together. An object with no readable app name (malformed) is
  sharded by its own name: it only needs its problem reported, once, by one shard.
- Clusters and ClusterSecrets are shared by many apps: shard 0 alone runs their passes (status, finalizers,
  secret copies), so two shards never write the same object. Every shard still watches Clusters to wake its
  own apps when a fleet changes, and builds its own client per cluster when its apps need one.
- Every shard watches every object (the filter is applied to the events): watches are cheap next to passes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


def shard_of(namespace: str, app: str, shards: int) -> int:
    """The shard (0..shards-1) of app `namespace/app`: the same answer in every process and release."""
    digest = hashlib.blake2b(f"{namespace}/{app}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

    def owns_app(self, namespace: str, app: str) -> bool:
        return self.count <= 1 or shard_of(namespace, app, self.count) == self.index

    @property
    def owns_clusters(self) -> bool:
        """Cluster and ClusterSecrets passes run on shard 0 only."""
        return self.index == 0

    def lease_name(self, single: str) -> str:
        """The Lease this shard elects its leader on (`single`, Picchu's lease id, when not sharded)."""
        return single if self.count <= 1 else f"picchu-shard-{self.index}-of-{self.count}"
