"""A process-wide budget for the applier's idle reads of the target clusters.

Why: the applier trusts what it wrote for ``remember_for`` seconds, then reads the object back once (a drift
check: hand edits and deletions are healed) and lists each prune scope again after four times that. Left
alone, those reads grow with the fleet: ~170 GETs per 15 s period at 500 apps, ~370 at 1,000, plus ~20 LISTs
per app and target cluster every hour. Under a budget of ``per_second`` reads, a check that comes due waits,
its object still trusted, until the budget has room, so an idle operator's reads per period stay below a
constant however many apps it serves; a large fleet is checked less often instead. Writes of changed content,
first listings and objects the observer found missing never wait for it.

A token bucket holding at most one second's worth: a check may go ahead whenever the balance is positive and
then pays its whole cost (a scope's listing is one LIST per kind), so the balance can go negative and later
checks wait until it is repaid; the average stays at ``per_second``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class DriftBudget:
    """At most ``per_second`` drift reads per second, on average, for every caller together. Thread-safe."""

    def __init__(self, per_second: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if not per_second > 0:
            raise ValueError(f"per_second must be positive, not {per_second!r}")
        self.per_second = per_second
        self._ceiling = max(1.0, per_second)
        self._balance = self._ceiling
        self._clock = clock
        self._at = clock()
        self._lock = threading.Lock()

    def has_room(self) -> bool:
        """Whether a check could go ahead now (spends nothing)."""
        with self._lock:
            return self._refilled() > 0

    def spend(self, reads: int = 1) -> bool:
        """Pay for a check of `reads` requests if the balance is positive; False (nothing paid) otherwise."""
        with self._lock:
            if self._refilled() <= 0:
                return False
            self._balance -= reads
            return True

    def _refilled(self) -> float:
        now = self._clock()
        self._balance = min(self._ceiling, self._balance + (now - self._at) * self.per_second)
        self._at = now
        return self._balance
