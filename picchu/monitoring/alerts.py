"""The rollback signal as data: which alerts fire for a release, and what "don't know" means.

Picchu rolls a release back when an SLO (or canary) alert fires for its tag (spec §13.1). This module holds
the vocabulary shared by every alert source and by the engine that consumes it:

* `AlertVerdict`: triggered (with the alert names), clear, or UNKNOWN (the source could not answer, with the
  reason). Picchu 1.6.0 aborted the reconcile on a query error (§17 #23); here the failure is data and the
  caller decides.
* `AlertFailurePolicy`: that decision. HOLD (default) freezes the ramp while the source is unknown: no
  advance, no rollback. FAIL_CLOSED treats unknown like a firing alert.
* `AlertSource`: the Protocol the engine depends on; `NullAlertSource` answers "clear" when no Prometheus is
  configured (Picchu's no-op client).
* `alert_query` / `alerts_by_tag`: the exact PromQL of §13.1 and the pure parsing of its answer.

Neighbours: `picchu.monitoring.prometheus` (the HTTP implementation), `picchu.monitoring.cache`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class VerdictStatus(enum.StrEnum):
    TRIGGERED = "triggered"
    CLEAR = "clear"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class AlertVerdict:
    """What an alert source knows about one release. Build with `triggered`, `clear` or `unknown`."""

    status: VerdictStatus
    alert_names: tuple[str, ...] = ()
    reason: str = ""

    @classmethod
    def triggered(cls, alert_names: Iterable[str]) -> AlertVerdict:
        names = tuple(alert_names)
        if not names:
            raise ValueError("a triggered verdict needs at least one alert name")
        return cls(VerdictStatus.TRIGGERED, names)

    @classmethod
    def clear(cls) -> AlertVerdict:
        return cls(VerdictStatus.CLEAR)

    @classmethod
    def unknown(cls, reason: str) -> AlertVerdict:
        return cls(VerdictStatus.UNKNOWN, reason=reason)

    @property
    def is_triggered(self) -> bool:
        return self.status is VerdictStatus.TRIGGERED

    @property
    def is_clear(self) -> bool:
        return self.status is VerdictStatus.CLEAR

    @property
    def is_unknown(self) -> bool:
        return self.status is VerdictStatus.UNKNOWN


class AlertDecision(enum.StrEnum):
    """What the ramp should do with a verdict once the failure policy is applied."""

    PROCEED = "proceed"  # no alert: the state machine may advance
    ROLL_BACK = "roll-back"  # alerts fire (or unknown under FAIL_CLOSED): the release is failing
    HOLD = "hold"  # unknown under HOLD: stay in the current state, neither advance nor roll back


class AlertFailurePolicy(enum.StrEnum):
    """What an unreachable or erroring alert source means for a rollout.

    The values equal `picchu.settings.AlertFailurePolicy`'s, so either enum (or its string) is accepted.
    """

    HOLD = "hold"
    FAIL_CLOSED = "fail-closed"

    def decide(self, verdict: AlertVerdict) -> AlertDecision:
        """PROCEED when clear, ROLL_BACK when triggered; UNKNOWN → HOLD, or ROLL_BACK when FAIL_CLOSED."""
        if verdict.is_triggered:
            return AlertDecision.ROLL_BACK
        if verdict.is_clear:
            return AlertDecision.PROCEED
        return AlertDecision.ROLL_BACK if self is AlertFailurePolicy.FAIL_CLOSED else AlertDecision.HOLD

    def alarm_names(self, verdict: AlertVerdict) -> tuple[str, ...]:
        """The names to record as `triggeredAlerts`: under FAIL_CLOSED an unknown verdict names its cause."""
        if verdict.is_unknown and self is AlertFailurePolicy.FAIL_CLOSED:
            return (UNKNOWN_ALERT_NAME,)
        return verdict.alert_names


UNKNOWN_ALERT_NAME = "AlertSourceUnavailable"


def decide(verdict: AlertVerdict, policy: str = AlertFailurePolicy.HOLD) -> AlertDecision:
    """`AlertFailurePolicy(policy).decide(verdict)`, accepting the settings enum or its string value."""
    return AlertFailurePolicy(str(policy)).decide(verdict)


class AlertSource(Protocol):
    """Answers "which alerts fire for this release?" without ever raising for an unreachable backend."""

    def triggered_alerts(self, app: str, tag: str, canaries_only: bool) -> AlertVerdict: ...


class NullAlertSource:
    """No Prometheus configured (empty address or `--prometheus-enabled=false`): nothing ever fires."""

    def triggered_alerts(self, app: str, tag: str, canaries_only: bool) -> AlertVerdict:
        return AlertVerdict.clear()


class CombinedAlertSource:
    """Several sources asked together (Prometheus and Datadog): any firing source rolls the release back
    (its alert names, all sources' names together); otherwise any unreadable source makes the verdict
    UNKNOWN (the failure policy decides); clear only when every source is clear."""

    def __init__(self, sources: Iterable[AlertSource]) -> None:
        self.sources = tuple(sources)

    def triggered_alerts(self, app: str, tag: str, canaries_only: bool) -> AlertVerdict:
        verdicts = [source.triggered_alerts(app, tag, canaries_only) for source in self.sources]
        names = [name for verdict in verdicts if verdict.is_triggered for name in verdict.alert_names]
        if names:
            return AlertVerdict.triggered(names)
        unknown = [verdict.reason for verdict in verdicts if verdict.is_unknown]
        if unknown:
            return AlertVerdict.unknown("; ".join(unknown))
        return AlertVerdict.clear()


def alert_query(tag: str, canaries_only: bool) -> str:
    """The query of §13.1, for every app and tag at once: one shared cache entry per kind, so Prometheus is
    asked once per TTL however many apps reconcile (Picchu asked once per tag for canary alerts; the answer
    is grouped by tag and app, and `alerts_by_tag` picks the release's own samples, so the verdicts are the
    same). ``tag`` is kept in the signature: a source may still narrow by it."""
    if canaries_only:
        return 'sum by(tag,app,alertname)(ALERTS{canary="true",alertstate="firing"})'
    return 'sum by(tag,app,alertname)(ALERTS{slo="true",alertstate="firing"})'


class MalformedAnswer(ValueError):
    """The query answer is not an instant vector (Picchu: "anything else → error")."""


def alerts_by_tag(samples: Any, app: str) -> dict[str, list[str]]:
    """tag → [alertname, ...] from the samples whose `app` is «app» and whose `tag` is non-empty (§13.1).

    `samples` is the `result` list of an instant-vector answer (`[{"metric": {...}, "value": [t, v]}]`).
    One alert name per sample; duplicates are kept, as in Picchu.
    """
    if not isinstance(samples, list):
        raise MalformedAnswer(f"expected an instant vector (a list of samples), got {type(samples).__name__}")
    by_tag: dict[str, list[str]] = {}
    for sample in samples:
        if not isinstance(sample, Mapping) or not isinstance(sample.get("metric"), Mapping):
            raise MalformedAnswer(f"expected an instant-vector sample with a 'metric' map, got {sample!r}")
        labels = sample["metric"]
        tag = labels.get("tag", "")
        if labels.get("app") != app or not tag:
            continue
        by_tag.setdefault(tag, []).append(labels.get("alertname", ""))
    return by_tag
