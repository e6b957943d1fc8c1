"""Ramp arithmetic: how far one incarnation's traffic percent may move in one pass (spec §10.1).

Neighbours: ``traffic.py`` calls :func:`scale` once per releasable incarnation with the cap it computed;
``capacity.py`` supplies the capacity gate as a callable and uses :func:`next_increment` to provision
replicas for the *next* step.

Invariants:
* percents are integers in 0..100; :func:`scale` never returns more than ``cap`` (nor more than
  ``policy.max_percent``) and never a negative number;
* going down (or holding) is immediate; going up needs both the strategy's delay since the last percent
  change and a passing capacity gate;
* an unknown strategy never ramps (it holds the current percent, clamped to the cap).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

LINEAR = "linear"
GEOMETRIC = "geometric"


@dataclass(frozen=True)
class RampPolicy:
    """The defaulted ``target.release`` fields that drive a ramp (defaults of spec §3.2)."""

    strategy: str = GEOMETRIC
    max_percent: int = 100
    geometric_start: int = 10
    geometric_factor: int = 2
    geometric_delay: timedelta = timedelta(seconds=10)
    linear_increment: int = 5
    linear_delay: timedelta = timedelta(seconds=10)

    @property
    def delay(self) -> timedelta:
        """Minimum time between two upward steps for the chosen strategy."""
        return self.linear_delay if self.strategy == LINEAR else self.geometric_delay


def next_increment(policy: RampPolicy, current: int, cap: int) -> int:
    """The percent the strategy would move to next, never above ``cap`` or ``policy.max_percent``.

    A current percent above the cap comes straight down to the cap (scale-down is immediate).
    """
    if cap <= 0:
        return 0
    cap = min(cap, policy.max_percent, 100)
    if current > cap:
        return cap
    if policy.strategy == LINEAR:
        return min(current + max(policy.linear_increment, 0), cap)
    if policy.strategy == GEOMETRIC:
        nxt = current * policy.geometric_factor
        if current < policy.geometric_start:
            nxt = policy.geometric_start
        return max(min(nxt, cap), 0)
    # Unknown strategy: hold (spec §10.1 "never ramps"), still honouring the cap.
    return min(current, cap)


def scale(
    policy: RampPolicy,
    current: int,
    cap: int,
    last_changed: datetime | None,
    now: datetime,
    can_ramp_to: Callable[[int], bool],
) -> int:
    """One ramp decision: the new percent for an incarnation currently at ``current`` (spec §10.1 Scale).

    ``last_changed`` is the time ``currentPercent`` last changed (``status.lastUpdated``); ``None``
    means "never", so no delay applies.
    """
    desired = next_increment(policy, current, cap)
    if desired <= current:
        return max(desired, 0)
    if last_changed is not None and now < last_changed + policy.delay:
        return current
    return desired if can_ramp_to(desired) else current
