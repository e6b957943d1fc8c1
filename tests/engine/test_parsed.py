"""Models are parsed once per object version; anything else is parsed again (pure, no cluster)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from picchu.api.v1alpha1 import InvalidSpec, load_revision
from picchu.engine.parsed import ParsedModels
from picchu.testing.builders import revision_manifest

COMMITTED = datetime(2026, 12, 1, tzinfo=UTC)


def revision(uid: str | None = "u1", version: str | None = "1", image: str = "echo:1") -> dict[str, Any]:
    obj = revision_manifest("echo", "v1", namespace="picchu", committed=COMMITTED, image=image)
    obj["metadata"].update({k: v for k, v in (("uid", uid), ("resourceVersion", version)) if v})
    return obj


class CountingLoader:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, obj: Any) -> Any:
        self.calls += 1
        return load_revision(obj)


def test_one_version_of_an_object_is_parsed_once_and_a_new_version_again() -> None:
    parsed, loader = ParsedModels(), CountingLoader()
    first = parsed.load(revision(), loader)
    assert parsed.load(revision(), loader) is first and loader.calls == 1
    changed = parsed.load(revision(version="2", image="echo:2"), loader)
    assert loader.calls == 2 and changed.spec.app.image == "echo:2"
    assert parsed.load(revision(uid="u2"), loader) is not first  # another object with the same version string


def test_objects_without_identity_and_invalid_objects_are_parsed_every_time() -> None:
    parsed, loader = ParsedModels(), CountingLoader()
    parsed.load(revision(uid=None), loader)
    parsed.load(revision(uid=None), loader)
    assert loader.calls == 2
    broken = revision(uid="bad")
    broken["spec"]["targets"] = []
    for _ in range(2):
        with pytest.raises(InvalidSpec):
            parsed.load(broken, loader)
    assert loader.calls == 4


def test_at_most_max_objects_are_kept_the_least_recently_used_going_first() -> None:
    parsed, loader = ParsedModels(max_objects=2), CountingLoader()
    for uid in ("a", "b", "a", "c"):  # c pushes out b, the least recently used
        parsed.load(revision(uid=uid), loader)
    assert loader.calls == 3
    parsed.load(revision(uid="a"), loader)
    assert loader.calls == 3
    parsed.load(revision(uid="b"), loader)
    assert loader.calls == 4


def test_kept_models_share_equal_fields_sets_and_a_copy_with_changes_leaves_the_others_alone() -> None:
    parsed, loader = ParsedModels(), CountingLoader()
    one, two = parsed.load(revision(uid="a"), loader), parsed.load(revision(uid="b", image="echo:2"), loader)
    assert one.spec.targets[0].model_fields_set is two.spec.targets[0].model_fields_set
    assert one.model_fields_set is two.model_fields_set
    fresh = load_revision(revision(uid="a"))  # not kept: as pydantic made it
    assert one.spec.targets[0].model_fields_set == fresh.spec.targets[0].model_fields_set
    assert one.model_dump(exclude_unset=True) == fresh.model_dump(exclude_unset=True)

    before = set(two.spec.targets[0].model_fields_set)
    changed = one.spec.targets[0].model_copy(update={"name": "other"})
    assert changed.name == "other" and "name" in changed.model_fields_set
    assert two.spec.targets[0].model_fields_set == before


def test_kept_models_share_their_short_strings_and_keep_their_content() -> None:
    parsed, loader = ParsedModels(), CountingLoader()
    objects = [json.loads(json.dumps(revision(uid=uid))) for uid in ("a", "b")]  # as decoded from the wire
    one, two = (parsed.load(obj, loader) for obj in objects)
    assert one.spec.targets[0].fleet is two.spec.targets[0].fleet  # "production", decoded twice
    assert one.metadata["namespace"] is two.metadata["namespace"]
    fresh = load_revision(json.loads(json.dumps(revision(uid="a"))))
    assert one.model_dump() == fresh.model_dump()
