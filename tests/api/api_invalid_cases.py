"""Invalid Revision/Cluster/FaultInjector cases shared by the model tests and the API-server tests.

Each case: an id (a sentence), a function turning a valid sample into an invalid one, the field path the model
reports, a fragment of its message, and whether the API server (schema/CEL) also rejects it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]


@dataclass(frozen=True)
class Case:
    id: str
    sample: str
    mutate: Callable[[Obj], None]
    path: str
    message: str
    apiserver_rejects: bool


def _target(obj: Obj, index: int = 1) -> Obj:
    target: Obj = obj["spec"]["targets"][index]
    return target


def _set(path: list[str | int], value: Any) -> Callable[[Obj], None]:
    def mutate(obj: Obj) -> None:
        node: Any = obj
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


def _delete(path: list[str | int]) -> Callable[[Obj], None]:
    def mutate(obj: Obj) -> None:
        node: Any = obj
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return mutate


def _duplicate_target(obj: Obj) -> None:
    obj["spec"]["targets"][0]["name"] = "production"


def _two_private_ports(obj: Obj) -> None:
    _target(obj, 0)["ports"] = [{"name": "web", "mode": "private"}, {"name": "admin", "mode": "private"}]


REV = "revision-echo.yaml"
T1 = ["spec", "targets", 1]
T0 = ["spec", "targets", 0]

CASES = [
    Case("no targets", REV, _set(["spec", "targets"], []), "spec.targets", "add at least one target", True),
    Case("duplicate target names", REV, _duplicate_target, "spec.targets", "unique name", True),
    Case(
        "missing scale.min", REV, _delete([*T1, "scale", "min"]), "spec.targets[1].scale.min", "minimum", True
    ),
    Case(
        "unknown scaling strategy",
        REV,
        _set([*T1, "release", "scalingStrategy"], "exponential"),
        "spec.targets[1].release.scalingStrategy",
        'use "linear" or "geometric"',
        True,
    ),
    Case(
        "canary above release max",
        REV,
        _set([*T1, "release", "max"], 4),
        "spec.targets[1].canary.percent",
        "lower canary.percent or raise release.max",
        True,
    ),
    Case(
        "canary with zero ttl",
        REV,
        _set([*T1, "canary", "ttl"], 0),
        "spec.targets[1].canary.ttl",
        "positive TTL",
        True,
    ),
    Case(
        "negative release ttl",
        REV,
        _set([*T1, "release", "ttl"], -5),
        "spec.targets[1].release.ttl",
        "positive number of seconds",
        True,
    ),
    Case(
        "percent above 100",
        REV,
        _set([*T1, "release", "max"], 150),
        "spec.targets[1].release.max",
        "use a value of at most 100",
        True,
    ),
    Case(
        "bad geometric delay",
        REV,
        _set([*T1, "release", "geometricScaling", "delay"], "10 seconds"),
        "spec.targets[1].release.geometricScaling.delay",
        "not a Go duration",
        True,
    ),
    Case(
        "unparseable objective percent",
        REV,
        _set([*T1, "serviceLevelObjectives", 0, "objectivePercentString"], "99.9%"),
        "spec.targets[1].serviceLevelObjectives[0].objectivePercentString",
        "not a number",
        True,
    ),
    Case(
        "objective above 100",
        REV,
        _set([*T1, "serviceLevelObjectives", 0, "objectivePercentString"], "199"),
        "spec.targets[1].serviceLevelObjectives[0].objectivePercentString",
        "between 0 and 100",
        True,
    ),
    Case(
        "unparseable allowance percent",
        REV,
        _set(
            [*T1, "serviceLevelObjectives", 0, "serviceLevelIndicator", "canary", "allowancePercentString"],
            "one",
        ),
        "spec.targets[1].serviceLevelObjectives[0].serviceLevelIndicator.canary.allowancePercentString",
        "not a number",
        True,
    ),
    Case(
        "canary failAfter that Prometheus cannot read",
        REV,
        _set([*T1, "serviceLevelObjectives", 0, "serviceLevelIndicator", "canary", "failAfter"], "1.5m"),
        "spec.targets[1].serviceLevelObjectives[0].serviceLevelIndicator.canary.failAfter",
        "not a Prometheus duration",
        True,
    ),
    Case(
        "requests-rate target that is not a quantity",
        REV,
        _set([*T1, "scale", "targetRequestsRate"], "5 rps"),
        "spec.targets[1].scale.targetRequestsRate",
        "not a Kubernetes quantity",
        True,
    ),
    Case(
        "karpenter value neither true nor a duration",
        REV,
        _set([*T1, "karpenterDoNotDisrupt"], "yes"),
        "spec.targets[1].karpenterDoNotDisrupt",
        'use "true" or e.g. "30m"',
        True,
    ),
    Case(
        "karpenter annotation together with karpenterDoNotDisrupt",
        REV,
        lambda obj: _target(obj).update(
            karpenterDoNotDisrupt="30m", podAnnotations={"karpenter.sh/do-not-disrupt": "true"}
        ),
        "spec.targets[1].podAnnotations",
        "remove the annotation",
        False,
    ),
    Case(
        "pdb with both maxUnavailable and minAvailable",
        REV,
        _set([*T1, "podDisruptionBudget"], {"maxUnavailable": "10%", "minAvailable": 2}),
        "spec.targets[1].podDisruptionBudget",
        "keep only one",
        True,
    ),
    Case(
        "service monitor spec without selector",
        REV,
        _set([*T1, "serviceMonitors"], [{"name": "echo", "sloRegex": False, "spec": {"endpoints": []}}]),
        "spec.targets[1].serviceMonitors[0].spec",
        "missing 'selector', required by this embedded Kubernetes object",
        True,
    ),
    Case(
        "sidecar container without a name",
        REV,
        _set([*T1, "sidecars"], [{"image": "envoy"}]),
        "spec.targets[1].sidecars[0]",
        "missing 'name'",
        True,
    ),
    Case(
        "unknown port mode",
        REV,
        _set([*T1, "ports", 0, "mode"], "Public"),
        "spec.targets[1].ports[0].mode",
        'use "public", "private" or "local"',
        True,
    ),
    Case(
        "two private ports and no default ingress port",
        REV,
        _two_private_ports,
        "spec.targets[0].defaultIngressPorts",
        "set defaultIngressPorts.private",
        False,
    ),
    Case(
        "default ingress port for the local ingress",
        REV,
        _set([*T0, "defaultIngressPorts"], {"local": "status"}),
        "spec.targets[0].defaultIngressPorts.local",
        "no port is exposed on ingress 'local'",
        False,
    ),
    Case(
        "default ingress port naming a port that is not on the ingress",
        REV,
        _set([*T1, "defaultIngressPorts"], {"public": "status"}),
        "spec.targets[1].defaultIngressPorts.public",
        "'status' is not a port exposed on ingress 'public'",
        False,
    ),
    Case(
        "unknown field in a target",
        REV,
        _set([*T1, "replicas"], 3),
        "spec.targets[1].replicas",
        "unknown field 'replicas'",
        True,
    ),
    Case(
        "missing required spec.failed",
        REV,
        _delete(["spec", "failed"]),
        "spec.failed",
        "required field 'failed' is missing",
        True,
    ),
    Case(
        "scaling factor zero",
        "cluster-production-reef-a.yaml",
        _set(["spec", "scalingFactorString"], "0"),
        "spec.scalingFactorString",
        "positive number",
        True,
    ),
    Case(
        "scaling factor not a number",
        "cluster-production-reef-a.yaml",
        _set(["spec", "scalingFactorString"], "one"),
        "spec.scalingFactorString",
        "not a number",
        True,
    ),
    Case(
        "scaling factor so large that pod counts overflow",
        "cluster-production-reef-a.yaml",
        _set(["spec", "scalingFactorString"], "1e308"),
        "spec.scalingFactorString",
        "larger than 1000",
        False,
    ),
    Case(
        "app name in unicode",
        REV,
        _set(["spec", "app", "name"], "ünïcødé"),
        "spec.app.name",
        "not a DNS label",
        False,
    ),
    Case(
        "tag of 300 characters",
        REV,
        _set(["spec", "app", "tag"], "x" * 300),
        "spec.app.tag",
        "at most 63",
        False,
    ),
    Case(
        "target name too long for the namespace",
        REV,
        _set([*T1, "name"], "t" * 62),
        "spec.targets[1].name",
        "at most 62 characters with the app name",
        False,
    ),
    Case(
        "fleet that is no label key",
        REV,
        _set([*T1, "fleet"], "🚀 fleet"),
        "spec.targets[1].fleet",
        "label key",
        False,
    ),
    Case(
        "hand-written ReleaseManager with a unicode app",
        "releasemanager-echo-production.yaml",
        _set(["spec", "app"], "日本語"),
        "spec.app",
        "no namespace name",
        False,
    ),
    Case(
        "geometric factor of one",
        REV,
        _set([*T1, "release", "geometricScaling", "factor"], 1),
        "spec.targets[1].release.geometricScaling.factor",
        "use 2 or more",
        False,
    ),
    Case(
        "unparseable cluster-secrets label selector",
        "clustersecrets-registry-creds.yaml",
        _set(["spec", "source", "labelSelector"], "app in web"),
        "spec.source.labelSelector",
        "label-selector syntax",
        False,
    ),
    Case(
        "unparseable cluster-secrets field selector",
        "clustersecrets-registry-creds.yaml",
        _set(["spec", "target", "fieldSelector"], "metadata.name"),
        "spec.target.fieldSelector",
        "field-selector syntax",
        False,
    ),
    Case(
        "fault without port selector",
        "faultinjector-my-fault.yaml",
        _delete(["spec", "httpPortFaults", 0, "portSelector"]),
        "spec.httpPortFaults[0].portSelector.number",
        "set portSelector.number",
        True,
    ),
]
