"""Traffic moves only toward safety while the world is partly unknown (a live cluster unreachable, the alert
source unreadable, an unknown state).

Why: holding *every* weight during an outage also holds rollbacks, so one lost cluster kept a failing
revision serving on every healthy cluster for as long as the outage lasted. In such a pass ramps still hold,
but a failing/failed tag sheds the traffic it would shed with the whole world known (or all of it when it has
no ready pod left on a reachable cluster), and that traffic goes to healthy tags that have ready pods.

Neighbours: ``decide.py`` builds one :class:`Holder` per tag with traffic and the full-world targets (the
allocation of ``traffic.py`` with the capacity gate relaxed, so a lost cluster's unknown pods never slow a
rollback down); the engine applies the result to every reachable cluster and records per cluster what it
applied, and :func:`kept_on_clusters` keeps a tag's pods on a cluster until that cluster stopped routing to it.

Invariants (property-tested): the sum of the weights is unchanged; a failing tag never ends above its
full-world percent unless nobody with ready pods can take its traffic; a healthy tag never loses, and
healthy tags gain together only what failing tags shed; shed traffic goes to released tags before the
ramping one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

FAILING_STATES = frozenset({"failing", "failed", "timingout"})
RELEASED_RANK, RAMPING_RANK, CANARY_RANK, DRAINING_RANK, FAILING_RANK = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class Holder:
    """A tag holding traffic (or able to take some) in a partly-unknown pass, in releasable order."""

    tag: str
    percent: int
    failing: bool
    rank: int | None = None
    """Recipient order for shed traffic (``*_RANK``, lower first); None: never receives (no ready pods,
    no Revision, or an unknown state)."""
    max_percent: int = 100
    """Release max; for a failing tag its full-world target, which it never exceeds (a failing tag receives
    traffic only as a last resort, when the full world would give it some too)."""


@dataclass(frozen=True)
class SafeMoves:
    percents: dict[str, int]
    moved: tuple[tuple[str, int, int], ...] = ()
    """(tag, before, after) for every tag whose percent changed."""
    stuck: tuple[str, ...] = ()
    """Failing tags that keep traffic because no healthy tag with ready pods can take it."""


def toward_safety(holders: Sequence[Holder], targets: Mapping[str, int]) -> SafeMoves:
    """Shed failing tags down to ``targets`` (their full-world percents) and give that traffic to recipients:
    released tags first, then the ramping anchor, then canaries, then other draining tags, then failing tags
    the full world gives more; each up to its release max, then up to 100 (a failing one: its target)."""
    percents = {h.tag: h.percent for h in holders}
    want = {h.tag: h.percent - max(0, min(h.percent, targets.get(h.tag, h.percent)))
            for h in holders if h.failing and h.percent > 0}  # fmt: skip
    want = {t: w for t, w in want.items() if w > 0}
    recipients = sorted((h for h in holders if h.rank is not None and h.tag not in want), key=lambda h: h.rank or 0)
    total = sum(want.values())
    placed = 0
    for limit in ("max", "full"):
        for r in recipients:
            ceiling = min(r.max_percent, 100) if limit == "max" or r.failing else 100
            given = max(0, min(total - placed, ceiling - percents[r.tag]))
            percents[r.tag] += given
            placed += given
    stuck = []
    for tag, amount in want.items():  # shed, in releasable order, exactly what was placed
        shed = min(amount, placed)
        percents[tag] -= shed
        placed -= shed
        if shed < amount:
            stuck.append(tag)
    moved = tuple((h.tag, h.percent, percents[h.tag]) for h in holders if percents[h.tag] != h.percent)
    return SafeMoves(percents, moved, tuple(stuck))


def kept_on_clusters(applied: Mapping[str, Mapping[str, int]], weights: Mapping[str, int]) -> dict[str, tuple[str, ...]]:
    """Per cluster, the tags it still routed traffic to when last applied that this pass routes nothing to:
    their objects stay as they are on that cluster this pass (retiring or deleting them would remove pods
    under traffic); the next pass, once the cluster's routes were applied, retires them."""
    kept: dict[str, tuple[str, ...]] = {}
    for cluster, routed in applied.items():
        tags = tuple(sorted(t for t, w in routed.items() if w > 0 and weights.get(t, 0) <= 0))
        if tags:
            kept[cluster] = tags
    return kept
