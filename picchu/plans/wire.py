"""The renderers' boundary with the API models: read any spec value as its wire (JSON) form.

Renderers copy most Kubernetes fields through unchanged (affinity, probes, Istio traffic policies, ...), so
they work on the *wire* form: the exact JSON a user wrote, keyed by the CRD's field names. A value may be a
pydantic API model (`picchu.api.v1alpha1`, dumped by alias) or already a plain mapping (tests, fixtures);
both read the same. Every read returns a fresh copy, so a renderer can never mutate a spec object shared
between clusters (spec §17 #3).

Neighbours: `inputs` (the dataclasses holding these values), every renderer module (the readers).
Bad input is reported with `RenderError`, which names the field path and how to fix it; nothing here raises
anything else on user data.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

Wire = Mapping[str, Any]
"""A spec value in its wire form, or an API model that dumps to it."""

Manifest = dict[str, Any]
"""One rendered Kubernetes object: apiVersion, kind, metadata and the rest."""


class RenderError(ValueError):
    """A spec value cannot be rendered; `.errors` lists (field path, message saying how to fix it)."""

    def __init__(self, errors: Iterable[tuple[str, str]]) -> None:
        self.errors: list[tuple[str, str]] = list(errors)
        super().__init__("; ".join(f"{path}: {message}" for path, message in self.errors))


def as_wire(value: object) -> dict[str, Any]:
    """The wire form of a model or mapping as a fresh dict ({} for None)."""
    if value is None:
        return {}
    dumped = plain(value)
    if not isinstance(dumped, dict):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    return dumped


def plain(value: object) -> Any:
    """Deep copy of a wire value with every API model replaced by its JSON form (None stays None)."""
    if value is None or isinstance(value, str | int | float):  # immutable: the common case, no copy
        return value
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True, exclude_none=True, mode="json")
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return copy.deepcopy(value)


def objects(value: object) -> list[dict[str, Any]]:
    """A wire list of objects (None → [])."""
    items = plain(value)
    if items is None:
        return []
    return [item for item in items if isinstance(item, dict)]


def strings(value: object) -> dict[str, str]:
    """A wire string map (labels, annotations); None → {}."""
    items = plain(value) or {}
    return {str(key): str(item) for key, item in items.items()}
