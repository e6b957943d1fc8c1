"""Monitoring sections of a Revision target: SLOs (Sloth-style), their labels, and ServiceMonitors (§3.1.2).

Why: these drive recording rules, canary alerts, Sloth PrometheusServiceLevels and ServiceMonitors. They are
Picchu's own types (strict: unknown fields are errors); the ServiceMonitor `spec` is prometheus-operator's
ServiceMonitorSpec, passed through verbatim.

Neighbours: `revision` (RevisionTarget holds lists of these), `common` (wire types), `plans` (renderers).
"""

from __future__ import annotations

from pydantic import Field

from picchu.api.v1alpha1.common import (
    PercentString,
    PrometheusDuration,
    ServiceMonitorSpec,
    StrictBool,
    StrictStr,
    StringMap,
    WireModel,
)


class ServiceLevelObjectiveLabels(WireModel):
    alert_labels: StringMap | None = None
    """Labels added to alerts."""
    rule_labels: StringMap | None = None
    """Labels added to recording rules."""
    service_level_labels: StringMap | None = None
    """Labels added to the PrometheusServiceLevel object."""


class SLICanary(WireModel):
    enabled: StrictBool
    """Render canary alert rules for this SLO."""
    allowance_percent_string: PercentString | None = None
    """Extra error rate in percent the canary may have over the app, as a string."""
    allowance_percent: float | None = Field(default=None, ge=0, le=100)
    """Deprecated numeric form of allowancePercentString."""
    fail_after: PrometheusDuration | None = None  # becomes the canary alert's `for:`
    """How long the canary condition must hold before the alert fires (Prometheus duration)."""


class ServiceLevelIndicator(WireModel):
    canary: SLICanary | None = None
    """Canary rules comparing this tag's error rate with the app's."""
    tag_key: StrictStr | None = None
    """Metric label holding the revision tag (default "tag")."""
    alert_after: StrictStr | None = None
    """How long the SLO condition must hold before alerting (Prometheus duration)."""
    total_query: StrictStr | None = None
    """PromQL counting all events."""
    error_query: StrictStr | None = None
    """PromQL counting bad events."""


class SlothAlert(WireModel):
    disable: StrictBool | None = None
    """Do not render this alert."""
    labels: StringMap | None = None
    """Labels of this alert."""
    annotations: StringMap | None = None
    """Annotations of this alert."""


class SlothAlerting(WireModel):
    name: StrictStr | None = None
    """Alert name."""
    labels: StringMap | None = None
    """Labels of both alerts."""
    annotations: StringMap | None = None
    """Annotations of both alerts."""
    page_alert: SlothAlert | None = None
    """The fast-burn (page) alert."""
    ticket_alert: SlothAlert | None = None
    """The slow-burn (ticket) alert."""


class SlothServiceLevelObjective(WireModel):
    """An SLO: recording rules, canary alert and Sloth service level."""

    name: StrictStr | None = None
    """SLO name (Sloth) and part of the alert names."""
    description: StrictStr | None = None
    """Human description of the SLO."""
    enabled: StrictBool
    """Render this SLO (false keeps it defined but inactive)."""
    objective_percent_string: PercentString | None = None
    """Objective in percent as a string, e.g. "99.9"."""
    service_level_indicator: ServiceLevelIndicator | None = None
    """How good and total events are counted (PromQL)."""
    service_level_objective_labels: ServiceLevelObjectiveLabels | None = None
    """Extra labels of this SLO's rules and alerts."""
    alerting: SlothAlerting | None = None
    """Sloth alerting settings of this SLO."""


class ServiceMonitor(WireModel):
    """A prometheus-operator ServiceMonitor to create for the app."""

    name: StrictStr
    """Name of the ServiceMonitor written to each cluster."""
    slo_regex: StrictBool
    """Restrict the scraped metrics to the SLO metrics (a metric-name regex is added)."""
    annotations: StringMap | None = None
    """Annotations of the ServiceMonitor."""
    labels: StringMap | None = None
    """Labels of the ServiceMonitor."""
    spec: ServiceMonitorSpec | None = None
    """prometheus-operator ServiceMonitor spec (endpoints, selector)."""
