"""The release calendar's holidays: the `holidays` package's dates, without `holidays` in the operator's memory."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import pytest

from picchu.engine.calendar import UnknownHolidayCalendar, build_calendar, holiday_dates
from picchu.settings import Settings


def test_us_ca_closes_its_holidays_and_observed_days_only() -> None:
    calendar = build_calendar("America/Los_Angeles", "US-CA")
    assert calendar.is_holiday(date(2026, 11, 26))  # Thanksgiving
    assert calendar.is_holiday(date(2020, 7, 3))  # Independence Day observed on Friday
    assert calendar.is_holiday(date(2099, 12, 25))
    assert not calendar.is_holiday(date(2026, 12, 3))
    assert not build_calendar("UTC", "").is_holiday(date(2026, 12, 25))


def test_an_unknown_calendar_is_named_in_the_settings_problems() -> None:
    with pytest.raises(UnknownHolidayCalendar, match="'US-ZZ'"):
        holiday_dates("US-ZZ")
    assert any("--holiday-calendar 'XX'" in p for p in Settings(holiday_calendar="XX").problems())
    assert not [p for p in Settings(holiday_calendar="GB").problems() if "holiday" in p]


def test_the_operator_process_never_loads_every_country() -> None:
    """Importing one country from `holidays` imports all ~250 (~13 MiB kept resident); the dates come from a child."""
    probe = ("import sys; from picchu.settings import Settings; from picchu.engine.calendar import build_calendar; "
             "assert not Settings().problems(); build_calendar('America/Los_Angeles', 'US-CA'); "
             "print(sorted(m for m in sys.modules if m.startswith('holidays')))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
