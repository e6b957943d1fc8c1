"""Semantic validation: Picchu's webhook rules (§3.3) plus the checks whose absence crashes or misleads Picchu.

Why: an invalid object must be reported with the field path and how to fix it, never crash the operator or
silently do something else. Field-level format checks (durations, percent strings, integer ranges, unknown
fields) live in the model types (`common`); this module holds the rules that need several fields or the
defaulted view. Each function returns a list of `(path, message)`; `loading` raises them as `InvalidSpec`.

Rules also enforced by the API server (CEL, enum, pattern or bound in `crdgen`) are marked [CEL]; the others
are model-only because they need defaulting or cross-list logic the CEL cost budget cannot afford.

Decisions (beyond Picchu's webhook, each a case where Picchu crashed or silently misbehaved):
- `scale.min` is required (Picchu dereferenced nil and crashed, and CanRampTo was always false); we do
  not guess 0, because an HPA with minReplicas 0 is rejected and a silent 0 hides the mistake.
- `release.ttl` 0 is defaulted (Picchu's own behaviour); a negative ttl is an error. A canary with a
  percent needs a positive ttl.
- Target names are unique (one ReleaseManager per target); a FaultInjector entry needs portSelector.number.
- `geometricScaling.factor` 1 (geometric strategy) is an error: the ramp would never pass its first step.
- Unknown RM state names are NOT errors here: the release engine maps or reports them.
- App, target, fleet and tag become namespace and object names, label keys and values and selectors: a name
  none of those accept (unicode, 253 characters) made every pass fail at the apiserver with HTTP 400 (found
  by the reliability suite's hostile input), so it is reported here instead.

Neighbours: `defaults` (runs first; `ingress_buckets` is shared), `selectors`, `loading`. Pure.
"""

from __future__ import annotations

import re
from collections import Counter

from picchu.api.v1alpha1.cluster import Cluster
from picchu.api.v1alpha1.defaults import ingress_buckets
from picchu.api.v1alpha1.durations import is_duration
from picchu.api.v1alpha1.others import ClusterSecrets, FaultInjector
from picchu.api.v1alpha1.release_manager import ReleaseManager
from picchu.api.v1alpha1.revision import (
    PORT_MODES,
    SCALING_GEOMETRIC,
    SCALING_STRATEGIES,
    Revision,
    RevisionTarget,
)
from picchu.api.v1alpha1.selectors import field_selector_error, label_selector_error
from picchu.keys import ANNOTATION_KARPENTER_DO_NOT_DISRUPT

FieldError = tuple[str, str]


class InvalidSpec(ValueError):
    """An object that does not satisfy the API. `.errors` lists (field path, message saying how to fix it)."""

    def __init__(self, kind: str, name: str, errors: list[FieldError]) -> None:
        self.kind = kind
        self.name = name
        self.errors = errors
        details = "; ".join(f"{path}: {message}" for path, message in errors)
        subject = f"{kind} {name!r}" if name else kind
        super().__init__(f"invalid {subject}: {details}")


def validate_revision(revision: Revision) -> list[FieldError]:
    """All rules for a defaulted Revision (call after `default_revision`)."""
    errors: list[FieldError] = []
    targets = revision.spec.targets
    if not targets:
        errors.append(("spec.targets", "no targets: add at least one target (name, fleet, scale.min)"))
    duplicates = [name for name, count in Counter(t.name for t in targets).items() if count > 1]
    for name in duplicates:  # [CEL: list-type map keyed by name]
        errors.append(
            ("spec.targets", f"target name {name!r} is used more than once: give every target a unique name")
        )
    for index, target in enumerate(targets):
        errors.extend(_validate_target(f"spec.targets[{index}]", target))
    errors.extend(_validate_names(revision))
    return errors


_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


def validate_release_manager(rm: ReleaseManager) -> list[FieldError]:
    """The app, target and fleet of a ReleaseManager select its Revisions and name its namespace: the same
    rules as a Revision's (picchu writes them from one; a hand-written one may hold anything)."""
    errors: list[FieldError] = []
    app, target, fleet = rm.spec.app, rm.spec.target, rm.spec.fleet
    if not _DNS_LABEL.match(app) or not _DNS_LABEL.match(target) or len(f"{app}-{target}") > 63:
        errors.append(("spec.app", f"{app[:80]!r}-{target[:80]!r} is no namespace name: app and target must be "
                                   "lower-case letters, digits and '-', at most 63 characters together"))
    if not fleet or len(fleet) > 63 or not _LABEL_VALUE.match(fleet):
        errors.append(("spec.fleet", f"{fleet[:80]!r}: use at most 63 letters, digits, '-', '_' and '.'"))
    return errors


