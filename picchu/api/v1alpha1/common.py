"""Building blocks shared by every picchu.medium.engineering/v1alpha1 model.

Why: the six kinds must read and write Picchu's exact wire format. This module fixes, once, how a field is
named on the wire (camelCase alias, snake_case attribute), how strict a section is (Picchu's own types reject
unknown fields; embedded Kubernetes / Istio / prometheus-operator objects are free-form passthrough dicts),
and how scalar wire types behave (Go ints are strict ints with their range, durations stay the user's
string, timestamps are aware UTC datetimes written as RFC3339).

Neighbours: `durations` (Go duration grammar), the kind modules (`revision`, `release_manager`, `cluster`,
`others`) build on these types, `crdgen` reads the markers defined here (`Passthrough`, `WIRE_REQUIRED`,
`IntOrString`) to emit the OpenAPI schema. Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StrictInt,
    StrictStr,
)
from pydantic.alias_generators import to_camel

from picchu.api.v1alpha1.durations import is_duration

__all__ = [
    "WireModel",
    "OpenModel",
    "Resource",
    "Passthrough",
    "PassthroughList",
    "NamedObject",
    "VolumeMount",
    "PrometheusRuleSpec",
    "KedaTrigger",
    "TopologySpreadConstraint",
    "ServiceMonitorSpec",
    "StringMap",
    "Int32",
    "Int64",
    "UInt32",
    "Percent",
    "Duration",
    "PrometheusDuration",
    "Quantity",
    "PercentString",
    "FloatString",
    "Time",
    "IntOrString",
    "StrictBool",
    "StrictStr",
    "WIRE_REQUIRED",
    "ZERO_TIME",
    "to_wire",
    "parse_time",
]

ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
"""Go's zero time: what Picchu uses for a missing or unparseable timestamp (sorts as the oldest)."""

WIRE_REQUIRED: dict[str, Any] = {"x-picchu-wire-required": True}
"""json_schema_extra marker: the CRD lists the field as required although the model gives it a default
(used on status fields the operator always writes, so Python code can build them incrementally)."""


class PassthroughMarker:
    """Marks a free-form embedded object: the CRD emits `type: object` + preserve-unknown-fields.

    `required` lists the keys the embedded Kubernetes type itself requires (e.g. a Container's `name`):
    Picchu's CRD embedded the full upstream schema, so both the CRD and the model keep requiring them.
    """

    def __init__(self, required: tuple[str, ...] = ()) -> None:
        self.required = required

    def __call__(self, value: dict[str, Any]) -> dict[str, Any]:
        missing = [key for key in self.required if key not in value]
        if missing:
            keys = ", ".join(repr(key) for key in missing)
            raise ValueError(f"missing {keys}, required by this embedded Kubernetes object: add it")
        return value


class IntOrStringMarker:
    """Marks a Kubernetes IntOrString field (`x-kubernetes-int-or-string: true`)."""


def _check_duration(value: str) -> str:
    if not is_duration(value):
        raise ValueError(
            f"{value!r} is not a Go duration: write a number with a unit (ns, us, ms, s, m, h), "
            "e.g. 10s, 1m30s or 2h"
        )
    return value


_PROMETHEUS_DURATION = re.compile(
    r"0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?"
)


def _check_prometheus_duration(value: str) -> str:
    if value and not _PROMETHEUS_DURATION.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a Prometheus duration: write whole numbers with units in order y, w, d, h, m, s, ms, "
            "e.g. 2m or 1h30m"
        )
    return value


_QUANTITY = re.compile(
    r"[+-]?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?"
)


def _check_quantity(value: str) -> str:
    if not _QUANTITY.fullmatch(value):
        raise ValueError(f"{value!r} is not a Kubernetes quantity: write e.g. 5, 0.5, 500m or 2k")
    return value


