"""The committed CRDs are exactly what the generator produces, and their schemas have the promised shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from picchu.api.v1alpha1.crdgen import dump_yaml, main, render_crds, write_crds

CRD_DIR = Path(__file__).resolve().parents[2] / "config" / "crd"


def schema_of(plural: str) -> dict[str, Any]:
    crd = render_crds()[f"picchu.medium.engineering_{plural}.yaml"]
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def at(schema: dict[str, Any], *path: str) -> dict[str, Any]:
    for key in path:
        schema = schema["items"] if key == "[]" else schema["properties"][key]
    return schema


def test_the_committed_crds_match_the_generator_byte_for_byte() -> None:
    rendered = render_crds()
    committed = sorted(path.name for path in CRD_DIR.glob("*.yaml"))
    assert committed == sorted(rendered), "run `python -m picchu.api.v1alpha1.crdgen` and commit config/crd"
    for name, crd in rendered.items():
        assert (CRD_DIR / name).read_text(encoding="utf-8") == dump_yaml(crd), (
            f"{name} drifted from the models: run `python -m picchu.api.v1alpha1.crdgen` and commit config/crd"
        )


def test_write_crds_and_the_command_line_write_the_six_files(tmp_path: Path) -> None:
    written = write_crds(tmp_path / "crd")
    assert sorted(path.name for path in written) == sorted(render_crds())
    assert main(["--out", str(tmp_path / "cli")]) == 0
    assert sorted(path.name for path in (tmp_path / "cli").iterdir()) == sorted(render_crds())
    assert yaml.safe_load(written[0].read_text())["kind"] == "CustomResourceDefinition"


@pytest.mark.parametrize(
    ("kind", "plural"),
    [
        ("Revision", "revisions"),
        ("ReleaseManager", "releasemanagers"),
        ("Cluster", "clusters"),
        ("ClusterSecrets", "clustersecrets"),
        ("Mirror", "mirrors"),
        ("FaultInjector", "faultinjectors"),
    ],
)
def test_each_kind_is_namespaced_with_status_subresource_category_and_age_column(
    kind: str, plural: str
) -> None:
    crd = render_crds()[f"picchu.medium.engineering_{plural}.yaml"]
    assert crd["metadata"]["name"] == f"{plural}.picchu.medium.engineering"
    assert crd["spec"]["scope"] == "Namespaced"
    names = crd["spec"]["names"]
    assert (names["kind"], names["listKind"], names["plural"]) == (kind, f"{kind}List", plural)
    assert names["categories"] == ["picchu"] and names["shortNames"]
    version = crd["spec"]["versions"][0]
    assert version["name"] == "v1alpha1" and version["served"] and version["storage"]
    assert version["subresources"] == {"status": {}}
    assert version["additionalPrinterColumns"][-1]["name"] == "Age"
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]
    assert status["x-kubernetes-preserve-unknown-fields"] is True


@pytest.mark.parametrize(
    "path",
    [
        ("spec", "targets", "[]", "sidecars", "[]"),
        ("spec", "targets", "[]", "resources"),
        ("spec", "targets", "[]", "affinity"),
        ("spec", "targets", "[]", "tolerations", "[]"),
        ("spec", "targets", "[]", "volumes", "[]"),
        ("spec", "targets", "[]", "env", "[]"),
        ("spec", "targets", "[]", "livenessProbe"),
        ("spec", "targets", "[]", "podDisruptionBudget"),
        ("spec", "targets", "[]", "istio", "trafficPolicy"),
        ("spec", "targets", "[]", "alertRules", "[]"),
        ("spec", "targets", "[]", "serviceMonitors", "[]", "spec"),
        ("spec", "targets", "[]", "scale", "kedaWorker", "triggers", "[]"),
    ],
)
def test_embedded_kubernetes_objects_are_free_form_in_the_schema(path: tuple[str, ...]) -> None:
    node = at(schema_of("revisions"), *path)
    assert node["type"] == "object" and node["x-kubernetes-preserve-unknown-fields"] is True


def test_fields_picchu_requires_stay_required() -> None:
    spec = at(schema_of("revisions"), "spec")
    assert spec["required"] == ["app", "targets", "failed"]
    assert at(spec, "app")["required"] == ["name", "ref", "tag", "image"]
    target = at(spec, "targets", "[]")
    assert target["required"] == ["name", "fleet", "scale"]
    assert at(target, "canary")["required"] == ["percent", "ttl"]
    assert at(target, "ports", "[]")["required"] == ["name", "mode"]
    assert at(target, "externalTest")["required"] == ["enabled", "started", "completed"]
    cluster = at(schema_of("clusters"), "spec")
    assert cluster["required"] == ["enabled", "ingresses"]
    assert at(cluster, "ingresses", "public")["required"] == ["dnsName", "defaultDomains"]
    assert at(schema_of("releasemanagers"), "spec")["required"] == ["fleet", "app", "target"]


@pytest.mark.parametrize("plural", ["revisions", "releasemanagers", "clusters", "clustersecrets", "mirrors"])
def test_no_status_field_is_required_so_go_picchu_can_always_write_its_status(plural: str) -> None:
    def required_paths(schema: Any, path: str) -> list[str]:
        if isinstance(schema, dict):
            found = [path] if "required" in schema else []
            return found + [p for k, v in schema.items() for p in required_paths(v, f"{path}.{k}")]
        if isinstance(schema, list):
            return [p for v in schema for p in required_paths(v, path)]
        return []

    # Conditions are picchu's own (Go Picchu never writes them); the keys of their map list must be required.
    conditions = "status.properties.conditions.items"
    assert [p for p in required_paths(at(schema_of(plural), "status"), "status") if p != conditions] == []


def test_release_manager_status_scale_keys_are_capitalised_in_the_schema() -> None:
    scale = at(schema_of("releasemanagers"), "status", "revisions", "[]", "scale")
    assert sorted(scale["properties"]) == ["Current", "Desired", "Peak"]


def test_cel_rules_are_attached_where_admission_can_check_them() -> None:
    target = at(schema_of("revisions"), "spec", "targets", "[]")
    rules = [rule["rule"] for rule in target["x-kubernetes-validations"]]
    assert any("self.canary.percent <=" in rule for rule in rules)
    assert at(target, "release", "scalingStrategy")["enum"] == ["", "linear", "geometric"]
    assert at(target, "scale")["x-kubernetes-validations"][0]["rule"] == "has(self.min)"
    assert "x-kubernetes-validations" in at(target, "podDisruptionBudget")
    assert at(target, "canary", "percent")["maximum"] == 100


def _undocumented(schema: dict[str, Any], path: str) -> list[str]:
    missing = []
    for key, sub in (schema.get("properties") or {}).items():
        here = f"{path}.{key}"
        if key not in ("apiVersion", "kind", "metadata") and "description" not in sub:
            missing.append(here)
        missing += _undocumented(sub, here)
        if isinstance(sub.get("items"), dict):
            missing += _undocumented(sub["items"], here + "[]")
    return missing


@pytest.mark.parametrize("name", sorted(render_crds()))
def test_every_spec_and_status_field_is_documented_for_kubectl_explain(name: str) -> None:
    schema = render_crds()[name]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert _undocumented(schema, "") == []


@pytest.mark.parametrize("plural", ["revisions", "releasemanagers", "clusters"])
def test_conditions_are_in_the_status_schema_as_a_map_keyed_by_type(plural: str) -> None:
    conditions = at(schema_of(plural), "status", "conditions")
    assert conditions["x-kubernetes-list-type"] == "map" and conditions["x-kubernetes-list-map-keys"] == ["type"]
    item = conditions["items"]
    assert {"type", "status", "reason", "message", "lastTransitionTime"} <= set(item["properties"])
    assert item["required"] == ["type", "status"]


def _columns(plural: str, *, wide: bool) -> list[str]:
    version = render_crds()[f"picchu.medium.engineering_{plural}.yaml"]["spec"]["versions"][0]
    return [c["name"] for c in version["additionalPrinterColumns"] if wide or not c.get("priority")]


def test_kubectl_get_rev_shows_tag_target_state_percent_reason_and_age_at_a_glance() -> None:
    assert _columns("revisions", wide=False) == ["App", "Tag", "Target", "State", "Percent", "Reason", "Age"]
    assert {"Target-2", "State-2", "Released", "Failed", "Message"} <= set(_columns("revisions", wide=True))


def test_kubectl_get_rm_shows_the_releasing_tag_and_its_ramp_in_the_default_view() -> None:
    assert _columns("releasemanagers", wide=False) == [
        "App", "Target", "Released", "Percent", "Releasing", "Ramp", "Reason", "Age"]
