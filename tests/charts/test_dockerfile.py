"""The Dockerfile at the repository root, checked statically: no container engine exists here, so the image
is never built or run by these tests, and the base digest is not verified against a registry (the Dockerfile
says so and how to check it).

What breaks an image build or a pod silently: an unpinned base (a rebuild changes bytes), copying paths that
moved, exposing ports the chart and the operator do not use, running as root, and writing to a read-only root
filesystem (every writable path must be a declared VOLUME that the chart backs with an emptyDir).
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
CHART = ROOT / "charts" / "picchu"


def _instructions(keyword: str) -> list[str]:
    return re.findall(rf"^{keyword}\s+(.+)$", DOCKERFILE, flags=re.MULTILINE)


def _values() -> dict:  # type: ignore[type-arg]
    return dict(yaml.safe_load((CHART / "values.yaml").read_text()))


def test_every_stage_builds_from_the_python_3_11_slim_base_pinned_by_digest() -> None:
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE, flags=re.MULTILINE)
    assert base and re.fullmatch(r"python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}", base.group(1))
    assert [line.split()[0] for line in _instructions("FROM")] == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]
    assert "imagetools inspect" in DOCKERFILE, "the Dockerfile says how to verify the digest"


def test_the_image_copies_paths_that_exist() -> None:
    for copy in _instructions("COPY"):
        if copy.startswith("--from"):
            continue
        *sources, _ = copy.split()
        assert all((ROOT / s).exists() for s in sources), copy


def test_the_image_runs_picchu_run_as_the_non_root_user_the_chart_runs_it_as() -> None:
    assert json.loads(_instructions("ENTRYPOINT")[-1]) == ["picchu", "run"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["picchu"] == "picchu.cli:app"
    user, group = _instructions("USER")[-1].split(":")
    assert user.isdigit() and int(user) != 0 and group.isdigit()
    pod = _values()["podSecurityContext"]
    assert pod["runAsNonRoot"] is True and str(pod["runAsUser"]) == user and str(pod["runAsGroup"]) == group


def test_a_read_only_root_filesystem_needs_only_the_declared_volumes_the_chart_mounts() -> None:
    assert _values()["securityContext"]["readOnlyRootFilesystem"] is True
    volumes = {v for line in _instructions("VOLUME") for v in json.loads(line)}
    assert volumes == {"/tmp"}
    env = " ".join(_instructions("ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env and "HOME=/tmp" in env and "TMPDIR=/tmp" in env
    deployment = (CHART / "templates" / "deployment.yaml").read_text()
    assert re.search(r"- name: tmp\n\s+mountPath: /tmp", deployment)
    assert re.search(r"- name: tmp\n\s+emptyDir:", deployment)


def test_the_image_exposes_the_operators_default_metrics_and_health_ports() -> None:
    exposed = {int(p) for line in _instructions("EXPOSE") for p in line.split()}
    defaults = {int(Settings().metrics_addr.rpartition(":")[2]), int(Settings().health_addr.rpartition(":")[2])}
    assert exposed == defaults
    run = _values()["run"]
    assert {int(run["metrics-addr"].rpartition(":")[2]), int(run["health-addr"].rpartition(":")[2])} == exposed


def test_the_chart_probes_the_paths_the_operator_serves_on_its_health_port() -> None:
    served = set(re.findall(r'"(/[a-z]+)": lambda|"(/[a-z]+)": health', (ROOT / "picchu" / "handlers" /
                                                                           "operator.py").read_text()))
    paths = {p for pair in served for p in pair if p}
    assert paths == {"/healthz", "/readyz"}
    deployment = (CHART / "templates" / "deployment.yaml").read_text()
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        assert re.search(rf"{probe}:\n\s+httpGet:\n\s+path: {path}\n\s+port: health", deployment), probe
