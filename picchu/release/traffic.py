"""Traffic split across incarnations, newest first (spec §10.4, §21.2).

Neighbours: ``decide.py`` builds one :class:`Contender` per *releasable* incarnation (in releasable order:
canarying, then releasing/released, then draining retiring/deleting/failing) and calls :func:`allocate`
once per pass; each contender carries its own ramp policy and capacity gate (``ramp.py``,
``capacity.py``).

Invariants (all checked by property tests):
* every percent is an integer in 0..100 and, when at least one contender can take traffic, they sum to
  exactly 100;
* only the ramp anchor (the first contender flagged ``is_ramping``) and the contenders before it may
  grow; everything after the anchor can only keep or lose traffic; canaries are capped at their canary
  percent;
* a paused contender never grows while someone else can take the leftover;
* a contender with no ready pods (``available == 0``) never *gains* traffic, not even the leftover: the
  leftover goes to the anchor, else the first contender, else the next one with ready pods, each up to its
  ``release.max`` before anyone goes past it (Picchu gave it all to the anchor, even beyond its max). If no
  contender can absorb it the allocation is reported as not routable and the caller holds the weights
  (spec's ``p > remaining`` assertion is a clamp here, §17.2).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from picchu.release.ramp import RampPolicy, scale


@dataclass(frozen=True)
class Contender:
    """One releasable incarnation as the allocation sees it."""

    tag: str
    state: str
    current_percent: int
    is_ramping: bool
    has_revision: bool
    policy: RampPolicy
    last_changed: datetime | None
    available: int  # ready pods over live clusters (post-tick observation)
    canary_percent: int = 0
    paused: bool = False
    """A person paused it: it may keep or lose traffic, never gain any (unless nobody else can serve)."""
    can_ramp_to: Callable[[int], bool] = lambda _desired: True


@dataclass(frozen=True)
class Allocation:
    percents: dict[str, int]
    """New percent per contender tag."""
    ineligible: frozenset[str]
    """Superseded tags pushed to 0 behind the anchor: they lose release eligibility (→ retiring)."""
    routable: bool
    """False when nobody with ready pods could take the leftover; the caller keeps the old weights."""
    leftover_to: str | None = None


def _gate(c: Contender) -> Callable[[int], bool]:
    """The contender's capacity gate, refusing any growth while it has no ready pod."""
    return lambda desired: c.available > 0 and c.can_ramp_to(desired)


def allocate(contenders: Sequence[Contender], now: datetime) -> Allocation:
    """Split 100 % among ``contenders`` (ordered as spec §8.5 ``releasable``)."""
    remaining = 100
    anchor: int | None = None
    percents: dict[str, int] = {}
    ineligible: set[str] = set()
    for k, c in enumerate(contenders):
        if anchor is None and c.is_ramping:
            anchor = k
        behind_anchor = anchor is not None and k > anchor
        cap = min(c.current_percent, remaining) if behind_anchor else remaining
        if not c.has_revision:
            p = 0
        else:
            if c.state == "canarying":
                cap = min(cap, c.canary_percent)
            if c.paused:
                cap = min(cap, c.current_percent)
            p = scale(c.policy, c.current_percent, cap, c.last_changed, now, _gate(c))
        p = max(0, min(p, remaining, 100))
        if p > c.current_percent and c.available <= 0:
            p = min(c.current_percent, remaining)  # holding is allowed, growing without pods is not
        percents[c.tag] = p
        remaining -= p
        if p == 0 and behind_anchor:
            ineligible.add(c.tag)
    if remaining == 0 or not contenders:
        return Allocation(percents, frozenset(ineligible), routable=bool(contenders))
    recipients = _leftover_recipients(contenders, anchor)
    if not recipients:
        return Allocation(percents, frozenset(ineligible), routable=False)
    # Each recipient up to its release.max first (the anchor first); what still remains goes to the first
    # recipient regardless (100 % must go somewhere). With release.max 100 the anchor takes it all (spec).
    for c in recipients:
        given = min(remaining, max(c.policy.max_percent - percents[c.tag], 0))
        percents[c.tag] += given
        remaining -= given
    percents[recipients[0].tag] += remaining
    ineligible.difference_update(c.tag for c in recipients if percents[c.tag] > 0)
    return Allocation(percents, frozenset(ineligible), routable=True, leftover_to=recipients[0].tag)


def _leftover_recipients(contenders: Sequence[Contender], anchor: int | None) -> list[Contender]:
    """Who absorbs what is left, in order: the anchor, else the first contender (spec), then the others;
    only contenders with ready pods (receiving the leftover is growth)."""
    order = ([contenders[anchor]] if anchor is not None else []) + list(contenders)
    seen: list[Contender] = []
    for c in order:
        if c.has_revision and c.available > 0 and c not in seen:
            seen.append(c)
    return [c for c in seen if not c.paused] + [c for c in seen if c.paused]
