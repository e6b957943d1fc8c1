"""Go duration strings are parsed and formatted exactly like Go's time package."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from picchu.api.v1alpha1.durations import format_duration, is_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10s", timedelta(seconds=10)),
        ("1m30s", timedelta(minutes=1, seconds=30)),
        ("1h15m", timedelta(hours=1, minutes=15)),
        ("2h", timedelta(hours=2)),
        ("1.5h", timedelta(hours=1, minutes=30)),
        ("250ms", timedelta(milliseconds=250)),
        ("3us", timedelta(microseconds=3)),
        ("3\u00b5s", timedelta(microseconds=3)),
        ("0", timedelta(0)),
        ("-1m", timedelta(minutes=-1)),
        ("+5s", timedelta(seconds=5)),
        (".5s", timedelta(milliseconds=500)),
        ("1.s", timedelta(seconds=1)),
    ],
)
def test_go_durations_parse_to_the_same_length_of_time(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "10", "s", "1d", "1w", "abc", "1s ", " 1s", "+", "1.5", "1h-5m", "1e3s"]
)
def test_strings_go_rejects_are_not_durations(text: str) -> None:
    assert not is_duration(text)
    with pytest.raises(ValueError, match="Go duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(seconds=10), "10s"),
        (timedelta(minutes=1, seconds=30), "1m30s"),
        (timedelta(hours=2), "2h0m0s"),
        (timedelta(milliseconds=1500), "1.5s"),
        (timedelta(milliseconds=250), "250ms"),
        (timedelta(0), "0s"),
        (timedelta(seconds=-90), "-1m30s"),
    ],
)
def test_durations_format_like_go_duration_string(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_formatting_then_parsing_gives_back_the_same_duration(micros: int) -> None:
    value = timedelta(microseconds=micros)
    assert parse_duration(format_duration(value)) == value
