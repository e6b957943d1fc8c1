"""Generate the six CustomResourceDefinitions (apiextensions.k8s.io/v1) from the pydantic models.

Why: the CRDs must never drift from the models the operator parses with. The schema is structural: Picchu's
own types become typed `properties` (so the API server prunes and type-checks them exactly as Go Picchu's
CRDs did), embedded Kubernetes / Istio / prometheus-operator objects become `type: object` +
`x-kubernetes-preserve-unknown-fields`, status keeps unknown fields (kopf stores progress there).
Admission-time rules (CEL `x-kubernetes-validations`, enums, patterns, ranges) reject a bad object with no
webhook running; they cover only real errors, so every manifest Go Picchu's CRDs accepted and Picchu could
run is still accepted. Rules needing defaults or cross-list logic stay model-only (`validation`).

Usage: `python -m picchu.api.v1alpha1.crdgen [--out config/crd]`; `render_crds()` / `write_crds(out_dir)`.
Neighbours: the kind modules and the markers of `common`. Pure except `write_crds`/`main` (file output).
"""

from __future__ import annotations

import argparse
import types
import typing
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

import annotated_types
import yaml
from pydantic import AwareDatetime, BaseModel
from pydantic.fields import FieldInfo

from picchu.api.v1alpha1.cluster import Cluster, ClusterConfig, ClusterSpec, ClusterStatus
from picchu.api.v1alpha1.common import IntOrStringMarker, OpenModel, PassthroughMarker, Resource
from picchu.api.v1alpha1.others import ClusterSecrets, FaultInjector, HTTPPortFault, Mirror
from picchu.api.v1alpha1.release_manager import ReleaseManager, ReleaseManagerStatus
from picchu.api.v1alpha1.revision import (
    Canary,
    PortInfo,
    ReleaseInfo,
    Revision,
    RevisionSpec,
    RevisionStatus,
    RevisionTarget,
    ScaleInfo,
)
from picchu.keys import GROUP, LABEL_FLEET, VERSION

__all__ = ["render_crds", "write_crds", "main"]

Schema = dict[str, Any]

_GO_DURATION = r"[-+]?(0|(([0-9]+\.?[0-9]*|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)"
_DURATION_PATTERN = f"^{_GO_DURATION}$"
_PROMETHEUS_DURATION_PATTERN = (
    r"^(|0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
)
_QUANTITY_PATTERN = r"^[+-]?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
_FLOAT_PATTERN = r"^([-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?)?$"
_TYPE_BOUNDS = (-(2**31), 2**31 - 1, 2**32 - 1, -(2**63), 2**63 - 1)
_PRESERVE: Schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def _rule(rule: str, message: str, field_path: str | None = None) -> Schema:
    result: Schema = {"rule": rule, "message": message}
    if field_path:
        result["fieldPath"] = field_path
    return result


# Object-level CEL rules: only real errors (things Picchu crashes on, or silently mis-handles).
_MODEL_RULES: dict[type[BaseModel], list[Schema]] = {
    RevisionTarget: [
        _rule(
            "!has(self.canary) || self.canary.percent <= "
            "((has(self.release) && has(self.release.max) && self.release.max > 0) ? self.release.max : 100)",
            "canary.percent must not exceed release.max (100 when unset): lower canary.percent or raise release.max",
            ".canary.percent",
        ),
    ],
    ScaleInfo: [
        _rule(
            "has(self.min)",
            "scale.min is required: set the minimum replicas across the fleet, e.g. min: 1",
            ".min",
        )
    ],
    Canary: [
        _rule(
            "self.ttl > 0 || (self.percent == 0 && self.ttl == 0)",
            "canary.ttl must be a positive number of seconds, e.g. 600",
            ".ttl",
        )
    ],
    HTTPPortFault: [
        _rule(
            "has(self.portSelector) && has(self.portSelector.number)",
            "portSelector.number is required: set the service port the fault applies to, e.g. 80",
            ".portSelector",
        )
    ],
}

