"""Both charts through real helm (built from Go modules, `picchu.testing.helm`): what a user runs.

`helm lint --strict`; `helm template` with default and non-default values, whose Deployment args must parse
with `picchu run`'s own parser; values that would crash-loop or double-run the operator refused with a message
saying what to change; `helm install`, `upgrade`, `uninstall` against the local delivery apiserver; the plain
target manifest (`config/rbac/target.yaml`) is exactly what the target chart renders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from kubernetes import client

from picchu.cli import app
from picchu.testing.controlplane import ControlPlane
from picchu.testing.helm import Helm, HelmError

pytestmark = pytest.mark.tools
ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "picchu"
TARGET_CHART = ROOT / "charts" / "picchu-target"
TARGET_ROLE_MANIFEST = ROOT / "config" / "rbac" / "target.yaml"
TARGET_NAMESPACE = "picchu-system"


@pytest.fixture(scope="module")
def helm(helm_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm(helm_binary, workdir=tmp_path_factory.mktemp("helm"))


def template(helm: Helm, *sets: str, chart: Path = CHART, namespace: str = "picchu",
             release: str = "picchu") -> list[dict[str, Any]]:
    out = helm.run("template", release, str(chart), "--namespace", namespace,
                   *[a for s in sets for a in ("--set", s)]).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def refusal(helm: Helm, *sets: str) -> str:
    result = helm.run("template", "picchu", str(CHART), *[a for s in sets for a in ("--set", s)], check=False)
    assert result.returncode != 0, f"{sets} rendered:\n{result.stdout[:500]}"
    return result.stderr


def _one(manifests: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [m for m in manifests if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)]
    assert len(found) == 1, f"{kind} {name}: {[m['metadata']['name'] for m in found]}"
    return found[0]


def _run_params(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    args = _one(manifests, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    command = typer.main.get_command(app).commands["run"]  # type: ignore[attr-defined]
    return dict(command.make_context("run", list(args)).params)


def _rules(manifest: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(g, r, v) for rule in manifest["rules"] for g in rule["apiGroups"] for r in rule["resources"]
            for v in rule["verbs"]}


def test_helm_lint_strict_passes_for_both_charts_with_default_and_other_values(helm: Helm) -> None:
    for chart in (CHART, TARGET_CHART):
        helm.run("lint", "--strict", str(chart))
    helm.run("lint", "--strict", str(CHART), "--set", "run.namespace=apps", "--set", "rbac.clusterSecrets=true",
             "--set", "replicaCount=1", "--set", "run.enable-leader-election=false")


def test_the_default_values_render_two_leader_electing_replicas_picchu_run_accepts(helm: Helm) -> None:
    manifests = template(helm)
    assert {m["kind"] for m in manifests} == {"Deployment", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
                                               "Role", "RoleBinding", "Service", "PodDisruptionBudget",
                                               "ConfigMap"}  # the Grafana dashboard
    deployment = _one(manifests, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    params = _run_params(manifests)
    assert params["enable_leader_election"] is True and params["kubeconfig"] is None
    assert params["sync_period_seconds"] == 15 and params["namespace"] == ""  # "" watches all namespaces
    pod = deployment["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"metrics": 8383, "health": 8080}
    assert pod["metadata"]["annotations"] == {"prometheus.io/scrape": "true", "prometheus.io/port": "8383"}
    assert container["image"] == "picchu:0.1.0"
    # Secrets only in the release namespace; the Lease only where the operator looks for it
    assert ("", "secrets", "get") not in _rules(_one(manifests, "ClusterRole"))
    assert ("", "secrets", "get") in _rules(_one(manifests, "Role", "picchu"))
    assert _one(manifests, "Role", "picchu")["metadata"]["namespace"] == "picchu"
    assert _one(manifests, "Role", "picchu-leader-election")["metadata"]["namespace"] == "picchu"


def test_set_values_become_the_matching_flags_ports_annotations_and_roles(helm: Helm) -> None:
    manifests = template(helm, "run.prometheus-enabled=false", "run.humane-releases-enabled=false",
                         "run.enable-leader-election=false", "replicaCount=1", "run.namespace=apps",
                         "run.sync-period-seconds=0.5", "run.health-addr=:9090", "run.metrics-addr=:9100",
                         "image.digest=sha256:" + "a" * 64)
    params = _run_params(manifests)
    assert params["prometheus_enabled"] is False and params["humane_releases_enabled"] is False
    assert not params["enable_leader_election"]
    assert params["namespace"] == "apps" and params["sync_period_seconds"] == 0.5
    assert params["health_addr"] == ":9090" and params["metrics_addr"] == ":9100"
    pod = _one(manifests, "Deployment")["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"metrics": 9100, "health": 9090}
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == "9100"
    assert container["image"] == "picchu@sha256:" + "a" * 64
    kinds = {m["kind"] for m in manifests}
    assert "PodDisruptionBudget" not in kinds
    assert _rules(_one(manifests, "ClusterRole")) == {  # kopf's reads only
        ("apiextensions.k8s.io", "customresourcedefinitions", "list"), ("apiextensions.k8s.io", "customresourcedefinitions", "watch"),
        ("", "namespaces", "list"), ("", "namespaces", "watch")}
    role = _one(manifests, "Role", "picchu")
    assert role["metadata"]["namespace"] == "apps"
    assert {("picchu.medium.engineering", "revisions", "watch"), ("", "secrets", "get")} <= _rules(role)

    everywhere = template(helm, "run.namespace=apps", "rbac.clusterSecrets=true")
    assert ("", "secrets", "get") in _rules(_one(everywhere, "ClusterRole"))
    assert ("", "secrets", "get") not in _rules(_one(everywhere, "Role", "picchu"))


def test_a_kubeconfig_is_mounted_from_a_secret_at_the_path_passed_to_picchu_run(helm: Helm) -> None:
    manifests = template(helm, "kubeconfigSecret.name=delivery-kubeconfig",
                         "run.kubeconfig=/etc/delivery/config")
    assert str(_run_params(manifests)["kubeconfig"]) == "/etc/delivery/config"
    spec = _one(manifests, "Deployment")["spec"]["template"]["spec"]
    mount = next(m for m in spec["containers"][0]["volumeMounts"] if m["name"] == "kubeconfig")
    volume = next(v for v in spec["volumes"] if v["name"] == "kubeconfig")
    assert mount == {"name": "kubeconfig", "mountPath": "/etc/delivery", "readOnly": True}
    assert volume["secret"] == {"secretName": "delivery-kubeconfig",
                                "items": [{"key": "kubeconfig", "path": "config"}]}
    default = template(helm, "kubeconfigSecret.name=delivery-kubeconfig")
    assert str(_run_params(default)["kubeconfig"]) == "/etc/picchu/kubeconfig/kubeconfig"


def test_values_that_would_break_the_operator_are_refused_with_what_to_change(helm: Helm) -> None:
    assert "sync-period-seconds" in refusal(helm, "run.sync-period-seconds=abc")
    typo = refusal(helm, "run.sync-perod-seconds=5")
    assert "sync-perod-seconds" in typo and "not allowed" in typo.lower() or "additional" in typo.lower(), typo
    assert "replicaCount" in refusal(helm, "replicaCount=abc")
    double = refusal(helm, "run.enable-leader-election=false")
    assert "run.enable-leader-election" in double and "replicaCount=2" in double
    assert "kubeconfigSecret.name" in refusal(helm, "run.kubeconfig=/etc/kubeconfig")
    assert "alert-failure-policy" in refusal(helm, "run.alert-failure-policy=maybe")


def test_the_plain_target_manifest_is_what_the_target_chart_renders(helm: Helm) -> None:
    rendered = template(helm, "createNamespace=true", chart=TARGET_CHART, namespace=TARGET_NAMESPACE,
                        release="picchu-target")
    shipped = [d for d in yaml.safe_load_all(TARGET_ROLE_MANIFEST.read_text()) if d]
    assert shipped == rendered, "regenerate config/rbac/target.yaml: see its header"
    assert {m["kind"] for m in rendered} == {"ServiceAccount", "Secret", "ClusterRole", "ClusterRoleBinding",
                                              "Namespace", "Role", "RoleBinding"}
    mirror = template(helm, "createNamespace=true", "mirrorDestination=true", chart=TARGET_CHART,
                      namespace=TARGET_NAMESPACE, release="picchu-target")
    extra = [m for m in mirror if m not in rendered]
    shipped_mirror = [d for d in yaml.safe_load_all(TARGET_ROLE_MANIFEST.with_name("target-mirror.yaml").read_text())
                      if d]
    assert extra == shipped_mirror and {m["kind"] for m in extra} == {"ClusterRole", "ClusterRoleBinding"}


def test_helm_install_upgrade_and_uninstall_against_the_delivery_apiserver(
        helm: Helm, control_plane: ControlPlane, namespace: str) -> None:
    delivery = control_plane.clusters["delivery"]
    cluster_helm = Helm(helm.binary, workdir=helm.workdir, kubeconfig=delivery.kubeconfig_path)
    release = f"picchu-{namespace[-8:]}"
    notes = cluster_helm.run("install", release, str(CHART), "--namespace", namespace, "--skip-crds",
                             "--set", f"run.namespace={namespace}").stdout
    assert "auth-info" in notes and f"namespace {namespace}" in notes
    apps = client.AppsV1Api(delivery.api_client())
    rbac = client.RbacAuthorizationV1Api(delivery.api_client())
    deployment = apps.read_namespaced_deployment(release, namespace)
    assert "--sync-period-seconds=15" in deployment.spec.template.spec.containers[0].args
    assert rbac.read_namespaced_role(release, namespace).rules

    cluster_helm.run("upgrade", release, str(CHART), "--namespace", namespace, "--reuse-values",
                     "--set", "run.sync-period-seconds=5", "--set", "run.metrics-addr=:9100")
    deployment = apps.read_namespaced_deployment(release, namespace)
    assert "--sync-period-seconds=5" in deployment.spec.template.spec.containers[0].args
    assert deployment.spec.template.metadata.annotations["prometheus.io/port"] == "9100"
    with pytest.raises(HelmError, match="replicaCount"):
        cluster_helm.run("upgrade", release, str(CHART), "--namespace", namespace, "--reuse-values",
                         "--set", "replicaCount=abc")
    history = cluster_helm.run("history", release, "--namespace", namespace, "-o", "json").stdout
    assert [entry["status"] for entry in yaml.safe_load(history)] == ["superseded", "deployed"]

    cluster_helm.run("uninstall", release, "--namespace", namespace)
    with pytest.raises(client.ApiException) as gone:
        apps.read_namespaced_deployment(release, namespace)
    assert gone.value.status == 404
    assert not [r for r in rbac.list_namespaced_role(namespace).items if r.metadata.name.startswith(release)]


def test_the_target_chart_installs_and_its_token_reaches_what_picchu_needs_and_nothing_more(
        helm: Helm, control_plane: ControlPlane, namespace: str) -> None:
    target = control_plane.clusters["a"]
    cluster_helm = Helm(helm.binary, workdir=helm.workdir, kubeconfig=target.kubeconfig_path)
    release = f"picchu-target-{namespace[-8:]}"
    notes = cluster_helm.run("install", release, str(TARGET_CHART), "--namespace", namespace,
                             "--set", "serviceLevelsNamespace=").stdout
    assert "auth-info" in notes and f"secret {release}-token" in notes
    token = target.service_account_token(namespace, release)
    as_target = target.kubeconfig_for_token(token, "picchu-target")
    from kubernetes import config

    api = config.new_client_from_config_dict(as_target, persist_config=False)
    assert client.AppsV1Api(api).list_namespaced_replica_set(namespace).items == []
    # Secrets of app namespaces are read and written (config copies), and RBAC cannot name namespaces by
    # pattern; what lies outside picchu's kinds stays refused.
    for forbidden in (lambda: client.CoreV1Api(api).list_node(),
                      lambda: client.CoreV1Api(api).list_namespaced_pod("kube-system"),
                      lambda: client.RbacAuthorizationV1Api(api).list_cluster_role()):
        with pytest.raises(client.ApiException) as refused:
            forbidden()
        assert refused.value.status == 403
    cluster_helm.run("uninstall", release, "--namespace", namespace)


def test_an_optional_service_monitor_scrapes_the_metrics_service(helm: Helm) -> None:
    assert "ServiceMonitor" not in {m["kind"] for m in template(helm)}
    manifests = template(helm, "serviceMonitor.enabled=true", "serviceMonitor.labels.release=prom")
    monitor = _one(manifests, "ServiceMonitor")
    service = _one(manifests, "Service")
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "30s"}]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert "metrics" in {p["name"] for p in service["spec"]["ports"]}


def test_the_grafana_dashboard_ships_as_a_configmap_the_sidecar_loads(helm: Helm) -> None:
    import json

    (dashboard,) = [m for m in template(helm)
                    if m["kind"] == "ConfigMap" and m["metadata"]["name"].endswith("-dashboard")]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = (CHART / "dashboards" / "picchu.json").read_text()
    assert json.loads(dashboard["data"]["picchu.json"]) == json.loads(shipped)
    assert not [m for m in template(helm, "grafanaDashboard.enabled=false")
                if m["kind"] == "ConfigMap" and m["metadata"]["name"].endswith("-dashboard")]


def test_run_shards_renders_one_leader_electing_deployment_and_budget_per_shard(helm: Helm) -> None:
    manifests = template(helm, "run.shards=3")
    deployments = sorted((m for m in manifests if m["kind"] == "Deployment"), key=lambda m: m["metadata"]["name"])
    assert [d["metadata"]["name"] for d in deployments] == ["picchu-shard-0", "picchu-shard-1", "picchu-shard-2"]
    command = typer.main.get_command(app).commands["run"]  # type: ignore[attr-defined]
    selectors = []
    for index, deployment in enumerate(deployments):
        assert deployment["spec"]["replicas"] == 2
        args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        params = command.make_context("run", list(args)).params
        assert (params["shards"], params["shard_index"], params["enable_leader_election"]) == (3, index, True)
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
        selectors.append(selector)
    assert len({tuple(sorted(s.items())) for s in selectors}) == 3, "no Deployment adopts another shard's pods"
    budgets = [m for m in manifests if m["kind"] == "PodDisruptionBudget"]
    assert sorted(b["spec"]["selector"]["matchLabels"]["picchu.medium.engineering/shard"] for b in budgets) == \
        ["0", "1", "2"]
    assert "shards" not in str(_one(template(helm), "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"])
    assert "/run/shards" in refusal(helm, "run.shards=0")
