"""A user's view of a rollout: Revisions applied with kubectl, the real operator, two target clusters."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import TARGETS, World

pytestmark = pytest.mark.e2e


def test_the_first_release_reaches_100_percent_on_both_clusters(world: World) -> None:
    world.register()
    world.start_operator()
    world.revision("v1")
    world.wait(lambda: world.state("v1") == "released", message="v1 released")
    for cluster in TARGETS:
        world.wait(lambda c=cluster: world.weights(c) == {"v1": 100}, message=f"v1 at 100% on {cluster}")
        replicasets = world.replicasets(cluster)
        assert replicasets["v1"].status.available_replicas >= 1
