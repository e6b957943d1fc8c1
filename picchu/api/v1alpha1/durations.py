"""Go duration strings (`10s`, `1m30s`, `1h15m`, `250ms`), parsed and formatted the way Go's `time` package does.

Picchu stores every delay and timeout as a Go duration string (metav1.Duration on the wire), and
`karpenterDoNotDisrupt` accepts one too. The models keep the string exactly as the user wrote it (so a manifest
round-trips unchanged) and use `parse_duration` to check it and to compute with it. Pure: no I/O, no clock.

Invariant: `parse_duration` accepts exactly what Go's `time.ParseDuration` accepts (units ns, us, µs, μs, ms,
s, m, h; optional sign; decimal fractions; "0" without unit) and raises ValueError for anything else. The
arithmetic is `durationpy`'s (a dependency of the kubernetes client); the grammar check in front of it is ours,
because durationpy also accepts days, weeks, months and years. Formatting stays ours: durationpy writes "2h"
where Go writes "2h0m0s".
"""

from __future__ import annotations

import functools
import re
from datetime import timedelta
from decimal import Decimal

import durationpy

__all__ = ["parse_duration", "format_duration", "is_duration"]

# Go's grammar, checked before durationpy computes: durationpy also takes units Go rejects (d, w, mm, y).
_GO_DURATION = re.compile(r"[+-]?(0|((\d+\.?\d*|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h))+)")
_MAX = timedelta(microseconds=(2**63 - 1) // 1000)
_HINT = "use a Go duration: a number with a unit (ns, us, ms, s, m, h), e.g. 10s, 1m30s or 2h"


def parse_duration(text: str) -> timedelta:
    """Parse a Go duration string into a timedelta (microsecond precision); ValueError when invalid."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a duration; {_HINT}")
    return _parse(text)


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> timedelta:
    """Cached: every pass re-reads the same few delays and TTLs of every app (failures are not cached)."""
    if not _GO_DURATION.fullmatch(text):
        raise ValueError(f"{text!r} is not a duration; {_HINT}")
    try:
        value = durationpy.from_str(text)
    except durationpy.DurationError:
        raise ValueError(f"{text!r} is out of range (more than about 290 years); {_HINT}") from None
    if abs(value) > _MAX:
        raise ValueError(f"{text!r} is out of range (more than about 290 years); {_HINT}")
    return value


def is_duration(text: str) -> bool:
    """True when `text` parses as a Go duration."""
    try:
        parse_duration(text)
    except ValueError:
        return False
    return True


def format_duration(value: timedelta) -> str:
    """Format like Go's Duration.String(): `10s`, `1m30s`, `2h0m0s`, `1.5s`, `250ms`, `0s`."""
    micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    if micros == 0:
        return "0s"
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    if micros < 1_000_000:
        if micros < 1_000:
            return f"{sign}{micros}\u00b5s"
        return f"{sign}{_trim(Decimal(micros) / 1_000)}ms"
    hours, rest = divmod(micros, 3_600_000_000)
    minutes, rest = divmod(rest, 60_000_000)
    seconds = _trim(Decimal(rest) / 1_000_000)
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{sign}{minutes}m{seconds}s"
    return f"{sign}{seconds}s"


def _trim(number: Decimal) -> str:
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
