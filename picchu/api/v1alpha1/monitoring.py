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
    rule_labels: StringMap | None = None
    service_level_labels: StringMap | None = None


class SLICanary(WireModel):
    enabled: StrictBool
    allowance_percent_string: PercentString | None = None
    allowance_percent: float | None = Field(default=None, ge=0, le=100)
    fail_after: PrometheusDuration | None = None  # becomes the canary alert's `for:`


class ServiceLevelIndicator(WireModel):
    canary: SLICanary | None = None
    tag_key: StrictStr | None = None
    alert_after: StrictStr | None = None
    total_query: StrictStr | None = None
    error_query: StrictStr | None = None


class SlothAlert(WireModel):
    disable: StrictBool | None = None
    labels: StringMap | None = None
    annotations: StringMap | None = None


class SlothAlerting(WireModel):
    name: StrictStr | None = None
    labels: StringMap | None = None
    annotations: StringMap | None = None
    page_alert: SlothAlert | None = None
    ticket_alert: SlothAlert | None = None


class SlothServiceLevelObjective(WireModel):
    """An SLO: recording rules, canary alert and Sloth service level."""

    name: StrictStr | None = None
    description: StrictStr | None = None
    enabled: StrictBool
    objective_percent_string: PercentString | None = None
    service_level_indicator: ServiceLevelIndicator | None = None
    service_level_objective_labels: ServiceLevelObjectiveLabels | None = None
    alerting: SlothAlerting | None = None


class ServiceMonitor(WireModel):
    """A prometheus-operator ServiceMonitor to create for the app."""

    name: StrictStr
    slo_regex: StrictBool
    annotations: StringMap | None = None
    labels: StringMap | None = None
    spec: ServiceMonitorSpec | None = None
