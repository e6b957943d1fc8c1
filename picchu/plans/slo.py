"""SLO names and the PromQL built from them: recording rules (§11.11) and Sloth PSLs (§11.12).

For each enabled SLO `s` of app `a`, the recording rules `«a»:«s»:total` / `«a»:«s»:errors` hold the
user's queries verbatim; the PrometheusServiceLevel `«app»-«target»-servicelevels` (in the shared
service-levels namespace) builds Sloth SLIs on those recordings, grouped by tag. Canary alerts
(`monitoring.py`) compare the same recordings for one tag against the whole app.

Neighbours: `monitoring.py` (canary rules, ServiceMonitor regex), `labels.py`.
"""

from __future__ import annotations

import re
from typing import Any

from picchu import keys
from picchu.plans import labels
from picchu.plans.desired import new_object
from picchu.plans.inputs import AppInput
from picchu.plans.wire import Manifest, RenderError, as_wire, objects, strings

PROMETHEUS_API = "monitoring.coreos.com/v1"
SLOTH_API = "sloth.slok.dev/v1"
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]+")
_NO_ALERTS = {"pageAlert": {"disable": True}, "ticketAlert": {"disable": True}}


def sanitize(name: str) -> str:
    """Lower-case, each run of non-alphanumerics → `_` (rule and SLO names)."""
    return _NOT_ALNUM.sub("_", name.lower())


def enabled_slos(target: dict[str, Any]) -> list[dict[str, Any]]:
    return [slo for slo in objects(target.get("serviceLevelObjectives")) if slo.get("enabled")]


def indicator(slo: dict[str, Any]) -> dict[str, Any]:
    return dict(slo.get("serviceLevelIndicator") or {})


def render_slo_rules(inputs: AppInput) -> list[Manifest]:
    """The `«lower(app)»-slo` recording-rule PrometheusRule, when the releasable target has enabled SLOs."""
    target = as_wire(inputs.monitoring.releasable_target)
    slos = enabled_slos(target)
    if not slos:
        return []
    app = sanitize(inputs.app)
    groups = []
    for index, slo in enumerate(slos):
        name, sli = sanitize(str(slo.get("name") or "")), indicator(slo)
        rules = []
        for kind, key in (("total", "totalQuery"), ("errors", "errorQuery")):
            if not sli.get(key):
                raise RenderError([(
                    f"serviceLevelObjectives[{index}].serviceLevelIndicator.{key}",
                    "an enabled SLO needs both totalQuery and errorQuery (PromQL)",
                )])  # fmt: skip
            rules.append({"record": f"{app}:{name}:{kind}", "expr": sli[key]})
        groups.append({"name": f"{name}_record", "rules": rules})
    rule_labels = {
        **labels.app_labels(inputs),
        **strings((target.get("serviceLevelObjectiveLabels") or {}).get("ruleLabels")),
        keys.LABEL_RULE_TYPE: keys.RULE_TYPE_SLO,
        **labels.managed(inputs.app),
    }
    return [
        new_object(PROMETHEUS_API, "PrometheusRule", f"{inputs.app.lower()}-slo", inputs.namespace, rule_labels,
                   spec={"groups": groups})
    ]  # fmt: skip


def render_service_levels(inputs: AppInput) -> list[Manifest]:
    """The shared PrometheusServiceLevel, when the releasable target has enabled SLOs."""
    namespace = inputs.settings.service_levels_namespace
    target = as_wire(inputs.monitoring.releasable_target)
    slos = enabled_slos(target)
    if not namespace or not slos:
        return []
    global_labels = strings((target.get("serviceLevelObjectiveLabels") or {}).get("serviceLevelLabels"))
    app = sanitize(inputs.app)
    rendered_slos = []
    for slo in slos:
        name = sanitize(str(slo.get("name") or ""))
        own_labels = strings((slo.get("serviceLevelObjectiveLabels") or {}).get("serviceLevelLabels"))
        entry: dict[str, Any] = {
            "name": name,
            "objective": _objective(slo.get("objectivePercentString")),
            "description": str(slo.get("description") or ""),
            "labels": {**global_labels, **own_labels},
            "sli": {"events": {
                "errorQuery": _sli_query(app, name, "errors", slo, own_labels),
                "totalQuery": _sli_query(app, name, "total", slo, own_labels),
            }},
        }  # fmt: skip
        alerting = slo.get("alerting") or {}
        # Picchu emits alerting only when it has a name; Sloth's CRD requires the key, so "no alerting"
        # is written as both alerts disabled.
        entry["alerting"] = alerting if alerting.get("name") else _NO_ALERTS
        rendered_slos.append(entry)
    psl_labels = {keys.LABEL_APP: inputs.app, keys.LABEL_TARGET: inputs.target, **labels.managed(inputs.app)}
    return [
        new_object(SLOTH_API, "PrometheusServiceLevel", service_levels_name(inputs), namespace,
                   psl_labels, spec={"service": inputs.app, "slos": rendered_slos})
    ]  # fmt: skip


def service_levels_name(inputs: AppInput) -> str:
    """The shared PrometheusServiceLevel of one app × target (§11.12)."""
    return f"{inputs.app}-{inputs.target}-servicelevels"


def _objective(text: object) -> float:
    try:
        return float(str(text))
    except ValueError:
        return 0.0  # Picchu's behaviour on a parse error (§11.12)


def _sli_query(app: str, name: str, kind: str, slo: dict[str, Any], own_labels: dict[str, str]) -> str:
    by = "tag, grpc_method" if "is_grpc" in own_labels else "tag"
    recorded = f"rate({app}:{name}:{kind}[{{{{.window}}}}])"
    tag_key = str(indicator(slo).get("tagKey") or "")
    if tag_key and tag_key != "tag":
        recorded = f'label_replace({recorded}, "tag", "$1", "{tag_key}", "(.*)")'
    return f"sum by ({by}) ({recorded})"
