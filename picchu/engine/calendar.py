"""The release calendar from settings: the schedule time zone and the `holidays` package's public holidays.

Built once per process (outside the pure core, which receives it as data). `US-CA` means
`holidays.country_holidays("US", subdiv="CA")`, observed days included: a holiday observed on a Friday
closes that Friday for releases, like the people who would be paged. "" means no holidays.

The dates are computed in a short-lived child process, for the years 1970 to 2100: loading one country from
`holidays` imports all ~250 of them (its `holidays.countries` package imports every module), which would keep
~13 MiB resident in the operator — 15 % of its memory with one app — for ~1,400 dates.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from datetime import date
from zoneinfo import ZoneInfo

from picchu.release.schedule import ReleaseCalendar

YEARS = range(1970, 2101)
_CHILD = """
import json, sys
import holidays
country, subdivision, first, last = sys.argv[1:]
try:
    days = holidays.country_holidays(country, subdiv=subdivision or None, years=range(int(first), int(last)))
except (NotImplementedError, KeyError, ValueError) as error:
    print(json.dumps({"error": str(error)}))
else:
    print(json.dumps(sorted(day.isoformat() for day in days)))
"""


class UnknownHolidayCalendar(ValueError):
    """The `holidays` package does not know this COUNTRY[-SUBDIVISION]."""


@functools.lru_cache(maxsize=8)
def holiday_dates(calendar: str) -> frozenset[date]:
    """The public holidays (observed days included) of `calendar` ("US-CA", "GB", "" for none) in `YEARS`."""
    if not calendar:
        return frozenset()
    country, _, subdivision = calendar.partition("-")
    child = subprocess.run([sys.executable, "-c", _CHILD, country, subdivision, str(YEARS.start), str(YEARS.stop)],
                           capture_output=True, text=True, timeout=120)
    if child.returncode != 0:
        raise RuntimeError(f"computing the holidays of {calendar!r} failed: {child.stderr.strip()[-2000:]}")
    answer = json.loads(child.stdout)
    if isinstance(answer, dict):
        raise UnknownHolidayCalendar(f"{calendar!r}: {answer['error']}")
    return frozenset(date.fromisoformat(day) for day in answer)


def build_calendar(timezone: str, calendar: str) -> ReleaseCalendar:
    return ReleaseCalendar(zone=ZoneInfo(timezone), holidays=holiday_dates(calendar))
