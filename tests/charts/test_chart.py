"""The Helm chart in charts/picchu, checked from its files without helm (test_helm.py runs real helm on it).

What a user of the chart would notice: CRDs that differ from the ones the operator is built for, a value that
passes a flag `picchu run` rejects (the pod crash-loops), a `picchu run` flag the chart cannot set, documented
defaults that are not the operator's defaults, a template reading a value that does not exist, and missing RBAC.
Here templates are checked structurally: with their template actions replaced by placeholders they must be YAML.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from picchu.cli import app
from picchu.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "picchu"
TEMPLATES = CHART / "templates"
# Negative forms of boolean flags, as the Deployment template passes them when a value is false.
NEGATIVE_FLAGS = {"prometheus-enabled": "--prometheus-disabled", "humane-releases-enabled": "--no-humane-releases"}
# Flags the chart sets on purpose to something else than the operator's default.
CHART_CHOICES = {"enable-leader-election": True}


def _values() -> dict[str, Any]:
    return dict(yaml.safe_load((CHART / "values.yaml").read_text()))


@pytest.fixture(scope="module")
def help_flags() -> set[str]:
    """Every `--flag` printed by `picchu run --help` (wide terminal, so names are not cut)."""
    out = subprocess.run([sys.executable, "-m", "picchu", "run", "--help"], capture_output=True, text=True,
                         check=True, env={**os.environ, "COLUMNS": "300", "NO_COLOR": "1"}).stdout
    return set(re.findall(r"--[a-z0-9][a-z0-9-]*", out)) - {"--help"}


def _params() -> dict[str, Any]:
    """`picchu run`'s options by their main flag name (without dashes)."""
    command = typer.main.get_command(app).commands["run"]  # type: ignore[attr-defined]
    return {p.opts[0].removeprefix("--"): p for p in command.params if p.opts[0] != "--help"}


def test_the_charts_crds_are_exactly_the_generated_crds() -> None:
    generated = {p.name: p.read_bytes() for p in (ROOT / "config" / "crd").glob("*.yaml")}
    shipped = {p.name: p.read_bytes() for p in (CHART / "crds").glob("*.yaml")}
    assert generated, "config/crd has the generated CRDs"
    drifted = sorted(set(generated) ^ set(shipped) | {n for n in generated if shipped.get(n) != generated[n]})
    assert not drifted, f"charts/picchu/crds differs from config/crd in {drifted}: run charts/picchu/sync-crds.sh"


def test_every_flag_the_values_pass_is_a_flag_of_picchu_run(help_flags: set[str]) -> None:
    run = _values()["run"]
    unknown = sorted(f"--{k}" for k in run if f"--{k}" not in help_flags)
    assert not unknown, f"values.yaml run.* keys that `picchu run --help` does not list: {unknown}"
    assert set(NEGATIVE_FLAGS.values()) <= help_flags
    for flag, negative in NEGATIVE_FLAGS.items():
        assert isinstance(run[flag], bool) and negative in (TEMPLATES / "deployment.yaml").read_text()


def test_the_values_can_set_every_flag_of_picchu_run(help_flags: set[str]) -> None:
    settable = {f"--{k}" for k in _values()["run"]} | set(NEGATIVE_FLAGS.values())
    assert sorted(help_flags - settable) == [], "every `picchu run` flag has a value under run: in values.yaml"


def test_the_values_document_the_operators_own_defaults_except_leader_election() -> None:
    run, defaults = _values()["run"], Settings()
    for flag, param in _params().items():
        if flag in CHART_CHOICES:
            assert run[flag] == CHART_CHOICES[flag]
            continue
        if hasattr(defaults, param.name):
            expected = getattr(defaults, param.name)
            expected = expected.value if hasattr(expected, "value") else expected
            assert run[flag] == expected, f"run.{flag} in values.yaml is {run[flag]!r}, the operator uses {expected!r}"
        else:  # flags with no setting: --kubeconfig, --manage-route53
            assert run[flag] in ("", False, None), f"run.{flag} defaults to nothing"


def test_every_value_a_template_reads_exists_in_values_yaml() -> None:
    values = _values()
    missing = []
    for template in TEMPLATES.iterdir():
        text = template.read_text()
        paths = re.findall(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)", text)
        paths += [f".run.{k}" for k in re.findall(r'index \.Values\.run "([a-z0-9-]+)"', text)]
        for path in paths:
            node: Any = values
            for part in path.strip(".").split("."):
                if not isinstance(node, dict) or part not in node:
                    missing.append(f"{template.name}: .Values{path}")
                    break
                node = node[part]
    assert not missing, missing


def _strip_template(text: str) -> Any:
    """The template as YAML: lines holding only actions go away, inline actions become a placeholder."""
    kept = [line for line in text.splitlines() if not re.fullmatch(r"\s*\{\{-?.*?-?\}\}\s*", line)]
    return list(yaml.safe_load_all(re.sub(r"\{\{-?.*?-?\}\}", "PLACEHOLDER", "\n".join(kept))))


def test_every_template_is_yaml_once_its_actions_are_filled_in() -> None:
    for template in TEMPLATES.glob("*.yaml"):
        docs = [d for d in _strip_template(template.read_text()) if d]
        assert docs and all("kind" in d and "apiVersion" in d for d in docs), template.name


def test_the_deployment_runs_two_replicas_with_leader_election_and_probes_on_the_health_port() -> None:
    values = _values()
    assert values["replicaCount"] == 2 and values["run"]["enable-leader-election"] is True
    deployment = _strip_template((TEMPLATES / "deployment.yaml").read_text())[0]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    assert {p["name"] for p in container["ports"]} == {"metrics", "health"}
    assert values["podSecurityContext"]["runAsNonRoot"] is True


def test_chart_yaml_and_values_are_valid_yaml_naming_the_chart() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2" and chart["name"] == "picchu" and chart["version"]
    for crd in (CHART / "crds").glob("*.yaml"):
        assert yaml.safe_load(crd.read_text())["kind"] == "CustomResourceDefinition"
