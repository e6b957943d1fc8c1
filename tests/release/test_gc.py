"""Garbage collection (spec §14, samples §3.7 `defaultStrategy_test.go`), with §17 #26 fixed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from picchu.release.gc import GcEntry, find_garbage

NOW = datetime(2026, 6, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def rev(year: int, state: str, *, born: datetime | None = None, has_revision: bool = True) -> GcEntry:
    return GcEntry(
        tag=str(year), state=state, born=born or datetime(year, 1, 1, tzinfo=UTC), ttl=HOUR,
        has_revision=has_revision,
    )  # fmt: skip


MIXED = [
    rev(2000, "retired"), rev(2001, "retired"), rev(2002, "retired"), rev(2008, "releasing"),
    rev(2003, "retired"), rev(2010, "released"), rev(2009, "pendingrelease"), rev(2011, "failed"),
    rev(2012, "deployed"), rev(2013, "canaried"), rev(2014, "tested"), rev(2015, "canarying"),
    rev(2004, "retired"), rev(2016, "canarieddatadog"), rev(2017, "canaryingdatadog"),
]  # fmt: skip


def test_the_three_newest_retired_revisions_are_kept_for_rollback() -> None:
    entries = [rev(y, "retired") for y in range(2000, 2005)]
    assert find_garbage(entries, NOW) == ["2001", "2000"]


def test_only_retired_and_failed_revisions_past_their_ttl_are_collected() -> None:
    assert find_garbage(MIXED, NOW) == ["2011", "2001", "2000"]


def test_newer_unexpired_retired_revisions_use_up_the_rollback_budget() -> None:
    future = [rev(NOW.year + n, "retired") for n in range(1, 5)] + [rev(NOW.year + 5, "deployed")]
    assert find_garbage(MIXED + future, NOW) == ["2011", "2004", "2003", "2002", "2001", "2000"]


def test_a_single_retired_revision_is_kept_and_only_the_failed_one_goes() -> None:
    entries = [rev(2000, "retired"), rev(2008, "releasing"), rev(2011, "failed"), rev(2012, "deployed")]
    assert find_garbage(entries, NOW) == ["2011"]


def test_a_failed_revision_is_collected_only_after_its_ttl() -> None:
    entries = [
        GcEntry("old-failure", "failed", NOW - HOUR - timedelta(seconds=1), HOUR, True),
        GcEntry("new-failure", "failed", NOW, HOUR, True),
        GcEntry("retired", "retired", NOW, HOUR, True),
        GcEntry("live", "deployed", NOW, HOUR, True),
    ]
    assert find_garbage(entries, NOW) == ["old-failure"]


def test_active_revisions_are_never_collected() -> None:
    for state in ("created", "deploying", "deployed", "pendingrelease", "failing", "timingout"):
        assert find_garbage([rev(2011, state), rev(2012, state)], NOW) == []


def test_when_everything_qualifies_the_newest_revision_is_spared() -> None:
    # Picchu spared the oldest (§17 #26); we keep the most recent one.
    entries = [rev(2010, "failed"), rev(2011, "failed"), rev(2012, "failed")]
    assert find_garbage(entries, NOW) == ["2011", "2010"]


def test_a_lone_expired_failed_revision_is_not_deleted() -> None:
    assert find_garbage([rev(2010, "failed")], NOW) == []


def test_entries_without_a_revision_are_never_marked() -> None:
    entries = [rev(2012, "released"), rev(2010, "deleted", has_revision=False), rev(2011, "failed")]
    assert find_garbage(entries, NOW) == ["2011"]


def test_an_entry_of_unknown_age_is_never_collected() -> None:
    entries = [rev(2012, "released"), GcEntry("unknown", "failed", None, HOUR, True)]
    assert find_garbage(entries, NOW) == []
