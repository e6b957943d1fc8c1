"""Fixtures for the API tests: fresh copies of the sample manifests."""

from __future__ import annotations

from typing import Any

import pytest
from api_samples import manifest


@pytest.fixture
def revision_obj() -> dict[str, Any]:
    return manifest("revision-echo.yaml")


@pytest.fixture
def cluster_obj() -> dict[str, Any]:
    return manifest("cluster-production-reef-a.yaml")
