"""The generated CRDs, installed in a real kube-apiserver, accept the valid samples and reject real errors.

The `control_plane` fixture installs config/crd/*.yaml into the `delivery` cluster; each test works in a
fresh namespace. No admission webhook runs: what is rejected here is rejected by the schema and CEL alone.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from api_invalid_cases import CASES, Case
from api_samples import INVALID_SAMPLES, all_manifests, invalid_manifest, manifest

from picchu.api.v1alpha1 import KINDS, load, load_revision, to_wire
from picchu.testing.controlplane import ControlPlane

MODELS = {kind.KIND: kind for kind in KINDS}


def kubectl(
    control_plane: ControlPlane, *args: str, body: dict[str, Any] | None = None, check: bool = True
) -> Any:
    delivery = control_plane.clusters["delivery"]
    return delivery.kubectl(*args, input=json.dumps(body) if body is not None else None, check=check)


def stored(control_plane: ControlPlane, obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    kind = MODELS[obj["kind"]]
    result = kubectl(
        control_plane,
        "get",
        "-n",
        namespace,
        f"{kind.PLURAL}.picchu.medium.engineering",
        obj["metadata"]["name"],
        "-o",
        "json",
    )
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


@pytest.mark.parametrize("name", all_manifests())
def test_every_valid_sample_is_accepted_stored_unpruned_and_loads(
    control_plane: ControlPlane, namespace: str, name: str
) -> None:
    obj = manifest(name)
    obj["metadata"]["namespace"] = namespace
    kubectl(control_plane, "create", "-f", "-", body=obj)
    back = stored(control_plane, obj, namespace)
    assert back["spec"] == obj["spec"], "the API server pruned or changed part of the spec"
    model = MODELS[obj["kind"]].model_validate(back)
    assert model.model_dump(by_alias=True, exclude_unset=True, mode="json")["spec"] == obj["spec"]
    load(back)


def test_the_sample_revision_read_back_from_the_server_has_the_documented_defaults(
    control_plane: ControlPlane, namespace: str
) -> None:
    obj = manifest("revision-echo.yaml")
    obj["metadata"]["namespace"] = namespace
    kubectl(control_plane, "create", "-f", "-", body=obj)
    revision = load_revision(stored(control_plane, obj, namespace))
    for target in revision.spec.targets:
        assert target.default_ingress_ports == {"private": "http", "public": "http"}
        http, status = target.ports  # type: ignore[misc]
        assert http.ingresses == ["private", "public"] and status.ingresses is None
        assert target.release is not None and target.release.max == 100 and target.release.ttl == 432000
    staging = revision.target("staging")
    assert staging is not None and staging.release is not None
    assert (staging.release.scaling_strategy, staging.release.schedule) == ("geometric", "always")


def test_a_defaulted_revision_written_back_is_still_accepted(
    control_plane: ControlPlane, namespace: str
) -> None:
    obj = manifest("revision-echo.yaml")
    obj["metadata"]["namespace"] = namespace
    kubectl(control_plane, "create", "-f", "-", body=obj)
    defaulted = to_wire(load_revision(stored(control_plane, obj, namespace)))
    kubectl(control_plane, "replace", "-f", "-", body=defaulted)
    assert stored(control_plane, obj, namespace)["spec"] == defaulted["spec"]


REJECTED = [case for case in CASES if case.apiserver_rejects]
MODEL_ONLY = [case for case in CASES if not case.apiserver_rejects]


@pytest.mark.parametrize("case", REJECTED, ids=[case.id for case in REJECTED])
def test_the_api_server_rejects_a_real_error_without_any_webhook(
    control_plane: ControlPlane, namespace: str, case: Case
) -> None:
    obj = manifest(case.sample)
    obj["metadata"]["namespace"] = namespace
    case.mutate(obj)
    result = kubectl(control_plane, "create", "-f", "-", body=obj, check=False)
    assert result.returncode != 0, f"accepted: {result.stdout}"
    assert "is invalid" in result.stderr or "unknown field" in result.stderr, result.stderr
    parent = case.path.rsplit(".", 1)[0]
    assert case.path in result.stderr or parent in result.stderr, "the error must name the field"


@pytest.mark.parametrize("case", MODEL_ONLY, ids=[case.id for case in MODEL_ONLY])
def test_rules_left_to_the_model_do_not_make_the_api_server_reject_the_object(
    control_plane: ControlPlane, namespace: str, case: Case
) -> None:
    obj = manifest(case.sample)
    obj["metadata"]["namespace"] = namespace
    case.mutate(obj)
    kubectl(control_plane, "create", "-f", "-", body=obj)


def test_release_manager_status_round_trips_through_the_status_subresource_with_kopf_keys(
    control_plane: ControlPlane, namespace: str
) -> None:
    obj = manifest("releasemanager-echo-production.yaml")
    obj["metadata"]["namespace"] = namespace
    status = obj.pop("status")
    status["kopf"] = {"progress": {"reconcile": {"retries": 1}}}
    kubectl(control_plane, "create", "-f", "-", body=obj)
    kubectl(
        control_plane,
        "patch",
        "releasemanager",
        obj["metadata"]["name"],
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
    )
    back = stored(control_plane, obj, namespace)
    assert back["status"] == status


def test_kubectl_get_shows_app_target_fleet_and_the_released_and_releasing_tags(
    control_plane: ControlPlane, namespace: str
) -> None:
    obj = manifest("releasemanager-echo-production.yaml")
    obj["metadata"]["namespace"] = namespace
    status = obj.pop("status")
    status["revisions"][0]["state"]["current"] = "released"
    status["revisions"][0]["currentPercent"] = 80
    status["revisions"].append(
        {
            **status["revisions"][0],
            "tag": "v2",
            "currentPercent": 20,
            "state": {"current": "releasing", "target": "releasing"},
        }
    )
    kubectl(control_plane, "create", "-f", "-", body=obj)
    kubectl(
        control_plane,
        "patch",
        "rm",
        obj["metadata"]["name"],
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
    )
    header, row = kubectl(control_plane, "get", "rm", "-n", namespace).stdout.splitlines()
    # the releasing tag and its ramp are in the default view, beside the released tag and its share
    assert header.split() == ["NAME", "APP", "TARGET", "RELEASED", "PERCENT", "RELEASING", "RAMP", "REASON", "AGE"]
    assert row.split()[:7] == [
        "echo-production",
        "echo",
        "production",
        "main-20200529-144642-c3d06a9828",
        "80",
        "v2",
        "20",
    ]
    wide_header, wide_row = kubectl(
        control_plane, "get", "rm", "-n", namespace, "-o", "wide"
    ).stdout.splitlines()
    assert "FLEET" in wide_header.split()


def test_kubectl_get_clusters_shows_the_fleet_label_and_get_picchu_lists_every_kind(
    control_plane: ControlPlane, namespace: str
) -> None:
    for name in all_manifests():
        obj = manifest(name)
        obj["metadata"]["namespace"] = namespace
        kubectl(control_plane, "create", "-f", "-", body=obj)
    try:
        header, row = kubectl(control_plane, "get", "pcluster", "-n", namespace).stdout.splitlines()
        listed = kubectl(control_plane, "get", "picchu", "-n", namespace, "-o", "name").stdout.split()
    finally:  # namespaces never finish deleting here, and Mirrors are read cluster-wide by other tests
        kubectl(control_plane, "delete", "mirrors", "--all", "-n", namespace)
    assert header.split()[:3] == ["NAME", "FLEET", "ENABLED"]
    assert row.split()[:3] == ["production-reef-a", "production", "true"]
    assert sorted(entry.split("/")[0] for entry in listed) == sorted(
        f"{kind.KIND.lower()}.picchu.medium.engineering" for kind in KINDS
    )


@pytest.mark.parametrize("name", sorted(INVALID_SAMPLES))
def test_the_api_server_rejects_the_documented_invalid_samples(
    control_plane: ControlPlane, namespace: str, name: str
) -> None:
    obj = invalid_manifest(name)
    obj["metadata"]["namespace"] = namespace
    result = kubectl(control_plane, "create", "-f", "-", body=obj, check=False)
    assert result.returncode != 0, f"accepted: {result.stdout}"
    assert "Required value" in result.stderr or 'unknown field "spec.foo"' in result.stderr, result.stderr


def test_kubectl_explain_documents_picchu_fields(control_plane: ControlPlane) -> None:
    explained = kubectl(control_plane, "explain", "revision.spec.targets.canary").stdout
    assert "Canary traffic percent; 0 means no canary phase." in explained
    assert "percent" in explained and "ttl" in explained
    conditions = kubectl(control_plane, "explain", "revision.status.conditions").stdout
    assert "Released" in conditions and "Progressing" in conditions and "Failed" in conditions
    assert "lastTransitionTime" in conditions


def test_kubectl_get_revisions_shows_app_tag_and_each_targets_state(
    control_plane: ControlPlane, namespace: str
) -> None:
    obj = manifest("revision-echo.yaml")
    obj["metadata"]["namespace"] = namespace
    kubectl(control_plane, "create", "-f", "-", body=obj)
    status = {
        "sentry": {"release": False},
        "targets": [{"name": "staging", "state": "released"}, {"name": "production", "state": "canarying"}],
    }
    kubectl(
        control_plane,
        "patch",
        "rev",
        obj["metadata"]["name"],
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
    )
    header, row = kubectl(control_plane, "get", "rev", "-n", namespace).stdout.splitlines()
    assert header.split() == ["NAME", "APP", "TAG", "TARGET", "STATE", "PERCENT", "REASON", "AGE"]
    assert row.split()[1:5] == ["echo", "main-20200529-144642-c3d06a9828", "staging", "released"]
    wide_header, wide_row = kubectl(control_plane, "get", "rev", "-n", namespace, "-o", "wide").stdout.splitlines()
    columns = wide_header.split()
    assert columns[columns.index("TARGET-2"):columns.index("TARGET-2") + 2] == ["TARGET-2", "STATE-2"]
    assert ["production", "canarying"] == [w for w in wide_row.split() if w in ("production", "canarying")]


# Status shapes Go Picchu 1.6 writes (spec §3.1.3, §3.4, §3.5, §6.3): zero times serialise as null, a fresh
# RM entry carries only what `fresh()` sets, a Revision whose RMs do not exist yet has no sentry block, and a
# Cluster whose discovery failed reports only `ready: false`.
PICCHU_STATUSES: list[tuple[str, str, dict[str, Any]]] = [
    ("revision-echo.yaml", "rev", {"targets": [{"name": "production", "state": "created"}]}),
    ("revision-echo.yaml", "rev", {"sentry": {}, "targets": None}),
    (
        "revision-echo.yaml",
        "rev",
        {
            "sentry": {"release": False},
            "targets": [
                {
                    "name": "production",
                    "scale": {"current": 3, "desired": 4, "peak": 4},
                    "release": {"currentPercent": 10, "peakPercent": 10},
                    "state": "canarying",
                }
            ],
        },
    ),
    (
        "releasemanager-echo-production.yaml",
        "releasemanager",
        {
            "lastUpdated": "2020-05-29T15:10:00Z",
            "revisions": [
                {
                    "tag": "main-20200529-144642-c3d06a9828",
                    "state": {"current": "created", "target": "created", "lastUpdated": None},
                    "currentPercent": 0,
                    "peakPercent": 0,
                    "releaseEligible": False,
                    "triggeredAlerts": None,
                    "lastUpdated": "2020-05-29T15:10:00Z",
                    "gitTimestamp": None,
                    "revisionTimestamp": None,
                    "deployingStartTimestamp": None,
                    "canaryStartTimestamp": None,
                    "pendingReleaseStartTimestamp": None,
                    "releaseStartTimestamp": None,
                    "metrics": {},
                    "scale": {"Current": 0, "Desired": 0, "Peak": 0},
                }
            ],
        },
    ),
    (
        "releasemanager-echo-production.yaml",
        "releasemanager",
        {"revisions": [{"tag": "t1", "state": {"current": "deleted"}, "scale": {}, "deleted": True}]},
    ),
    ("cluster-production-reef-a.yaml", "cluster", {"kubernetes": {"ready": False}}),
]


@pytest.mark.parametrize(("sample", "resource", "status"), PICCHU_STATUSES)
def test_the_api_server_accepts_every_status_shape_go_picchu_writes(
    control_plane: ControlPlane, namespace: str, sample: str, resource: str, status: dict[str, Any]
) -> None:
    obj = manifest(sample)
    obj.pop("status", None)
    obj["metadata"]["namespace"] = namespace
    kubectl(control_plane, "create", "-f", "-", body=obj)
    current = stored(control_plane, obj, namespace)
    # Go Picchu writes status with Status().Update(): a PUT of the whole object on the status subresource.
    kubectl(
        control_plane,
        "replace",
        "--subresource=status",
        "-f",
        "-",
        body={**current, "status": status},
    )
    back = stored(control_plane, obj, namespace)
    without_nulls = json.loads(
        json.dumps(status), object_hook=lambda d: {k: v for k, v in d.items() if v is not None}
    )
    assert back.get("status", {}) == without_nulls
    load(back)
