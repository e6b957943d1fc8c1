"""Sharding (issue 16): two shards and a standby replica of one; every app is written by exactly one shard.

Who wrote what is read from the delivery apiserver's audit log: the operator puts its shard and pid in the
user agent of every request. The standby of shard 0 takes over when its leader is killed (SIGKILL, no
hand-over): the apps of shard 0 created afterwards are released by the standby, still by shard 0 only.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from datetime import timedelta

import pytest

from picchu.handlers.shards import shard_of
from picchu.testing import audit
from picchu.testing.builders import revision_manifest
from picchu.testing.fleet import OperatorProcess, kubectl_apply
from tests.e2e.conftest import World

pytestmark = pytest.mark.e2e
WRITES = ("create", "update", "patch", "delete")
AGENT = re.compile(r"picchu/shard-(\d+)-of-(\d+)/pid-(\d+)")


def _ready(operator: OperatorProcess) -> bool:
    try:
        with urllib.request.urlopen(operator.health_url + "/readyz", timeout=5) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def _apps(world: World, shard: int, count: int, prefix: str) -> list[str]:
    """`count` app names of this test that hash to `shard` of 2."""
    names = (f"{world.app}{prefix}{n}" for n in range(1000))
    return [a for a in names if shard_of(world.namespace, a, 2) == shard][:count]


def _writers(world: World) -> dict[str, set[tuple[int, int]]]:
    """App → {(shard, pid)} of every write to its Revisions and ReleaseManagers."""
    requests, _ = audit.read_requests(world.delivery.audit_log_path, world._audit_from["delivery"])
    found: dict[str, set[tuple[int, int]]] = {}
    for r in requests:
        match = AGENT.search(r.user_agent)
        if not match or r.verb not in WRITES or r.namespace != world.namespace:
            continue
        kind = r.resource.split("/")[0]
        if kind == "releasemanagers":
            app = r.name.removesuffix("-production")
        elif kind == "revisions":
            app = r.name.rsplit("-", 1)[0]
        elif kind == "clusters":
            app = "<clusters>"
        else:
            continue
        found.setdefault(app, set()).add((int(match[1]), int(match[3])))
    return found


def test_each_app_is_written_by_one_shard_and_a_standby_takes_over_its_shard(world: World) -> None:
    world.register("a")
    shard0 = [world.new_operator("--enable-leader-election", "--shards", "2", "--shard-index", "0").start()
              for _ in range(2)]
    shard1 = world.new_operator("--enable-leader-election", "--shards", "2", "--shard-index", "1").start()
    leader = world.wait(lambda: next((o for o in shard0 if _ready(o)), None), timeout=180,
                        message="a leader of shard 0")
    standby = next(o for o in shard0 if o is not leader)
    world.wait(lambda: _ready(shard1), timeout=180, message="the leader of shard 1")
    assert not _ready(standby), "only one replica of a shard leads"
    world.operator = leader

    first = {0: _apps(world, 0, 3, "x"), 1: _apps(world, 1, 3, "x")}
    kubectl_apply(world.delivery, [revision_manifest(a, "v1", namespace=world.namespace, committed=world.start_time,
                                                     fleet="production") for apps in first.values() for a in apps])

    def released(app: str) -> bool:
        saved, world.app = world.app, app
        try:
            return world.state("v1") == "released"
        finally:
            world.app = saved

    for app in [a for apps in first.values() for a in apps]:
        world.wait(lambda a=app: released(a), timeout=300, message=f"{app} released")

    # Who led shard 0: the one process that wrote its apps so far (afterwards the standby owns them too).
    leader_pid = _only_writer(_writers(world), first[0])
    leader.kill()  # no hand-over: the standby waits for the Lease to expire
    world.operator = standby
    world.wait(lambda: _ready(standby), timeout=180, message="the standby of shard 0 takes over")
    later = _apps(world, 0, 2, "y")
    kubectl_apply(world.delivery, [revision_manifest(a, "v1", namespace=world.namespace, committed=world.start_time
                                                     + timedelta(minutes=1), fleet="production") for a in later])
    for app in later:
        world.wait(lambda a=app: released(a), timeout=300, message=f"{app} released by the standby")

    writers = _writers(world)
    for shard, apps in first.items():
        for app in apps:
            assert {s for s, _ in writers.get(app, set())} == {shard}, f"{app}: written by {writers.get(app)}"
    for app in later:
        assert {s for s, _ in writers[app]} == {0}, f"{app}: written by {writers[app]}"
        assert all(pid != leader_pid for _, pid in writers[app]), "the killed leader wrote nothing after"
    assert {s for s, _ in writers.get("<clusters>", set())} <= {0}, "only shard 0 writes Clusters"
    assert standby.running and shard1.running


def _only_writer(writers: dict[str, set[tuple[int, int]]], apps: list[str]) -> int:
    pids = {pid for app in apps for _, pid in writers.get(app, set())}
    assert len(pids) == 1, f"one process of shard 0 wrote its first apps: {pids}"
    return pids.pop()
