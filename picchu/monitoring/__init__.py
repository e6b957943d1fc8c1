"""Monitoring I/O behind small Protocols: is a release's SLO (or canary) alert firing?

The engine depends on `AlertSource` only; `PrometheusAlertSource` reads Prometheus's ALERTS series (§13.1),
`NullAlertSource` stands in when no Prometheus is configured. A source never raises for an unreachable
backend: it answers `AlertVerdict.unknown(reason)` and `AlertFailurePolicy` says what that means.
"""

from picchu.monitoring.alerts import (
    AlertDecision,
    AlertFailurePolicy,
    AlertSource,
    AlertVerdict,
    CombinedAlertSource,
    NullAlertSource,
    VerdictStatus,
    alert_query,
    alerts_by_tag,
    decide,
)
from picchu.monitoring.prometheus import PrometheusAlertSource, build_alert_source

__all__ = [
    "AlertDecision",
    "AlertFailurePolicy",
    "AlertSource",
    "AlertVerdict",
    "CombinedAlertSource",
    "NullAlertSource",
    "PrometheusAlertSource",
    "VerdictStatus",
    "alert_query",
    "alerts_by_tag",
    "build_alert_source",
    "decide",
]
