"""The release calendar from settings: the schedule time zone and the `holidays` package's public holidays.

Built once per process (outside the pure core, which receives it as data). `US-CA` means
`holidays.country_holidays("US", subdiv="CA")`, observed days included: a holiday observed on a Friday
closes that Friday for releases, like the people who would be paged. "" means no holidays.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import holidays

from picchu.release.schedule import ReleaseCalendar


def build_calendar(timezone: str, calendar: str) -> ReleaseCalendar:
    if not calendar:
        return ReleaseCalendar(zone=ZoneInfo(timezone))
    country, _, subdivision = calendar.partition("-")
    return ReleaseCalendar(zone=ZoneInfo(timezone),
                           holidays=holidays.country_holidays(country, subdiv=subdivision or None))