def _validate_names(revision: Revision) -> list[FieldError]:
    """Names that end up in namespaces (`<app>-<target>`), label keys (`fleet.…/<fleet>`), label values and
    ReplicaSet names (the tag) must be what the apiserver accepts there."""
    errors: list[FieldError] = []
    app, tag = revision.spec.app.name, revision.spec.app.tag
    if not _DNS_LABEL.match(app) or len(app) > 63:
        errors.append(("spec.app.name", f"{app[:80]!r} is not a DNS label: use at most 63 lower-case letters, "
                                        "digits and '-' (it names the app's namespace in each cluster)"))
    if not tag or len(tag) > 63 or not _DNS_SUBDOMAIN.match(tag) or not _LABEL_VALUE.match(tag):
        errors.append(("spec.app.tag", f"{tag[:80]!r}: use at most 63 lower-case letters, digits, '-' and '.' "
                                       "(it names the ReplicaSet and labels every object of the tag)"))
    for index, target in enumerate(revision.spec.targets):
        name, fleet = target.name, target.fleet
        if not _DNS_LABEL.match(name) or len(f"{app}-{name}") > 63:
            errors.append((f"spec.targets[{index}].name", f"{name[:80]!r}: use lower-case letters, digits and '-', "
                                                          "at most 62 characters with the app name "
                                                          "(<app>-<target> names the namespace)"))
        if not fleet or len(fleet) > 63 or not _LABEL_VALUE.match(fleet):
            errors.append((f"spec.targets[{index}].fleet", f"{fleet[:80]!r}: use at most 63 letters, digits, '-', "
                                                           "'_' and '.' (it is a label key of the Revision)"))
    return errors


def _validate_target(path: str, target: RevisionTarget) -> list[FieldError]:
    errors: list[FieldError] = []
    scale = target.scale
    if scale.min is None:  # [CEL]
        errors.append(
            (f"{path}.scale.min", "missing: set the minimum number of replicas across the fleet, e.g. min: 1")
        )
    for field, value in (("min", scale.min), ("default", scale.default), ("max", scale.max)):
        if value is not None and value < 0:
            errors.append((f"{path}.scale.{field}", f"is {value}: replica counts cannot be negative"))

    release = target.release
    if release is not None:
        if (
            release.scaling_strategy not in SCALING_STRATEGIES and release.scaling_strategy is not None
        ):  # [CEL]
            errors.append(
                (
                    f"{path}.release.scalingStrategy",
                    f'unknown strategy {release.scaling_strategy!r}: use "linear" or "geometric"',
                )
            )
        geometric = release.geometric_scaling
        if release.scaling_strategy == SCALING_GEOMETRIC and geometric is not None and geometric.factor == 1:
            errors.append(  # model-only: a CEL rule on targets[] exceeds the apiserver's cost budget
                (
                    f"{path}.release.geometricScaling.factor",
                    "is 1, so traffic would never grow past the first step: use 2 or more (default 2)",
                )
            )
        if release.ttl is not None and release.ttl < 0:  # [CEL]
            errors.append((f"{path}.release.ttl", f"is {release.ttl}: use a positive number of seconds"))
    release_max = release.max if release is not None and release.max else 100

    canary = target.canary
    if canary is not None:
        if canary.percent > release_max:  # [CEL]
            errors.append(
                (
                    f"{path}.canary.percent",
                    f"is {canary.percent} but release.max is {release_max}: "
                    "lower canary.percent or raise release.max",
                )
            )
        if canary.ttl < 0 or (canary.percent > 0 and canary.ttl == 0):  # [CEL]
            errors.append(
                (
                    f"{path}.canary.ttl",
                    f"is {canary.ttl}: a canary needs a positive TTL in seconds, e.g. ttl: 600",
                )
            )

    karpenter = target.karpenter_do_not_disrupt
    if karpenter:
        if karpenter != "true" and not is_duration(karpenter):  # [CEL]
            errors.append(
                (
                    f"{path}.karpenterDoNotDisrupt",
                    f'{karpenter!r} is neither "true" nor a Go duration: use "true" or e.g. "30m", "1h15m"',
                )
            )
        if ANNOTATION_KARPENTER_DO_NOT_DISRUPT in (target.pod_annotations or {}):
            errors.append(
                (
                    f"{path}.podAnnotations",
                    f"{ANNOTATION_KARPENTER_DO_NOT_DISRUPT!r} is forbidden when karpenterDoNotDisrupt is set: "
                    "remove the annotation and keep karpenterDoNotDisrupt",
                )
            )

    pdb = target.pod_disruption_budget
    if pdb is not None and pdb.get("maxUnavailable") is not None and pdb.get("minAvailable") is not None:
        errors.append(  # [CEL]
            (
                f"{path}.podDisruptionBudget",
                "sets both maxUnavailable and minAvailable: keep only one of them",
            )
        )

    errors.extend(_validate_ports(path, target))
    return errors