_FLOAT = re.compile(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?")


def _check_float_string(value: str) -> str:
    if value == "":
        return value
    if not _FLOAT.fullmatch(value) or float(value) in (float("inf"), float("-inf")):
        raise ValueError(f'{value!r} is not a number: write a decimal such as "1.0" or "0.5"')
    return value


def _check_percent_string(value: str) -> str:
    _check_float_string(value)
    if value != "" and not 0 <= float(value) <= 100:
        raise ValueError(f'{value!r} is not a percentage: write a number between 0 and 100, e.g. "99.9"')
    return value


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def _require_rfc3339(value: object) -> object:
    if isinstance(value, datetime) or (isinstance(value, str) and _RFC3339.fullmatch(value)):
        return value
    raise ValueError(f"{value!r} is not an RFC3339 timestamp: write e.g. 2020-05-29T14:46:42Z")


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _format_time(value: datetime) -> str:
    value = value.astimezone(UTC)
    if value.microsecond:
        return value.isoformat().replace("+00:00", "Z")
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


Int32 = Annotated[StrictInt, Field(ge=-(2**31), le=2**31 - 1, json_schema_extra={"format": "int32"})]
Int64 = Annotated[StrictInt, Field(ge=-(2**63), le=2**63 - 1, json_schema_extra={"format": "int64"})]
UInt32 = Annotated[StrictInt, Field(ge=0, le=2**32 - 1, json_schema_extra={"format": "int32"})]
Percent = Annotated[StrictInt, Field(ge=0, le=100, json_schema_extra={"format": "int32"})]
Duration = Annotated[
    StrictStr, AfterValidator(_check_duration), Field(json_schema_extra={"x-picchu-duration": True})
]
PrometheusDuration = Annotated[
    StrictStr,
    AfterValidator(_check_prometheus_duration),
    Field(json_schema_extra={"x-picchu-prometheus-duration": True}),
]
Quantity = Annotated[
    StrictStr, AfterValidator(_check_quantity), Field(json_schema_extra={"x-picchu-quantity": True})
]
FloatString = Annotated[
    StrictStr, AfterValidator(_check_float_string), Field(json_schema_extra={"x-picchu-float-string": True})
]
PercentString = Annotated[
    StrictStr,
    AfterValidator(_check_percent_string),
    Field(json_schema_extra={"x-picchu-percent-string": True}),
]
Time = Annotated[
    AwareDatetime,
    BeforeValidator(_require_rfc3339),
    AfterValidator(_to_utc),
    PlainSerializer(_format_time, return_type=str, when_used="json"),
    Field(json_schema_extra={"format": "date-time"}),
]
IntOrString = Annotated[StrictInt | StrictStr, IntOrStringMarker()]
Passthrough = Annotated[dict[str, Any], PassthroughMarker()]
PassthroughList = list[Passthrough]

# Embedded upstream types with the keys their own schemas require (kept verbatim otherwise).
_NAMED = PassthroughMarker(("name",))
NamedObject = Annotated[dict[str, Any], _NAMED, AfterValidator(_NAMED)]
"""A core Container, Volume or EnvVar: free-form, but `name` is required."""
_MOUNT = PassthroughMarker(("name", "mountPath"))
VolumeMount = Annotated[dict[str, Any], _MOUNT, AfterValidator(_MOUNT)]
_RULE = PassthroughMarker(("expr",))
PrometheusRuleSpec = Annotated[dict[str, Any], _RULE, AfterValidator(_RULE)]
_TRIGGER = PassthroughMarker(("type", "metadata"))
KedaTrigger = Annotated[dict[str, Any], _TRIGGER, AfterValidator(_TRIGGER)]
_SPREAD = PassthroughMarker(("maxSkew", "topologyKey", "whenUnsatisfiable"))
TopologySpreadConstraint = Annotated[dict[str, Any], _SPREAD, AfterValidator(_SPREAD)]
_MONITOR = PassthroughMarker(("endpoints", "selector"))
ServiceMonitorSpec = Annotated[dict[str, Any], _MONITOR, AfterValidator(_MONITOR)]
StringMap = dict[str, StrictStr]


class WireModel(BaseModel):
    """A strict section of Picchu's API: unknown fields are errors, attributes are snake_case of the wire name."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
        validate_default=False,
        use_attribute_docstrings=True,
    )


class OpenModel(WireModel):
    """A status section: unknown keys are kept (kopf stores its progress in status; nothing is dropped)."""

    model_config = ConfigDict(extra="allow")


class Resource(WireModel):
    """Top level of a custom resource: apiVersion, kind, metadata (free-form ObjectMeta), spec, status."""

    KIND: ClassVar[str] = ""
    PLURAL: ClassVar[str] = ""

    api_version: StrictStr | None = Field(default=None, alias="apiVersion")
    kind: StrictStr | None = None
    metadata: Passthrough = Field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.metadata.get("name") or "")

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace") or "")

    @property
    def labels(self) -> dict[str, str]:
        labels = self.metadata.get("labels")
        return dict(labels) if isinstance(labels, dict) else {}

    @property
    def annotations(self) -> dict[str, str]:
        annotations = self.metadata.get("annotations")
        return dict(annotations) if isinstance(annotations, dict) else {}

    def to_wire(self) -> dict[str, Any]:
        """The JSON object to send to the API server (wire keys, None omitted)."""
        return to_wire(self)


def to_wire(model: BaseModel) -> dict[str, Any]:
    """Serialise any model with its wire keys, omitting unset optionals (None)."""
    return model.model_dump(by_alias=True, exclude_none=True, mode="json")


def parse_time(text: object) -> datetime | None:
    """Parse an RFC3339 timestamp (as found in annotations); None when missing or unparseable."""
    if not isinstance(text, str) or not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        return None
    return value.astimezone(UTC)


class StatusCondition(OpenModel):
    """One observation of the object's state, in the standard Kubernetes condition shape (for `kubectl wait
    --for=condition=TYPE` and `kubectl describe`)."""

    type: StrictStr
    """Condition type. Revision: Valid, AlertsClear, Released, Progressing, Failed. ReleaseManager:
    ClustersSynced, Progressing. Cluster: Ready."""
    status: StrictStr
    """"True", "False" or "Unknown"."""
    reason: StrictStr | None = None
    """CamelCase cause, e.g. WaitingForPods, WaitingForCapacity, OutsideReleaseWindow, AlertsFiring,
    ClusterUnreachable, NoClusterInFleet, InvalidSpec."""
    message: StrictStr | None = None
    """Human-readable details: what is waited for and, when something must be fixed, what to do."""
    last_transition_time: Time | None = None
    """When status last changed (not when the message last changed)."""


Conditions = list[StatusCondition]
