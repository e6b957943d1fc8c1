"""Release windows: may a pending release start now? (spec §10.6, fixed per §17 #24).

Neighbours: ``states.py`` consults :func:`schedule_permits_release` in ``pendingrelease`` only. The
calendar (time zone + holidays) is an input, a :class:`ReleaseCalendar` value carried by the snapshot's
settings; this module never builds one from the clock or a global list.

Behaviour (the intended one, not Picchu's):
* hour, weekday, date and holiday are all taken from the timestamp converted to the calendar's zone
  (``America/Los_Angeles`` by default): Friday 17:00 PT is a Friday, not a Saturday as in Picchu;
* "the day before a holiday" is the next *calendar* date in that zone (not ``+24 h``, which mis-hits
  across DST changes);
* holidays come from a maintained calendar (the ``holidays`` package, e.g.
  ``holidays.US(subdiv="CA")``) plus optional extra closed dates (company shutdowns). Observed days
  (e.g. Friday 2020-07-03 for a Saturday Independence Day) block releases: they are the days people are
  off, and Picchu's own frozen list contained them (2020-07-03, 2021-07-05).

Windows: ``always`` (and any unrecognised name) always; ``inhumane`` Monday–Friday any hour except
holidays; ``humane`` Mon–Thu 07:00–15:59, Fri and the weekday before a holiday 07:00–13:59, never on
weekends or holidays.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

ALWAYS = "always"
HUMANE = "humane"
INHUMANE = "inhumane"

HUMANE_START_HOUR = 7
HUMANE_END_HOUR = 16  # exclusive: 15:59 is the last permitted minute
SHORT_DAY_END_HOUR = 14  # Fridays and pre-holiday days


@dataclass(frozen=True)
class ReleaseCalendar:
    """Where and when people work: the schedule zone and the days nobody should be paged.

    ``holidays`` is anything supporting ``day in holidays`` (a ``holidays.HolidayBase``, a set of dates);
    it is built outside the pure core, e.g. ``holidays.US(subdiv="CA")`` (observed days included).
    """

    zone: tzinfo
    holidays: Container[date] = field(default_factory=frozenset, compare=False, hash=False)
    closed_days: frozenset[date] = frozenset()

    def is_holiday(self, day: date) -> bool:
        return day in self.closed_days or day in self.holidays


def in_window(schedule: str, moment: datetime, calendar: ReleaseCalendar) -> bool:
    """Whether ``moment`` (timezone-aware) lies in the window named ``schedule``."""
    kind = schedule.lower()
    if kind not in (HUMANE, INHUMANE):
        return True
    local = moment.astimezone(calendar.zone)
    day = local.date()
    if local.weekday() >= 5 or calendar.is_holiday(day):
        return False
    if kind == INHUMANE:
        return True
    short_day = local.weekday() == 4 or calendar.is_holiday(day + timedelta(days=1))
    end = SHORT_DAY_END_HOUR if short_day else HUMANE_END_HOUR
    return HUMANE_START_HOUR <= local.hour < end


def schedule_permits_release(
    *,
    schedule: str,
    revision_created: datetime | None,
    now: datetime,
    calendar: ReleaseCalendar,
    humane_releases_enabled: bool,
    peak_percent: int,
    canary_percent: int,
) -> bool:
    """``schedulePermitsRelease`` of spec §10.6 (the caller handles "no Revision" → false).

    A revision that already served more than its canary share is re-released outside the window (this is
    what lets a recommissioned revision come back at any hour).
    """
    if peak_percent > 0 and peak_percent > canary_percent:
        return True
    if not humane_releases_enabled and schedule.lower() != ALWAYS:
        return False
    if revision_created is not None and in_window(schedule, revision_created, calendar):
        return True
    return in_window(schedule, now, calendar)