# Extra schema merged into a field's generated schema (enums, patterns, list semantics, embedded shapes).
_CONDITIONS_LIST: Schema = {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]}
_FIELD_EXTRAS: dict[tuple[type[BaseModel], str], Schema] = {
    (RevisionStatus, "conditions"): _CONDITIONS_LIST,
    (ReleaseManagerStatus, "conditions"): _CONDITIONS_LIST,
    (ClusterStatus, "conditions"): _CONDITIONS_LIST,
    (RevisionSpec, "targets"): {
        "minItems": 1,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
    },
    (ReleaseInfo, "scaling_strategy"): {"enum": ["", "linear", "geometric"]},
    (ReleaseInfo, "ttl"): {"minimum": 0},
    (PortInfo, "mode"): {"enum": ["", "public", "private", "local"]},
    (RevisionTarget, "karpenter_do_not_disrupt"): {"pattern": f"^(|true|{_GO_DURATION})$"},
    (RevisionTarget, "pod_disruption_budget"): {
        "properties": {
            "maxUnavailable": {"description": "Pods that may be unavailable: a number or a percent (\"10%\").",
                               "x-kubernetes-int-or-string": True},
            "minAvailable": {"description": "Pods that must stay available: a number or a percent (\"90%\").",
                             "x-kubernetes-int-or-string": True},
        },
        "x-kubernetes-validations": [
            _rule(
                "!(has(self.maxUnavailable) && has(self.minAvailable))",
                "podDisruptionBudget sets both maxUnavailable and minAvailable: keep only one",
            )
        ],
    },
    (ClusterConfig, "certificate_authority_data"): {"format": "byte"},
    (ClusterSpec, "scaling_factor_string"): {
        "x-kubernetes-validations": [
            _rule(
                "self == '' || double(self) > 0.0",
                'scalingFactorString must be a positive number such as "1.0" or "0.5"',
            )
        ]
    },
}

