"""The app's namespace and its identity: Namespace, ServiceAccount, token Secret, RBAC (spec §11.3 – §11.5).

The namespace is `«app»-«target»`. Its labels choose the Istio data plane (sidecar injection or ambient
mode, with both during a transition, §11.3). Only picchu-owned labels are rendered: server-side apply merges
them into whatever else is there and leaves annotations alone (§17 #13).

The token Secret is rendered `CREATE_ONLY` by `plan.py` (Kubernetes fills its data; §17 #14). The shared
service-levels namespace is likewise only created when missing, never relabelled.

Neighbours: `waypoint.py` (the ambient waypoint that `mesh_mode` asks for), `labels.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from picchu import keys
from picchu.plans import labels
from picchu.plans.desired import new_object
from picchu.plans.inputs import AppInput, MeshFacts
from picchu.plans.wire import Manifest, as_wire

TOKEN_SECRET = "service-account-token"


@dataclass(frozen=True)
class MeshMode:
    """The §11.3 decision table's outputs."""

    ambient_labels: bool
    transition: bool
    waypoint: bool


def mesh_mode(facts: MeshFacts) -> MeshMode:
    """Decide namespace mode and waypoint from the observed replica facts (§11.3 table)."""
    ambient = facts.newest_ambient and not facts.sidecar_replicas
    return MeshMode(
        ambient_labels=ambient,
        transition=facts.ambient_replicas and not ambient,
        waypoint=facts.ambient_replicas or ambient,
    )


def render_namespace(inputs: AppInput) -> Manifest:
    mode = mesh_mode(inputs.mesh)
    mesh: dict[str, str]
    if mode.ambient_labels:
        mesh = {keys.LABEL_ISTIO_DATAPLANE_MODE: "ambient", keys.LABEL_ISTIO_USE_WAYPOINT: "waypoint"}
    else:
        mesh = {keys.LABEL_ISTIO_INJECTION: "enabled"}
        if mode.transition:
            mesh[keys.LABEL_ISTIO_DATAPLANE_MODE] = "ambient"
    return new_object("v1", "Namespace", inputs.namespace, None, {**_owned(inputs), **mesh})


def render_service_levels_namespace(inputs: AppInput) -> Manifest:
    """The shared namespace holding PrometheusServiceLevels: ensured to exist, labels left to others."""
    managed = {keys.LABEL_MANAGED_BY: keys.MANAGED_BY}
    return new_object("v1", "Namespace", inputs.settings.service_levels_namespace, None, managed)


def render_identity(inputs: AppInput) -> list[Manifest]:
    """Token Secret, ServiceAccount `«app»`, external-metrics Role and RoleBinding, in that order."""
    namespace, app = inputs.namespace, inputs.app
    owned = _owned(inputs)
    role = f"{app}-external-metrics"
    token = new_object(
        "v1", "Secret", TOKEN_SECRET, namespace, labels.managed(app),
        {keys.ANNOTATION_SERVICE_ACCOUNT_NAME: app}, type="kubernetes.io/service-account-token",
    )  # fmt: skip
    account = new_object("v1", "ServiceAccount", app, namespace, owned, _role_annotation(inputs))
    rbac = "rbac.authorization.k8s.io/v1"
    role_object = new_object(
        rbac, "Role", role, namespace, owned,
        rules=[{"apiGroups": ["external.metrics.k8s.io"], "resources": ["*"], "verbs": ["get", "list", "watch"]}],
    )  # fmt: skip
    binding = new_object(
        rbac, "RoleBinding", f"{role}-binding", namespace, owned,
        subjects=[{"kind": "ServiceAccount", "name": app, "namespace": namespace}],
        roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
    )  # fmt: skip
    return [token, account, role_object, binding]


def _owned(inputs: AppInput) -> dict[str, str]:
    return {**labels.owner(inputs), **labels.managed(inputs.app)}


def _role_annotation(inputs: AppInput) -> dict[str, str]:
    """`eks.amazonaws.com/role-arn` from the newest tag that sets an IAM role (SyncRevision step 1)."""
    for tag in inputs.tags:
        role = ((as_wire(tag.target).get("aws") or {}).get("iam") or {}).get("role_arn")
        if role:
            return {keys.ANNOTATION_EKS_ROLE_ARN: str(role)}
    return {}
