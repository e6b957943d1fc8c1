"""The chart rendered as `helm template` would render it, then read by `picchu run` and a real kube-apiserver.

helm is not installable here (not in Debian, PyPI or npm), so `tests/charts/render` (Go's text/template with
the sprig functions and Helm's `include`/`toYaml`, fetched as Go modules like the control plane) stands in for
it. The rendered Deployment's args must parse with `picchu run`'s own parser, and every rendered manifest must
be accepted by the API server (server-side dry run). With `CI=true` a missing Go toolchain fails, never skips.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from picchu.cli import app
from picchu.testing.controlplane import ControlPlane

pytestmark = pytest.mark.tools
RENDERER = Path(__file__).resolve().parent / "render"
CHART = Path(__file__).resolve().parents[2] / "charts" / "picchu"


@pytest.fixture(scope="module")
def render(tmp_path_factory: pytest.TempPathFactory) -> Any:
    go = shutil.which("go")
    if go is None:
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail("CI needs Go to render the chart (it builds the control plane too)", pytrace=False)
        pytest.skip("Go is not installed: cannot render the chart")
    binary = tmp_path_factory.mktemp("render") / "render"
    subprocess.run([go, "build", "-o", str(binary), "."], cwd=RENDERER, check=True, timeout=600,
                   env={**os.environ, "GOFLAGS": "-mod=readonly"})

    def run(*sets: str, namespace: str = "picchu") -> list[dict[str, Any]]:
        argv = [str(binary), "-namespace", namespace, *[a for s in sets for a in ("-set", s)], str(CHART)]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return [d for d in yaml.safe_load_all(out.stdout) if d]

    return run


def _run_params(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    deployment = next(m for m in manifests if m["kind"] == "Deployment")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    command = typer.main.get_command(app).commands["run"]  # type: ignore[attr-defined]
    return dict(command.make_context("run", list(args)).params)


def test_the_default_values_render_a_deployment_picchu_run_accepts_with_leader_election(render: Any) -> None:
    manifests = render()
    assert {m["kind"] for m in manifests} == {"Deployment", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
                                               "Service", "PodDisruptionBudget", "ConfigMap"}
    deployment = next(m for m in manifests if m["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 2
    params = _run_params(manifests)
    assert params["enable_leader_election"] is True
    assert params["sync_period_seconds"] == 15 and params["namespace"] == ""
    ports = {p["name"]: p["containerPort"] for p in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]}
    assert ports == {"metrics": 8383, "health": 8080}


def test_false_booleans_and_set_values_become_the_matching_flags(render: Any) -> None:
    params = _run_params(render("run.prometheus-enabled=false", "run.humane-releases-enabled=false",
                                "run.enable-leader-election=false", "run.namespace=apps",
                                "run.sync-period-seconds=0.5", "run.health-addr=:9090"))
    assert params["prometheus_enabled"] is False and params["humane_releases_enabled"] is False
    assert not params["enable_leader_election"]
    assert "PodDisruptionBudget" not in {m["kind"] for m in render("replicaCount=1")}
    assert params["namespace"] == "apps" and params["sync_period_seconds"] == 0.5
    assert params["health_addr"] == ":9090"


def test_the_api_server_accepts_every_rendered_manifest(render: Any, control_plane: ControlPlane,
                                                        namespace: str) -> None:
    delivery = control_plane.clusters["delivery"]
    manifests = render(namespace=namespace)
    result = delivery.kubectl("apply", "--dry-run=server", "-f", "-", input=yaml.safe_dump_all(manifests))
    accepted = [line for line in result.stdout.splitlines() if line.endswith("(server dry run)")]
    assert len(accepted) == len(manifests), result.stdout


def test_an_optional_service_monitor_scrapes_the_metrics_service(render: Any) -> None:
    assert "ServiceMonitor" not in {m["kind"] for m in render()}
    manifests = render("serviceMonitor.enabled=true", "serviceMonitor.labels={release: prom}")
    monitor = next(m for m in manifests if m["kind"] == "ServiceMonitor")
    service = next(m for m in manifests if m["kind"] == "Service")
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "30s"}]
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert "metrics" in {p["name"] for p in service["spec"]["ports"]}


def test_the_grafana_dashboard_ships_as_a_configmap_the_sidecar_loads(render: Any) -> None:
    (dashboard,) = [m for m in render() if m["kind"] == "ConfigMap" and m["metadata"]["name"].endswith("-dashboard")]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = (CHART / "dashboards" / "picchu.json").read_text()
    assert json.loads(dashboard["data"]["picchu.json"]) == json.loads(shipped)
    assert not [m for m in render("grafanaDashboard.enabled=false") if m["kind"] == "ConfigMap"]