# The API server prints only the first match of a column's JSONPath, so per-target columns are positional
# (most Revisions have one target; more show with -o wide) and RM columns filter by state. The default view
# answers "where is it, how much traffic, what is it waiting for"; Reason is the Progressing condition's reason,
# so an invalid object reads InvalidSpec there instead of blank columns.
_PRINTER_COLUMNS: dict[str, list[Schema]] = {
    "Revision": [
        {"name": "App", "type": "string", "jsonPath": ".spec.app.name"},
        {"name": "Tag", "type": "string", "jsonPath": ".spec.app.tag"},
        {"name": "Target", "type": "string", "jsonPath": ".status.targets[0].name"},
        {"name": "State", "type": "string", "jsonPath": ".status.targets[0].state"},
        {"name": "Percent", "type": "integer", "jsonPath": ".status.targets[0].release.currentPercent"},
        # What it waits for, what blocks it, or why it is invalid (InvalidSpec), in one word.
        {"name": "Reason", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Progressing")].reason'},
        {"name": "Released", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Released")].status',
         "priority": 1},
        {"name": "Target-2", "type": "string", "jsonPath": ".status.targets[1].name", "priority": 1},
        {"name": "State-2", "type": "string", "jsonPath": ".status.targets[1].state", "priority": 1},
        {"name": "Target-3", "type": "string", "jsonPath": ".status.targets[2].name", "priority": 1},
        {"name": "State-3", "type": "string", "jsonPath": ".status.targets[2].state", "priority": 1},
        {"name": "Failed", "type": "boolean", "jsonPath": ".spec.failed", "priority": 1},
        {"name": "Message", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Progressing")].message',
         "priority": 1},
    ],
    "ReleaseManager": [
        {"name": "App", "type": "string", "jsonPath": ".spec.app"},
        {"name": "Target", "type": "string", "jsonPath": ".spec.target"},
        {
            "name": "Released",
            "type": "string",
            "jsonPath": '.status.revisions[?(@.state.current=="released")].tag',
        },
        {
            "name": "Percent",
            "type": "integer",
            "jsonPath": '.status.revisions[?(@.state.current=="released")].currentPercent',
        },
        {
            "name": "Releasing",
            "type": "string",
            "jsonPath": '.status.revisions[?(@.state.current=="releasing")].tag',
        },
        {
            "name": "Ramp",
            "type": "integer",
            "jsonPath": '.status.revisions[?(@.state.current=="releasing")].currentPercent',
        },
        {"name": "Reason", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Progressing")].reason'},
        {"name": "Fleet", "type": "string", "jsonPath": ".spec.fleet", "priority": 1},
    ],
    "Cluster": [
        {
            "name": "Fleet",
            "type": "string",
            "jsonPath": ".metadata.labels." + LABEL_FLEET.replace(".", "\\."),
        },
        {"name": "Enabled", "type": "boolean", "jsonPath": ".spec.enabled"},
        {"name": "Ready", "type": "boolean", "jsonPath": ".status.kubernetes.ready"},
        {"name": "Version", "type": "string", "jsonPath": ".status.kubernetes.version"},
        {"name": "Standby", "type": "boolean", "jsonPath": ".spec.hotStandby", "priority": 1},
    ],
    "ClusterSecrets": [
        {"name": "Source", "type": "string", "jsonPath": ".spec.source.namespace"},
        {"name": "Target", "type": "string", "jsonPath": ".spec.target.namespace"},
    ],
    "Mirror": [{"name": "Cluster", "type": "string", "jsonPath": ".spec.clusterName"}],
    "FaultInjector": [
        {"name": "Port", "type": "integer", "jsonPath": ".spec.httpPortFaults[0].portSelector.number"}
    ],
}

_SHORT_NAMES: dict[str, list[str]] = {
    "Revision": ["rev"],
    "ReleaseManager": ["rm"],
    "Cluster": ["pcluster"],
    "ClusterSecrets": ["pclustersecrets"],
    "Mirror": ["pmirror"],
    "FaultInjector": ["faultinj"],
}

KINDS: tuple[type[Resource], ...] = (Revision, ReleaseManager, Cluster, ClusterSecrets, Mirror, FaultInjector)


def render_crds() -> dict[str, dict[str, Any]]:
    """Every CRD as a dict, keyed by its file name (`picchu.medium.engineering_<plural>.yaml`)."""
    return {f"{GROUP}_{kind.PLURAL}.yaml": _crd(kind) for kind in KINDS}


def write_crds(out_dir: Path) -> list[Path]:
    """Write the CRDs as YAML into `out_dir` (created if needed); returns the written paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, crd in render_crds().items():
        path = out_dir / file_name
        path.write_text(dump_yaml(crd), encoding="utf-8")
        written.append(path)
    return written


def dump_yaml(crd: dict[str, Any]) -> str:
    """The exact YAML text written for a CRD (stable: the drift test compares it byte for byte)."""
    return "---\n" + yaml.dump(crd, Dumper=_PlainDumper, sort_keys=False, allow_unicode=True, width=120)


class _PlainDumper(yaml.SafeDumper):
    """Never emit YAML anchors/aliases, even when the same schema dict appears twice."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _crd(kind: type[Resource]) -> dict[str, Any]:
    spec_schema = _model_schema(kind)
    spec_schema["properties"]["metadata"] = {"type": "object"}
    # Go Picchu's CRDs require nothing at the top level (spec is optional there); keep accepting the same.
    spec_schema.pop("required", None)
    if "status" in spec_schema["properties"]:
        _drop_required(spec_schema["properties"]["status"])
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": kind.KIND,
                "listKind": f"{kind.KIND}List",
                "plural": kind.PLURAL,
                "singular": kind.KIND.lower(),
                "shortNames": _SHORT_NAMES[kind.KIND],
                "categories": ["picchu"],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": spec_schema},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        *_PRINTER_COLUMNS[kind.KIND],
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                }
            ],
        },
    }


def _drop_required(schema: Any) -> None:
    """Status is never stricter than what Go Picchu writes: during a switch-over (or a roll-back to Go
    Picchu) both operators write status through these CRDs, and Picchu omits fields (e.g. `sentry.release`)."""
    if isinstance(schema, dict):
        if schema.get("x-kubernetes-list-map-keys"):  # conditions: ours, and their keys must stay required
            return
        schema.pop("required", None)
        for value in schema.values():
            _drop_required(value)
    elif isinstance(schema, list):
        for value in schema:
            _drop_required(value)


def _model_schema(model: type[BaseModel]) -> Schema:
    hints = get_type_hints(model, include_extras=True)
    properties: Schema = {}
    required: list[str] = []
    for name, field in model.model_fields.items():
        wire = field.alias or name
        schema = _type_schema(hints[name])
        if field.description:  # from the attribute docstring; shown by `kubectl explain`
            schema = {
                "description": field.description,
                **{k: v for k, v in schema.items() if k != "description"},
            }
        schema.update(_field_constraints(field))
        for key, value in _FIELD_EXTRAS.get((model, name), {}).items():
            if key == "properties":
                schema.setdefault("properties", {}).update(value)
            else:
                schema[key] = value
        properties[wire] = schema
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        if field.is_required() or extra.get("x-picchu-wire-required"):
            required.append(wire)
    result: Schema = {"type": "object"}
    if model.__doc__ and model.__module__.startswith("picchu.") and model.__doc__ != BaseModel.__doc__:
        result["description"] = " ".join(model.__doc__.split())
    result["properties"] = properties
    if required:
        result["required"] = required
    if issubclass(model, OpenModel):
        result["x-kubernetes-preserve-unknown-fields"] = True
    if model in _MODEL_RULES:
        result["x-kubernetes-validations"] = list(_MODEL_RULES[model])
    return result


