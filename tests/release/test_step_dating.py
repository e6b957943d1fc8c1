"""A step is dated when every cluster holds it (`status.date_steps`): the ramp delay counts from there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from picchu.api.v1alpha1.release_manager import ReleaseManagerRevisionState, ReleaseManagerRevisionStatus
from picchu.release.status import date_steps

DECIDED = datetime(2026, 12, 2, 4, 28, 56, tzinfo=UTC)
APPLIED = DECIDED + timedelta(seconds=1.5)
EARLIER = DECIDED - timedelta(seconds=30)


def _entry(tag: str, percent: int, updated: datetime, state: str = "releasing",
           next_step_at: datetime | None = None) -> ReleaseManagerRevisionStatus:
    return ReleaseManagerRevisionStatus(tag=tag, state=ReleaseManagerRevisionState(current=state, target=state),
                                        current_percent=percent, last_updated=updated, next_step_at=next_step_at)


def test_a_step_taken_this_pass_is_dated_when_it_was_applied_and_its_next_step_moves_with_it() -> None:
    before = [_entry("v1", 60, EARLIER, "released"), _entry("v2", 40, EARLIER)]
    after = [_entry("v1", 50, DECIDED, "released"),
             _entry("v2", 50, DECIDED, next_step_at=DECIDED + timedelta(seconds=2))]
    v1, v2 = date_steps(after, before, DECIDED, APPLIED)
    assert (v1.last_updated, v2.last_updated) == (APPLIED, APPLIED)
    assert v2.next_step_at == APPLIED + timedelta(seconds=2)


def test_an_entry_that_did_not_move_keeps_its_date() -> None:
    before = [_entry("v2", 40, EARLIER, next_step_at=EARLIER + timedelta(seconds=2))]
    assert date_steps(before, before, DECIDED, APPLIED) == tuple(before)


def test_a_new_entry_is_dated_when_applied_and_a_clock_that_went_back_changes_nothing() -> None:
    after = [_entry("v3", 0, DECIDED, "created")]
    assert date_steps(after, [], DECIDED, APPLIED)[0].last_updated == APPLIED
    moved = [_entry("v2", 50, DECIDED)]
    assert date_steps(moved, [_entry("v2", 40, EARLIER)], DECIDED, DECIDED - timedelta(seconds=1)) == tuple(moved)
