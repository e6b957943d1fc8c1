"""Models are parsed once per object version; anything else is parsed again (pure, no cluster)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel

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


def test_kept_models_share_equal_parts_and_a_copy_with_changes_leaves_the_others_alone() -> None:
    parsed, loader = ParsedModels(), CountingLoader()
    one, two = parsed.load(revision(uid="a"), loader), parsed.load(revision(uid="b", image="echo:2"), loader)
    assert one.spec.targets[0].release is two.spec.targets[0].release  # equal defaults: one model
    assert one.spec.targets[0].scale is two.spec.targets[0].scale
    assert one.spec.app is not two.spec.app and two.spec.app.image == "echo:2"  # different content
    assert one.model_fields_set is two.model_fields_set
    fresh = load_revision(revision(uid="a"))  # not kept: as pydantic made it
    assert one == fresh and one.model_dump(exclude_unset=True) == fresh.model_dump(exclude_unset=True)
    assert two.model_dump() == load_revision(revision(uid="b", image="echo:2")).model_dump()

    before = set(two.spec.targets[0].model_fields_set)
    changed = one.spec.targets[0].model_copy(update={"name": "other"})
    assert changed.name == "other" and "name" in changed.model_fields_set
    assert two.spec.targets[0].model_fields_set == before and two.spec.targets[0].name != "other"


class Stamp(BaseModel):
    at: datetime
    weight: float | int


class Stamped(BaseModel):
    stamp: Stamp


def load_stamped(obj: Any) -> Stamped:
    return Stamped.model_validate({"stamp": obj["stamp"]})


def test_values_that_are_equal_but_not_interchangeable_are_not_shared() -> None:
    parsed = ParsedModels()

    def load(uid: str, at: str, weight: float) -> Stamped:
        return parsed.load({"metadata": {"uid": uid, "resourceVersion": "1"},
                            "stamp": {"at": at, "weight": weight}}, load_stamped)

    utc, plus_one = load("a", "2026-12-03T10:00:00+00:00", 1), load("b", "2026-12-03T11:00:00+01:00", 1)
    assert utc.stamp.at == plus_one.stamp.at and utc.stamp is not plus_one.stamp
    assert plus_one.model_dump_json() == '{"stamp":{"at":"2026-12-03T11:00:00+01:00","weight":1}}'
    as_float = load("c", "2026-12-03T10:00:00+00:00", 1.0)
    assert as_float.stamp is not utc.stamp and as_float.model_dump_json().endswith('"weight":1.0}}')
    assert load("d", "2026-12-03T10:00:00+00:00", 1).stamp is utc.stamp