def _validate_ports(path: str, target: RevisionTarget) -> list[FieldError]:
    errors: list[FieldError] = []
    for index, port in enumerate(target.ports or []):
        if port.mode is not None and port.mode not in PORT_MODES:  # [CEL]
            errors.append(
                (
                    f"{path}.ports[{index}].mode",
                    f'unknown mode {port.mode!r}: use "public", "private" or "local"',
                )
            )
    buckets = ingress_buckets(target)
    defaults = target.default_ingress_ports
    for ingress, ports in buckets.items():
        names = [port.name for port in ports]
        if defaults is None:
            errors.append(
                (
                    f"{path}.defaultIngressPorts",
                    f"required: ports {names} are exposed on ingress {ingress!r}; "
                    f"set defaultIngressPorts.{ingress} to one of them",
                )
            )
            continue
        chosen = defaults.get(ingress)
        if chosen not in names:
            errors.append(
                (
                    f"{path}.defaultIngressPorts.{ingress}",
                    f"{chosen!r} is not a port exposed on ingress {ingress!r}: use one of {names}"
                    if chosen is not None
                    else f"missing: several ports {names} are exposed on ingress {ingress!r}; "
                    "choose one (or mark one port default: true)",
                )
            )
    for ingress in defaults or {}:
        if ingress not in buckets:
            errors.append(
                (
                    f"{path}.defaultIngressPorts.{ingress}",
                    f"no port is exposed on ingress {ingress!r}: remove this entry "
                    "or expose a port on it (mode public/private or ingresses)",
                )
            )
    return errors


MAX_SCALING_FACTOR = 1000.0
"""A cluster weighing more than a thousand times the default is a typo; larger factors overflowed pod counts."""


def validate_cluster(cluster: Cluster) -> list[FieldError]:
    """A defaulted Cluster: its scaling factor must be a positive number."""
    text = cluster.spec.scaling_factor_string or "1.0"
    try:
        factor = float(text)
    except ValueError:
        factor = float("nan")
    if not factor > 0 or factor == float("inf"):  # [CEL]
        return [
            (
                "spec.scalingFactorString",
                f'{text!r} is not a positive number: use a multiplier such as "1.0" or "0.5"',
            )
        ]
    if factor > MAX_SCALING_FACTOR:  # "1e308" times a replica count is infinity: no pass could size pods
        return [
            (
                "spec.scalingFactorString",
                f"{text!r} is larger than {MAX_SCALING_FACTOR:g}: use a multiplier such as \"1.0\" or \"2\"",
            )
        ]
    return []


def validate_fault_injector(injector: FaultInjector) -> list[FieldError]:
    """Every fault must select a port (a missing portSelector crashed Picchu, §17.2)."""
    errors: list[FieldError] = []
    for index, entry in enumerate(injector.spec.http_port_faults):
        if entry.port_selector is None or entry.port_selector.number is None:  # [CEL]
            errors.append(
                (
                    f"spec.httpPortFaults[{index}].portSelector.number",
                    "missing: set portSelector.number to the service port the fault applies to, e.g. 80",
                )
            )
    return errors


def validate_cluster_secrets(secrets: ClusterSecrets) -> list[FieldError]:
    """Selector strings must parse (Picchu crashed on any non-empty one, §17 #12; we pass them on), and both
    namespaces must be names a namespace can have (an unroutable one made every pass fail with HTTP 404)."""
    errors: list[FieldError] = []
    for section, spec in (("source", secrets.spec.source), ("target", secrets.spec.target)):
        if len(spec.namespace) > 63 or not _DNS_LABEL.match(spec.namespace):
            errors.append((f"spec.{section}.namespace", f"{spec.namespace[:80]!r} is not a namespace name: use at "
                                                        "most 63 lower-case letters, digits and '-'"))
        if spec.label_selector and (problem := label_selector_error(spec.label_selector)):
            errors.append((f"spec.{section}.labelSelector", problem))
        if spec.field_selector and (problem := field_selector_error(spec.field_selector)):
            errors.append((f"spec.{section}.fieldSelector", problem))
    return errors
