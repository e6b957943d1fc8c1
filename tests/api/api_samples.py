"""The sample manifests under tests/api/manifests/ (valid examples from the spec's picchu-samples.md)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

MANIFESTS = Path(__file__).parent / "manifests"


def manifest(name: str) -> dict[str, Any]:
    """A fresh copy of a sample manifest (tests mutate it freely)."""
    loaded: dict[str, Any] = yaml.safe_load((MANIFESTS / name).read_text())
    return copy.deepcopy(loaded)


def all_manifests() -> list[str]:
    return sorted(path.name for path in MANIFESTS.glob("*.yaml"))
