"""The Dockerfile at the repository root, checked without a docker engine (none here).

What breaks an image build or a pod silently: copying paths that moved, an entrypoint script that no longer
exists, exposing ports the chart and the operator do not use, or running as root.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import yaml

from picchu.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _instructions(keyword: str) -> list[str]:
    return re.findall(rf"^{keyword}\s+(.+)$", DOCKERFILE, flags=re.MULTILINE)


def test_the_image_builds_from_python_3_11_slim_and_copies_paths_that_exist() -> None:
    assert all(base.split()[0] == "python:3.11-slim" for base in _instructions("FROM"))
    for copy in _instructions("COPY"):
        if copy.startswith("--from"):
            continue
        *sources, _ = copy.split()
        assert all((ROOT / s).exists() for s in sources), copy


def test_the_image_runs_picchu_run_as_a_non_root_user() -> None:
    assert json.loads(_instructions("ENTRYPOINT")[-1]) == ["picchu", "run"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["picchu"] == "picchu.cli:app"
    user = _instructions("USER")[-1].split(":")[0]
    assert user not in ("root", "0")
    chart = yaml.safe_load((ROOT / "charts" / "picchu" / "values.yaml").read_text())
    assert str(chart["podSecurityContext"]["runAsUser"]) == user


def test_the_image_exposes_the_operators_default_metrics_and_health_ports() -> None:
    exposed = {int(p) for line in _instructions("EXPOSE") for p in line.split()}
    defaults = {int(Settings().metrics_addr.rpartition(":")[2]), int(Settings().health_addr.rpartition(":")[2])}
    assert exposed == defaults
