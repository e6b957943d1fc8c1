"""Property tests: whatever a user writes, loading either succeeds or raises InvalidSpec, never anything else."""

from __future__ import annotations

from typing import Any

from api_samples import all_manifests, manifest
from api_strategies import json_values, paths, replaced, targets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from picchu.api.v1alpha1 import KINDS, InvalidSpec, load, to_wire

MODELS = {kind.KIND: kind for kind in KINDS}
SAMPLES = {name: manifest(name) for name in all_manifests()}


def assert_loads_or_invalid(obj: Any) -> None:
    try:
        loaded = load(obj)
    except InvalidSpec as error:
        assert error.errors and all(isinstance(path, str) and message for path, message in error.errors)
        return
    again = load(to_wire(loaded))
    assert to_wire(again) == to_wire(loaded), "loading a loaded object must change nothing"


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(MODELS)), spec=json_values, metadata=json_values)
def test_arbitrary_json_never_raises_anything_but_invalid_spec(kind: str, spec: Any, metadata: Any) -> None:
    assert_loads_or_invalid({"kind": kind, "metadata": metadata, "spec": spec})


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_replacing_any_field_of_a_valid_sample_gives_a_valid_object_or_invalid_spec(
    data: st.DataObject,
) -> None:
    name = data.draw(st.sampled_from(sorted(SAMPLES)))
    sample = SAMPLES[name]
    path = data.draw(st.sampled_from(paths(sample)))
    obj = replaced(sample, path, data.draw(json_values))
    assert_loads_or_invalid(obj)
    try:
        model = MODELS[sample["kind"]].model_validate(obj)
    except ValueError:
        return
    assert model.model_dump(by_alias=True, exclude_unset=True, mode="json") == obj


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(targets=st.lists(targets, max_size=3))
def test_generated_revisions_load_or_fail_with_paths_inside_the_targets(
    targets: list[dict[str, Any]],
) -> None:
    obj = {
        "kind": "Revision",
        "metadata": {"name": "r"},
        "spec": {
            "app": {"name": "a", "ref": "r", "tag": "t", "image": "i"},
            "failed": False,
            "targets": targets,
        },
    }
    try:
        revision = load(obj)
    except InvalidSpec as error:
        assert all(path.startswith("spec.targets") for path, _ in error.errors), error.errors
        return
    for target in revision.spec.targets:  # type: ignore[attr-defined]
        assert target.scale.min is not None and target.release.max >= target.canary_percent
