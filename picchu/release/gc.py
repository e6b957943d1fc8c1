"""Garbage collection: which revisions of one app/target may be deleted (spec §14, fixed per §17 #26).

Neighbours: ``decide.py`` feeds every incarnation (with or without a Revision) and returns the chosen tags
in ``Decision.deletable_tags``; the controller labels those Revisions
``target-deletable.picchu.medium.engineering/«target»: "true"`` and the Revision controller deletes them.

Rules:
* newest first by git timestamp (missing → the Revision's creation time; Picchu used the epoch, which
  deleted such revisions at once), ties by tag for determinism;
* the 3 newest ``retired`` revisions are kept for rollback whatever their age;
* anything else ``retired``, ``deleting``, ``deleted`` or ``failed`` whose git timestamp + TTL is in the
  past is a candidate; active, ``failing`` and ``timingout`` revisions are never collected;
* fix of §17 #26: when *every* incarnation is a candidate, the **newest** one is spared (Picchu spared
  the oldest), so an app never loses its most recent revision to GC;
* only incarnations that still have a Revision can be marked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

KEEP_RETIRED = 3
COLLECTABLE_STATES = frozenset({"retired", "deleting", "deleted", "failed"})


@dataclass(frozen=True)
class GcEntry:
    tag: str
    state: str
    born: datetime | None  # git timestamp, else the Revision's creation time (status.revisionTimestamp)
    ttl: timedelta
    has_revision: bool


def _newest_first(entries: Iterable[GcEntry]) -> list[GcEntry]:
    def key(e: GcEntry) -> tuple[float, str]:
        ts = e.born.timestamp() if e.born is not None else float("-inf")
        return (ts, e.tag)

    return sorted(entries, key=key, reverse=True)


def find_garbage(entries: Iterable[GcEntry], now: datetime) -> list[str]:
    """Tags whose Revisions should be marked deletable, newest first."""
    ordered = _newest_first(entries)
    budget = KEEP_RETIRED
    candidates: list[GcEntry] = []
    for entry in ordered:
        if entry.state == "retired" and budget > 0:
            budget -= 1
            continue
        if entry.state not in COLLECTABLE_STATES or entry.born is None:
            continue  # never delete on an unknown age
        if now > entry.born + entry.ttl:
            candidates.append(entry)
    if candidates and len(candidates) == len(ordered):
        candidates = candidates[1:]  # spare the newest (§17 #26)
    return [c.tag for c in candidates if c.has_revision]
