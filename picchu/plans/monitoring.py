"""ServiceMonitors (§11.10) and the per-tag canary alert rules (§11.13).

ServiceMonitors are the user's entries with the namespace selector forced to the app namespace and, with
`sloRegex`, an empty `metricRelabelings[].regex` filled with the metric names read by the target's enabled
SLO queries (`promql.metric_names`). They carry the app labels under the user's labels (§17 #7) so they are
pruned when no longer declared.

Canary rules fire when one tag's error ratio exceeds the whole app's by more than the allowance. The tag
label key defaults to `tag` (§17 #8; Picchu renders invalid PromQL for an empty tagKey).

Neighbours: `slo.py` (the recordings these rules read), `promql.py`, `labels.py`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from picchu import keys
from picchu.api.v1alpha1.durations import parse_duration
from picchu.plans import labels
from picchu.plans.desired import new_object
from picchu.plans.inputs import AppInput, TagInput
from picchu.plans.promql import PromQLError, metric_names
from picchu.plans.slo import PROMETHEUS_API, indicator, sanitize
from picchu.plans.wire import Manifest, RenderError, as_wire, objects, strings


def render_service_monitors(inputs: AppInput) -> list[Manifest]:
    target = as_wire(inputs.monitoring.alertable_target)
    rendered = []
    for monitor in objects(target.get("serviceMonitors")):
        spec = dict(monitor.get("spec") or {})
        spec["namespaceSelector"] = {"matchNames": [inputs.namespace]}
        if monitor.get("sloRegex"):
            regex = slo_regex(target)
            for endpoint in spec.get("endpoints") or []:
                for relabel in endpoint.get("metricRelabelings") or []:
                    if not relabel.get("regex"):
                        relabel["regex"] = regex
        monitor_labels = {
            **labels.app_labels(inputs),
            **strings(monitor.get("labels")),
            **labels.managed(inputs.app),
        }
        rendered.append(new_object(
            "monitoring.coreos.com/v1", "ServiceMonitor", str(monitor.get("name")), inputs.namespace,
            monitor_labels, strings(monitor.get("annotations")), spec=spec,
        ))  # fmt: skip
    return rendered


def slo_regex(target: dict[str, Any]) -> str:
    """Sorted unique metric names of every enabled SLO's queries, joined with `|`."""
    names: set[str] = set()
    for index, slo in enumerate(objects(target.get("serviceLevelObjectives"))):
        if not slo.get("enabled"):
            continue
        for key in ("totalQuery", "errorQuery"):
            query = indicator(slo).get(key)
            if not query:
                continue
            try:
                names |= metric_names(str(query))
            except PromQLError as error:
                raise RenderError([(
                    f"serviceLevelObjectives[{index}].serviceLevelIndicator.{key}",
                    f"cannot read the PromQL ({error}); fix the query",
                )]) from None  # fmt: skip
    return "|".join(sorted(names))


def render_canary_rules(inputs: AppInput, tag: TagInput) -> list[Manifest]:
    """`«app»-canary-«tag»` with one alert group per canary-enabled SLO (disabled SLOs included, as Picchu)."""
    target = as_wire(tag.target)
    slos = objects(target.get("serviceLevelObjectives"))
    if not slos:
        return []
    slo_labels = target.get("serviceLevelObjectiveLabels") or {}
    app = sanitize(inputs.app)
    groups = []
    for index, slo in enumerate(slos):
        canary = indicator(slo).get("canary") or {}
        if not canary.get("enabled"):
            continue
        name = sanitize(str(slo.get("name") or ""))
        tag_key = str(indicator(slo).get("tagKey") or "tag")
        selector = f'{{{tag_key}="{tag.tag}"}}'
        expr = (
            f"{app}:{name}:errors{selector} / {app}:{name}:total{selector} - {format(_allowance(canary) / 100, '.10g')}"
            f" > ignoring({tag_key}) sum({app}:{name}:errors) / sum({app}:{name}:total)"
        )
        rule: dict[str, Any] = {"alert": f"{name}_canary", "expr": expr}
        if canary.get("failAfter"):
            rule["for"] = prometheus_duration(str(canary["failAfter"]), f"serviceLevelObjectives[{index}]")
        rule["labels"] = {
            "app": inputs.app,
            "tag": tag.tag,
            "canary": "true",
            "slo": "true",
            **strings(slo_labels.get("alertLabels")),
            **strings((slo.get("serviceLevelObjectiveLabels") or {}).get("alertLabels")),
            "channel": inputs.settings.alert_channel,
        }
        rule["annotations"] = {
            "summary": f"{inputs.app} - Canary is failing SLO",
            "message": str(slo.get("description") or ""),
        }
        groups.append({"name": f"{name}_canary", "rules": [rule]})
    rule_labels = {
        **labels.tag_labels(inputs, tag.tag),
        **strings(slo_labels.get("ruleLabels")),
        keys.LABEL_RULE_TYPE: keys.RULE_TYPE_CANARY,
        **labels.managed(inputs.app),
    }
    name = f"{inputs.app}-canary-{tag.tag}"
    return [
        new_object(
            PROMETHEUS_API, "PrometheusRule", name, inputs.namespace, rule_labels, spec={"groups": groups}
        )
    ]


def prometheus_duration(text: str, where: str) -> str:
    """A Go duration ("90s", "1.5m", "2h0m0s") in the form Prometheus rules accept ("1m30s", "2h")."""
    try:
        millis = parse_duration(text) // timedelta(milliseconds=1)
    except ValueError as error:
        raise RenderError([(f"{where}.serviceLevelIndicator.canary.failAfter", str(error))]) from None
    parts = []
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, millis = divmod(millis, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def _allowance(canary: dict[str, Any]) -> float:
    """`allowancePercentString` when it parses, else `allowancePercent` (§3.1.2)."""
    text = canary.get("allowancePercentString")
    if text:
        try:
            return float(text)
        except ValueError:
            pass
    return float(canary.get("allowancePercent") or 0)
