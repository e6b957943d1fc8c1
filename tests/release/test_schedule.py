"""Release windows (spec §10.6) with the §17 #24 fix: day, weekday and holiday in Los Angeles.

The examples are Picchu's own (`schedule_test.go`). Where the fix changes the verdict, the test says so:
Picchu took the *UTC* date, so Friday 17:00 PT counted as Saturday and Sunday 17:00 PT as Monday.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import holidays
import pytest

from picchu.release.schedule import ReleaseCalendar, in_window, schedule_permits_release

LA = ZoneInfo("America/Los_Angeles")
CALENDAR = ReleaseCalendar(zone=LA, holidays=holidays.US(subdiv="CA"))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@pytest.mark.parametrize(
    "moment,permitted",
    [
        ("2019-04-17T13:59:00Z", False),  # Wed 06:59 PT
        ("2019-04-17T14:00:00Z", True),  # Wed 07:00 PT
        ("2019-04-17T22:59:00Z", True),  # Wed 15:59 PT
        ("2019-04-17T23:00:00Z", False),  # Wed 16:00 PT
        ("2019-04-19T20:59:00Z", True),  # Fri 13:59 PT
        ("2019-04-19T21:00:00Z", False),  # Fri 14:00 PT: Fridays are short
        ("2020-11-25T21:59:00Z", True),  # Wed 13:59 PST, the day before Thanksgiving
        ("2020-11-25T22:00:00Z", False),  # Wed 14:00 PST: pre-holiday days are short
        ("2020-11-30T15:00:00Z", True),  # Mon 07:00 PST
        ("2020-11-26T18:00:00Z", False),  # Thanksgiving
        ("2019-04-20T18:00:00Z", False),  # Saturday
    ],
)
def test_humane_window_follows_los_angeles_office_hours(moment: str, permitted: bool) -> None:
    assert in_window("humane", utc(moment), CALENDAR) is permitted


def test_inhumane_window_friday_late_afternoon_in_los_angeles_is_still_friday() -> None:
    assert in_window("inhumane", utc("2019-04-19T23:59:59Z"), CALENDAR)  # Fri 16:59 PT
    # Picchu said no here (the UTC date is Saturday); it is Friday 17:00 in Los Angeles.
    assert in_window("inhumane", utc("2019-04-20T00:00:00Z"), CALENDAR)
    # Picchu said yes here (the UTC date is Monday); it is Sunday 17:00 in Los Angeles.
    assert not in_window("inhumane", utc("2019-04-22T00:00:00Z"), CALENDAR)
    assert in_window("inhumane", utc("2019-04-22T08:00:00Z"), CALENDAR)  # Monday 01:00 PT


def test_an_evening_before_a_holiday_uses_the_los_angeles_date() -> None:
    # Wed 2020-11-25 17:00 PT is 01:00Z on Thanksgiving (UTC). The local day is still Wednesday: open.
    assert in_window("inhumane", utc("2020-11-26T01:00:00Z"), CALENDAR)
    # Thu 2020-11-26 17:00 PT is Friday 01:00Z; the local day is Thanksgiving: closed.
    assert not in_window("inhumane", utc("2020-11-27T01:00:00Z"), CALENDAR)


def test_observed_holidays_block_releases() -> None:
    # Independence Day 2020 fell on a Saturday; Friday 2020-07-03 was the observed day off.
    assert not in_window("inhumane", utc("2020-07-03T18:00:00Z"), CALENDAR)


def test_holidays_of_later_years_come_from_the_maintained_calendar() -> None:
    # Picchu's frozen list ended on 2024-01-01; Thanksgiving 2026 is Thursday 2026-11-26.
    assert not in_window("inhumane", utc("2026-11-26T18:00:00Z"), CALENDAR)
    assert in_window("inhumane", utc("2026-11-24T18:00:00Z"), CALENDAR)


def test_the_weekday_before_a_closed_day_is_a_short_day_the_week_after_a_dst_change() -> None:
    # 2026-11-01 is the autumn DST change; the next calendar day is found by date, not by adding 24 h.
    closed = ReleaseCalendar(zone=LA, closed_days=frozenset({date(2026, 11, 3)}))
    assert not in_window("humane", utc("2026-11-02T23:00:00Z"), closed)  # Mon 15:00 PST, before a closure
    assert in_window("humane", utc("2026-11-02T21:59:00Z"), closed)  # Mon 13:59 PST
    assert in_window("humane", utc("2026-11-09T23:00:00Z"), closed)  # Mon 15:00 PST, an ordinary Monday


def test_extra_closed_days_block_releases() -> None:
    closed = ReleaseCalendar(zone=LA, closed_days=frozenset({date(2026, 3, 4)}))
    assert not in_window("inhumane", utc("2026-03-04T18:00:00Z"), closed)


@pytest.mark.parametrize("name", ["always", "whatever", ""])
def test_always_and_unknown_schedules_are_always_open(name: str) -> None:
    assert in_window(name, utc("2019-04-20T03:00:00Z"), CALENDAR)


def test_capitalised_schedule_names_are_accepted() -> None:
    assert not in_window("Humane", utc("2019-04-20T18:00:00Z"), CALENDAR)
    assert not in_window("Inhumane", utc("2019-04-20T18:00:00Z"), CALENDAR)


SATURDAY = utc("2019-04-20T18:00:00Z")
WEDNESDAY = utc("2019-04-17T18:00:00Z")


def permits(**kw: object) -> bool:
    args: dict[str, object] = dict(
        schedule="humane", revision_created=SATURDAY, now=SATURDAY, calendar=CALENDAR,
        humane_releases_enabled=True, peak_percent=0, canary_percent=0,
    )  # fmt: skip
    args.update(kw)
    return schedule_permits_release(**args)  # type: ignore[arg-type]


def test_a_revision_that_already_served_beyond_its_canary_is_released_at_any_time() -> None:
    assert permits(peak_percent=100, canary_percent=10)
    assert not permits(peak_percent=10, canary_percent=10)


def test_either_the_creation_time_or_now_in_the_window_permits_a_release() -> None:
    assert permits(revision_created=WEDNESDAY)
    assert permits(now=WEDNESDAY)
    assert not permits()


def test_disabled_humane_releases_allow_only_the_always_schedule() -> None:
    assert not permits(humane_releases_enabled=False, now=WEDNESDAY)
    assert permits(humane_releases_enabled=False, schedule="always")
