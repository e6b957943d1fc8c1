"""The quick start's pieces: the example manifests are accepted by the API server as written, `up --fleet`
writes a fleet.yaml and env file that work, and the bundled alert follows a Revision annotation; plus the
operator process leaves no log file behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from picchu.testing.controlplane import ControlPlane
from picchu.testing.fleet import OperatorProcess
from picchu.testing.quickstart import ERRORS_ANNOTATION, ErrorSwitch, write_env, write_fleet

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "quickstart"


def _in(namespace: str, path: Path) -> str:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    for doc in docs:
        doc["metadata"]["namespace"] = namespace
    return yaml.safe_dump_all(docs)


def test_the_example_revisions_and_the_generated_fleet_are_accepted_by_the_api_server(
        control_plane: ControlPlane, namespace: str) -> None:
    delivery = control_plane.clusters["delivery"]
    namespace_doc = yaml.safe_load((EXAMPLES / "namespace.yaml").read_text())
    assert namespace_doc["kind"] == "Namespace" and namespace_doc["metadata"]["name"] == "picchu"
    for path in sorted(EXAMPLES.glob("echo-*.yaml")):
        result = delivery.kubectl("apply", "--dry-run=server", "-f", "-", input=_in(namespace, path))
        assert "(server dry run)" in result.stdout, path.name
    fleet = write_fleet(control_plane, "production", namespace, ["a", "b"])
    try:
        result = delivery.kubectl("apply", "--dry-run=server", "-f", str(fleet))
        assert result.stdout.count("(server dry run)") == 4  # two Clusters, two Secrets
    finally:
        fleet.unlink()


def test_the_env_file_points_kubectl_and_picchu_run_at_the_local_clusters(control_plane: ControlPlane) -> None:
    kubectl = Path("/opt/kubectl/bin/kubectl")
    env = write_env(control_plane, "delivery", "picchu", kubectl, "http://127.0.0.1:9")
    try:
        text = env.read_text()
    finally:
        env.unlink()
    assert f"export KUBECONFIG={control_plane.kubeconfig_path}" in text
    assert 'export PATH="/opt/kubectl/bin:$PATH"' in text
    assert f"export PICCHU_KUBECONFIG={control_plane.clusters['delivery'].kubeconfig_path}" in text
    assert "export PICCHU_NAMESPACE=picchu" in text and "PICCHU_PROMETHEUS_QUERY_ADDRESS=http://127.0.0.1:9" in text


class _Exporter:
    def __init__(self) -> None:
        self.values: dict[tuple[str, str], float] = {}

    def set(self, value: float = 1.0, **labels: Any) -> None:
        self.values[(labels["app"], labels["tag"])] = value


def test_the_errors_annotation_switches_the_bundled_alert_signal(control_plane: ControlPlane, namespace: str,
                                                                 api_clients: dict[str, client.ApiClient]) -> None:
    delivery = control_plane.clusters["delivery"]
    delivery.kubectl("apply", "-f", "-", input=_in(namespace, EXAMPLES / "echo-v3-canary.yaml"))
    exporter = _Exporter()
    switch = ErrorSwitch(api_clients["delivery"], namespace, exporter)
    switch.step()
    assert exporter.values == {("echo", "v3"): 0.0}
    delivery.kubectl("annotate", "revision", "echo-v3", "-n", namespace, f"{ERRORS_ANNOTATION}=true")
    switch.step()
    assert exporter.values == {("echo", "v3"): 1.0}


def test_an_operator_process_removes_the_log_file_it_created(tmp_path: Path) -> None:
    operator = OperatorProcess(tmp_path / "missing-kubeconfig.yaml").start()
    log = operator.log_path
    assert log is not None and log.exists()
    operator.stop()
    assert not log.exists()
    kept = OperatorProcess(tmp_path / "missing-kubeconfig.yaml", keep_log=True).start()
    kept.stop()
    assert kept.log_path is not None and kept.log_path.exists()
    kept.log_path.unlink()
