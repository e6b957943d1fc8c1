"""Sharding by app: a stable, even split in which every app has exactly one shard and one Lease per shard."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

from picchu.handlers.shards import Shard, shard_of
from picchu.settings import Settings


def test_every_app_belongs_to_exactly_one_shard_and_the_split_is_roughly_even() -> None:
    for count in (2, 4):
        shards = [Shard(i, count) for i in range(count)]
        sizes: Counter[int] = Counter()
        for n in range(2000):
            owners = [s.index for s in shards if s.owns_app("picchu", f"app{n}")]
            assert len(owners) == 1
            sizes[owners[0]] += 1
        assert min(sizes.values()) > 2000 / count * 0.8, sizes


def test_the_shard_of_an_app_is_the_same_in_another_process() -> None:
    here = [shard_of("picchu", f"app{n}", 4) for n in range(50)]
    code = "from picchu.handlers.shards import shard_of; print([shard_of('picchu', f'app{n}', 4) for n in range(50)])"
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "123", "PATH": ""}, cwd=".").stdout
    assert there.strip() == str(here)


def test_the_namespace_is_part_of_the_app() -> None:
    assert len({shard_of(f"team{n}", "echo", 8) for n in range(50)}) > 1


def test_unsharded_owns_everything_under_picchus_lease_and_shards_have_their_own() -> None:
    single = Shard()
    assert single.owns_app("any", "app") and single.owns_clusters
    assert single.lease_name("de705aec.picchu.medium.engineering") == "de705aec.picchu.medium.engineering"
    assert [Shard(i, 2).lease_name("x") for i in range(2)] == ["picchu-shard-0-of-2", "picchu-shard-1-of-2"]
    assert [Shard(i, 2).owns_clusters for i in range(2)] == [True, False]


def test_shard_settings_out_of_range_are_refused_with_the_fix() -> None:
    assert any("--shard-index 2" in p for p in Settings(shards=2, shard_index=2).problems())
    assert any("--shards 0" in p for p in Settings(shards=0).problems())
    assert not [p for p in Settings(shards=4, shard_index=3, holiday_calendar="").problems() if "shard" in p]
