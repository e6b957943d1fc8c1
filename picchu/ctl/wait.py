"""`picchu wait REVISION --for released|failed|STATE --timeout D`: a CI step that waits for the outcome.

Exit codes: 0 when the revision reached what was asked on every target asked for (``released`` also needs
the ReleaseManager's ``ClustersSynced`` condition true: the weights are on every cluster of the fleet);
1 when it failed or was rolled back (or, waiting for ``failed``, was released instead), with the reasons
printed; 2 on timeout. It reads the ReleaseManager status (``status.revisions[]``), the Revision's
``spec.failed`` and failure annotations: no Revision conditions are needed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from picchu import keys
from picchu.ctl.delivery import Delivery, NotFound

RELEASED, FAILED, TIMEOUT = 0, 1, 2
FAILED_STATES = frozenset({"failing", "failed", "timingout"})


@dataclass(frozen=True)
class Outcome:
    code: int
    message: str


def entry_for(rm: dict[str, Any] | None, tag: str) -> dict[str, Any] | None:
    if rm is None:
        return None
    return next((e for e in (rm.get("status") or {}).get("revisions") or [] if e.get("tag") == tag), None)


def synced(rm: dict[str, Any]) -> bool:
    conds = (rm.get("status") or {}).get("conditions") or []
    return not any(c.get("type") == "ClustersSynced" and c.get("status") == "False" for c in conds)


def why_failed(revision: dict[str, Any], entries: dict[str, dict[str, Any] | None]) -> str:
    annotations = revision["metadata"].get("annotations") or {}
    parts = []
    if annotations.get(keys.ANNOTATION_FAILED_REASON):
        parts.append(annotations[keys.ANNOTATION_FAILED_REASON])
    for target, entry in sorted(entries.items()):
        if entry is None:
            continue
        state = (entry.get("state") or {}).get("current")
        if state in FAILED_STATES:
            detail = f"{target}: {state}"
            if entry.get("peakPercent"):
                detail += f", rolled back from a peak of {entry['peakPercent']}%"
            if entry.get("triggeredAlerts"):
                detail += ", alerts firing: " + ", ".join(entry["triggeredAlerts"])
            if state == "timingout":
                detail += " (did not become ready or finish its test in time)"
            parts.append(detail)
    if (revision.get("spec") or {}).get("failed") and not parts:
        parts.append("spec.failed is true")
    return "; ".join(parts) or "failed"


def evaluate(revision: dict[str, Any], rms: dict[str, dict[str, Any] | None], want: str) -> Outcome | None:
    """The outcome if there is one yet (None: keep waiting)."""
    tag = revision["spec"]["app"]["tag"]
    name = revision["metadata"]["name"]
    entries = {t: entry_for(rm, tag) for t, rm in rms.items()}
    states = {t: ((e or {}).get("state") or {}).get("current") for t, e in entries.items()}
    failed = bool((revision.get("spec") or {}).get("failed")) or any(s in FAILED_STATES for s in states.values())
    if want == "failed":
        if failed:
            return Outcome(RELEASED, f"{name} failed as expected: {why_failed(revision, entries)}")
        if states and all(s == "released" for s in states.values()):
            return Outcome(FAILED, f"{name} was released on {', '.join(sorted(states))} instead of failing")
        return None
    if failed and want not in FAILED_STATES:
        return Outcome(FAILED, f"{name} failed: {why_failed(revision, entries)}")
    if states and all(s == want for s in states.values()):
        if want == "released" and not all(synced(rm) for rm in rms.values() if rm is not None):
            return None
        return Outcome(RELEASED, f"{name} is {want} on {', '.join(sorted(states))}")
    return None


def describe(revision: dict[str, Any] | None, rms: dict[str, dict[str, Any] | None]) -> str:
    if revision is None:
        return "the Revision does not exist"
    tag = revision["spec"]["app"]["tag"]
    parts = []
    for target, rm in sorted(rms.items()):
        entry = entry_for(rm, tag)
        if entry is None:
            parts.append(f"{target}: not started")
        else:
            parts.append(f"{target}: {entry['state']['current']} at {entry.get('currentPercent', 0)}%"
                         + (f" ({entry['holdReason']})" if entry.get("holdReason") else ""))
    return "; ".join(parts) or "no target"


def wait_for(delivery: Delivery, name: str, want: str, timeout: float, target: str | None = None,
             interval: float = 1.0, progress: Callable[[str], None] | None = None) -> Outcome:
    deadline = time.monotonic() + timeout
    last = ""
    revision: dict[str, Any] | None = None
    rms: dict[str, dict[str, Any] | None] = {}
    while True:
        problem = ""
        try:
            revision = delivery.revision_object(name)
        except NotFound:
            revision = None
        except Exception as exc:  # the apiserver is briefly unavailable: keep waiting, say so
            problem = f" (cannot read the delivery cluster: {type(exc).__name__})"
        if revision is not None and not problem:
            app = revision["spec"]["app"]["name"]
            targets = [t["name"] for t in revision["spec"].get("targets") or []]
            if target is not None:
                if target not in targets:
                    return Outcome(FAILED, f"{name} has no target {target!r} (targets: {', '.join(targets)})")
                targets = [target]
            try:
                rms = {t: delivery.release_manager(app, t) for t in targets}
            except Exception as exc:
                problem = f" (cannot read the delivery cluster: {type(exc).__name__})"
            outcome = None if problem else evaluate(revision, rms, want)
            if outcome is not None:
                return outcome
        now_text = describe(revision, rms) + problem
        if progress is not None and now_text != last:
            progress(now_text)
            last = now_text
        if time.monotonic() >= deadline:
            return Outcome(TIMEOUT, f"timed out after {timeout:g}s waiting for {name} to be {want}: {now_text}")
        time.sleep(interval)
