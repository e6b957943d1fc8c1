"""`picchu history APP [--target T] --plot timeline.png`: what happened to an app's releases, from the
ReleaseManager status and the Kubernetes Events the operator wrote.

State changes come from `StateChanged` Events ("v2 on production: releasing"), percents from
`TrafficShifted` Events ("v2 40%, v1 60%"), the end state from the ReleaseManager status. The operator
applies one set of weights to every cluster of the fleet or persists nothing (a pass with an unreachable
cluster holds everywhere), so each cluster's panel shows the same weights; `ClusterUnavailable` Events are
marked. Events expire (the apiserver's default event TTL is one hour), so history reaches back that far.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from picchu.ctl.delivery import Delivery, NotFound, event_time
from picchu.ctl.timeline import Timeline, Track, rollback_marks

_STATE = re.compile(r"^(?P<tag>\S+) on (?P<target>\S+): (?P<state>\w+)$")
_SHARE = re.compile(r"(?P<tag>\S+) (?P<percent>\d+)%")
_STEERED = {"Aborted", "Retried", "Paused", "Resumed", "Promoted"}


# State changes are Normal "StateChanged" Events, or Warnings named after the bad state they enter.
_STATE_REASONS = frozenset({"StateChanged", "RollingBack", "RolledBack", "TimingOut"})

def build(delivery: Delivery, app: str, target: str | None = None, now: datetime | None = None) -> Timeline:
    rms = [rm for rm in delivery.release_managers(app)
           if target is None or (rm.get("spec") or {}).get("target") == target]
    if not rms:
        raise NotFound(f"no ReleaseManager of app {app!r} in namespace {delivery.namespace!r}")
    rm = rms[0]
    spec = rm.get("spec") or {}
    rm_name, target_name = rm["metadata"]["name"], spec.get("target", "")
    revisions = {r["metadata"]["name"] for r in delivery.revisions(app)}
    events = delivery.events(revisions | {rm_name})
    states: dict[str, list[tuple[datetime, str]]] = {}
    samples: list[tuple[datetime, dict[str, int]]] = []
    marks: list[tuple[datetime, str]] = []
    for event in events:
        moment = _utc(event_time(event))
        message, reason = event.get("message") or "", event.get("reason")
        about = (event.get("involvedObject") or {}).get("name")
        if reason in _STATE_REASONS:
            match = _STATE.match(message)
            if match and match["target"] == target_name:
                states.setdefault(match["tag"], []).append((moment, match["state"]))
        elif reason == "TrafficShifted" and about == rm_name:
            samples.append((moment, {m["tag"]: int(m["percent"]) for m in _SHARE.finditer(message)}))
        elif reason == "ClusterUnavailable" and about == rm_name:
            marks.append((moment, "cluster unavailable"))
        elif reason in _STEERED:
            marks.append((moment, message.split(" requested")[0]))
    current = {e.get("tag"): e.get("currentPercent", 0) for e in (rm.get("status") or {}).get("revisions") or []}
    end = now or datetime.now(UTC)
    if current and (not samples or samples[-1][1] != {t: p for t, p in current.items() if p}):
        samples.append((end, {t: p for t, p in current.items() if p}))
    clusters = [c["metadata"]["name"] for c in delivery.clusters(spec.get("fleet", ""))] or [target_name]
    tracks = [Track(name, list(samples)) for name in clusters]
    marks.extend(rollback_marks(states))
    return Timeline(f"picchu history: {app} on {target_name}", tracks, states, _dedupe(marks), end=end)


def _dedupe(marks: list[tuple[datetime, str]]) -> list[tuple[datetime, str]]:
    seen: set[str] = set()
    out = []
    for moment, label in sorted(marks):
        if label == "cluster unavailable" and label in seen:
            continue
        seen.add(label)
        out.append((moment, label))
    return out


def _utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.now(UTC)


def describe(timeline: Timeline) -> list[str]:
    """The same history as text lines (printed by the command)."""
    lines = []
    for tag, changes in timeline.states.items():
        lines.append(f"{tag}: " + " → ".join(f"{s} ({t.strftime('%H:%M:%S')})" for t, s in changes))
    for moment, label in timeline.marks:
        lines.append(f"{moment.strftime('%H:%M:%S')} {label}")
    return lines