def _field_constraints(field: FieldInfo) -> Schema:
    return _metadata_schema(field.metadata, field.json_schema_extra)


def _metadata_schema(metadata: Sequence[Any], extra: object = None) -> Schema:
    schema: Schema = {}
    for item in metadata:
        # Only meaningful bounds: the int32/int64 ranges are implied by `format` and would be noise.
        if isinstance(item, annotated_types.Ge) and item.ge not in _TYPE_BOUNDS:
            schema["minimum"] = item.ge
        elif isinstance(item, annotated_types.Le) and item.le not in _TYPE_BOUNDS:
            schema["maximum"] = item.le
        elif isinstance(item, FieldInfo):
            schema.update(_metadata_schema(item.metadata, item.json_schema_extra))
    if isinstance(extra, dict):
        if "format" in extra:
            schema["format"] = extra["format"]
        # Formats are OpenAPI patterns, not CEL `matches`: patterns cost nothing in the CEL budget.
        if extra.get("x-picchu-duration"):
            schema["pattern"] = _DURATION_PATTERN
        if extra.get("x-picchu-prometheus-duration"):
            schema["pattern"] = _PROMETHEUS_DURATION_PATTERN
        if extra.get("x-picchu-quantity"):
            schema["pattern"] = _QUANTITY_PATTERN
        if extra.get("x-picchu-float-string"):
            schema["pattern"] = _FLOAT_PATTERN
        if extra.get("x-picchu-percent-string"):
            schema["pattern"] = _FLOAT_PATTERN
            schema["x-kubernetes-validations"] = [
                _rule(
                    "self == '' || (double(self) >= 0.0 && double(self) <= 100.0)",
                    'must be a percentage: a number between 0 and 100, e.g. "99.9"',
                )
            ]
    return schema


def _passthrough_schema(required: tuple[str, ...]) -> Schema:
    schema = dict(_PRESERVE)
    if required:  # a required key must be a declared property; untyped, it stays free-form
        schema["properties"] = {
            key: {"description": f"Required {key} of this embedded object (as in its upstream Kubernetes API).",
                  "x-kubernetes-preserve-unknown-fields": True}
            for key in required}
        schema["required"] = list(required)
    return schema


def _type_schema(annotation: Any) -> Schema:
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *metadata = get_args(annotation)
        markers = [item for item in metadata if isinstance(item, PassthroughMarker)]
        if markers:
            return _passthrough_schema(markers[0].required)
        if any(isinstance(item, IntOrStringMarker) for item in metadata):
            return {"x-kubernetes-int-or-string": True}
        schema = _type_schema(base)
        schema.update(_metadata_schema(metadata))
        return schema
    if origin in (Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(members) != 1:
            raise TypeError(f"cannot express union {annotation!r} in a structural schema")
        return _type_schema(members[0])
    if origin is list:
        (item,) = get_args(annotation)
        return {"type": "array", "items": _type_schema(item)}
    if origin is dict:
        _, value = get_args(annotation)
        if value is Any:
            return dict(_PRESERVE)
        return {"type": "object", "additionalProperties": _type_schema(value)}
    if origin is Literal:
        return {"type": "string"}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _model_schema(annotation)
    simple = {bool: "boolean", int: "integer", float: "number", str: "string"}
    if annotation in simple:
        return {"type": simple[annotation]}
    if annotation is datetime or annotation is AwareDatetime:
        return {"type": "string", "format": "date-time"}
    if annotation is typing.Any:
        return dict(_PRESERVE)
    raise TypeError(f"no schema for {annotation!r}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the picchu CRDs generated from the API models.")
    parser.add_argument("--out", type=Path, default=Path("config/crd"), help="output directory")
    args = parser.parse_args(argv)
    for path in write_crds(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
