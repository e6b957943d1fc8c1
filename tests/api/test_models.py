"""The models read and write Picchu's wire format without loss, and expose the helpers the team relies on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from api_samples import all_manifests, manifest

from picchu.api.v1alpha1 import (
    KINDS,
    Cluster,
    InvalidSpec,
    ReleaseManager,
    ReleaseManagerRevisionStatus,
    ReleaseManagerStatus,
    Revision,
    load,
    load_cluster,
    load_release_manager,
    load_revision,
    to_wire,
)

MODELS = {kind.KIND: kind for kind in KINDS}


@pytest.mark.parametrize("name", all_manifests())
def test_parsing_then_dumping_a_sample_manifest_gives_back_the_same_object(name: str) -> None:
    obj = manifest(name)
    model = MODELS[obj["kind"]].model_validate(obj)
    assert model.model_dump(by_alias=True, exclude_unset=True, mode="json") == obj


@pytest.mark.parametrize("name", all_manifests())
def test_every_sample_manifest_loads_with_defaults_and_validation(name: str) -> None:
    obj = manifest(name)
    loaded = load(obj)
    assert type(loaded).KIND == obj["kind"]
    assert loaded.name == obj["metadata"]["name"]


def test_attributes_are_snake_case_of_the_wire_names(revision_obj: dict[str, Any]) -> None:
    revision = Revision.model_validate(revision_obj)
    production = revision.spec.targets[1]
    assert revision.spec.tag_routing_header == "echo-tag"
    assert production.scale.target_cpu_utilization_percentage == 60
    assert production.release is not None and production.release.geometric_scaling is not None
    assert production.release.geometric_scaling.delay == "1m"
    assert production.canary is not None and (production.canary.percent, production.canary.ttl) == (5, 600)
    slo = production.service_level_objectives[0]  # type: ignore[index]
    assert slo.objective_percent_string == "99.9"
    assert slo.service_level_indicator.canary.allowance_percent_string == "1"  # type: ignore[union-attr]
    assert production.ports[0].ingress_port == 443  # type: ignore[index]
    assert production.config_selector == {
        "matchLabels": {
            "picchu.medium.engineering/app": "echo",
            "picchu.medium.engineering/target": "production",
        }
    }


def test_models_can_be_built_in_python_by_attribute_name_and_serialise_with_wire_keys() -> None:
    status = ReleaseManagerStatus(last_updated=datetime(2020, 5, 29, 15, 10, tzinfo=UTC), revisions=[])
    assert to_wire(status) == {"lastUpdated": "2020-05-29T15:10:00Z", "revisions": []}


def test_embedded_kubernetes_objects_are_kept_verbatim_including_fields_we_do_not_model(
    revision_obj: dict[str, Any],
) -> None:
    target = revision_obj["spec"]["targets"][0]
    target["sidecars"] = [{"name": "proxy", "image": "envoy", "futureField": {"x": [1, 2]}}]
    target["affinity"] = {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}
    }
    target["istio"] = {"trafficPolicy": {"connectionPool": {"tcp": {"maxConnections": 100}}}}
    target["podDisruptionBudget"] = {"maxUnavailable": "5%", "unhealthyPodEvictionPolicy": "AlwaysAllow"}
    revision = Revision.model_validate(revision_obj)
    assert revision.model_dump(by_alias=True, exclude_unset=True, mode="json") == revision_obj
    loaded = to_wire(load_revision(revision_obj))["spec"]["targets"][0]
    assert loaded["sidecars"][0]["futureField"] == {"x": [1, 2]}
    assert loaded["podDisruptionBudget"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


def test_an_unknown_field_in_a_picchu_section_is_an_error_naming_its_path(
    revision_obj: dict[str, Any],
) -> None:
    revision_obj["spec"]["targets"][1]["release"]["scalingStrategyy"] = "linear"
    with pytest.raises(InvalidSpec) as raised:
        load_revision(revision_obj)
    assert raised.value.errors == [
        (
            "spec.targets[1].release.scalingStrategyy",
            "unknown field 'scalingStrategyy': remove it or correct its spelling (nothing here is silently dropped)",
        )
    ]


def test_a_wrongly_typed_value_is_an_error_not_a_silent_conversion(revision_obj: dict[str, Any]) -> None:
    revision_obj["spec"]["targets"][0]["scale"]["max"] = "2"
    revision_obj["spec"]["failed"] = "false"
    with pytest.raises(InvalidSpec) as raised:
        load_revision(revision_obj)
    assert raised.value.errors == [
        ("spec.targets[0].scale.max", "got '2': write an integer, e.g. 3"),
        ("spec.failed", "got 'false': write true or false (unquoted)"),
    ]


def test_status_sections_keep_keys_they_do_not_know_so_kopf_progress_survives() -> None:
    obj = manifest("releasemanager-echo-production.yaml")
    obj["status"]["kopf"] = {"progress": {"handler": {"started": "2020-05-29T15:10:00Z"}}}
    obj["status"]["revisions"][0]["futureKey"] = 1
    model = ReleaseManager.model_validate(obj)
    assert model.model_dump(by_alias=True, exclude_unset=True, mode="json") == obj


def test_release_manager_status_uses_capitalised_scale_keys_and_exact_wire_keys() -> None:
    rm = load_release_manager(manifest("releasemanager-echo-production.yaml"))
    assert rm.status is not None and rm.status.revisions is not None
    entry = rm.status.revisions[0]
    assert (entry.scale.current, entry.scale.desired, entry.scale.peak) == (12, 12, 12)
    assert entry.state.current == "releasing"
    assert entry.metrics.git_create_seconds_int == 198
    wire = to_wire(entry)
    assert wire["scale"] == {"Current": 12, "Desired": 12, "Peak": 12}
    assert wire["releaseStartTimestamp"] == "2020-05-29T15:05:00Z"
    assert "pendingReleaseStartTimestamp" not in wire


def test_a_legacy_or_unknown_state_name_still_parses_for_the_release_engine_to_handle() -> None:
    obj = manifest("releasemanager-echo-production.yaml")
    obj["status"]["revisions"][0]["state"] = {"current": "canaryingdatadog", "target": "canaryingdatadog"}
    rm = load_release_manager(obj)
    assert rm.status.revisions[0].state.current == "canaryingdatadog"  # type: ignore[union-attr,index]


def test_a_fresh_status_entry_is_created_now_with_zero_percents() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    entry = ReleaseManagerRevisionStatus.fresh("v1", now)
    assert to_wire(entry) == {
        "tag": "v1",
        "state": {"current": "created", "target": "created", "lastUpdated": "2026-01-02T03:04:05Z"},
        "currentPercent": 0,
        "peakPercent": 0,
        "releaseEligible": False,
        "lastUpdated": "2026-01-02T03:04:05Z",
        "metrics": {},
        "scale": {"Current": 0, "Desired": 0, "Peak": 0},
    }


def test_timestamps_are_utc_aware_and_a_timestamp_without_zone_is_rejected() -> None:
    obj = manifest("releasemanager-echo-production.yaml")
    obj["status"]["lastUpdated"] = "2020-05-29T17:10:00+02:00"
    rm = load_release_manager(obj)
    assert rm.status is not None and rm.status.last_updated == datetime(2020, 5, 29, 15, 10, tzinfo=UTC)
    obj["status"]["lastUpdated"] = "2020-05-29T15:10:00"
    with pytest.raises(InvalidSpec, match=r"status\.lastUpdated: .* is not an RFC3339 timestamp"):
        load_release_manager(obj)


def test_revision_helpers_read_annotations_and_targets(revision_obj: dict[str, Any]) -> None:
    revision = load_revision(revision_obj)
    assert revision.app == "echo" and revision.tag == "main-20200529-144642-c3d06a9828"
    assert revision.git_timestamp == datetime(2020, 5, 29, 14, 46, 42, tzinfo=UTC)
    assert revision.failed_at is None and not revision.is_failed
    assert revision.target("production") is revision.spec.targets[1]
    assert revision.target("nope") is None
    assert revision.target("production").has_autoscaler  # type: ignore[union-attr]
    assert not revision.target("staging").has_autoscaler  # type: ignore[union-attr]
    assert revision.target("production").is_acceptance  # type: ignore[union-attr]


def test_missing_or_garbled_timestamps_read_as_none(revision_obj: dict[str, Any]) -> None:
    revision_obj["metadata"]["annotations"] = {
        "git-scm.com/committer-timestamp": "yesterday",
        "picchu.medium.engineering/failed-at-timestamp": "2020-05-30T00:00:00Z",
    }
    revision = load_revision(revision_obj)
    assert revision.git_timestamp is None
    assert revision.failed_at == datetime(2020, 5, 30, tzinfo=UTC) and revision.is_failed


def test_has_autoscaler_follows_picchu_for_each_kind_of_target(revision_obj: dict[str, Any]) -> None:
    scale = revision_obj["spec"]["targets"][0]["scale"]
    for extra in (
        {"targetMemoryUtilizationPercentage": 70},
        {"targetRequestsRate": "5"},
        {"worker": {"queueUri": "sqs://q", "targetMessagesPerWorker": 2, "maxDisruption": "10%"}},
        {"kedaWorker": {"triggers": [{"type": "aws-sqs-queue", "metadata": {"queueURL": "q"}}]}},
    ):
        revision_obj["spec"]["targets"][0]["scale"] = {**scale, **extra}
        assert load_revision(revision_obj).spec.targets[0].has_autoscaler, extra


def test_cluster_helpers_give_fleet_and_float_scaling_factor(cluster_obj: dict[str, Any]) -> None:
    cluster_obj["spec"]["scalingFactorString"] = "0.5"
    cluster = load_cluster(cluster_obj)
    assert cluster.fleet == "production"
    assert cluster.scaling_factor == 0.5
    assert cluster.live
    del cluster_obj["metadata"]["labels"]
    cluster_obj["spec"]["hotStandby"] = True
    cluster = Cluster.model_validate(cluster_obj)
    assert cluster.fleet == "" and not cluster.live


def test_load_rejects_an_object_of_another_kind(cluster_obj: dict[str, Any]) -> None:
    with pytest.raises(InvalidSpec, match="kind"):
        load_revision(cluster_obj)
    with pytest.raises(InvalidSpec, match="not a picchu kind"):
        load({"kind": "Pod"})


def test_read_only_mapping_views_like_kopf_bodies_load_like_dicts(revision_obj: dict[str, Any]) -> None:
    from types import MappingProxyType

    def frozen(value: Any) -> Any:
        if isinstance(value, dict):
            return MappingProxyType({key: frozen(item) for key, item in value.items()})
        if isinstance(value, list):
            return [frozen(item) for item in value]
        return value

    assert to_wire(load_revision(frozen(revision_obj))) == to_wire(load_revision(revision_obj))


def _models_under(model: type[Any], seen: set[type[Any]]) -> set[type[Any]]:
    from typing import get_args

    from pydantic import BaseModel

    def walk(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation not in seen:
                seen.add(annotation)
                for field in annotation.model_fields.values():
                    walk(field.annotation)
        for arg in get_args(annotation):
            walk(arg)

    walk(model)
    return seen


@pytest.mark.parametrize("kind", KINDS, ids=[kind.KIND for kind in KINDS])
def test_every_spec_section_is_strict_and_every_status_section_keeps_unknown_keys(kind: type[Any]) -> None:
    spec_models = _models_under(kind.model_fields["spec"].annotation, set())
    status_models = _models_under(kind.model_fields["status"].annotation, set())
    assert spec_models and status_models
    assert all(model.model_config.get("extra") == "forbid" for model in spec_models), spec_models
    assert all(model.model_config.get("extra") == "allow" for model in status_models), status_models
