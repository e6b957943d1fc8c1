"""Every rendered object is accepted, unpruned, by a real kube-apiserver with the upstream CRD schemas.

The rich scenario renders every family at once (three autoscaler branches, configs, ExternalSecret,
routing with retries and Istio-native faults, monitors, SLO, canary and service-level rules, the ambient
waypoint) and server-side applies each object into cluster "a" with strict field validation, so a field
the schema does not know fails the test instead of being silently dropped.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import plan_scenarios as scenarios
import pytest

from picchu.plans.inputs import (
    AppInput,
    ConfigCopy,
    ExternalSecretCopy,
    MeshFacts,
    MonitoringInput,
    RouteRevision,
    RoutingInput,
    Settings,
    TagInput,
    TagScale,
)
from picchu.plans.plan import RenderedPlan, render_cluster

pytestmark = pytest.mark.controlplane


def rich_inputs(namespace: str) -> AppInput:
    target = copy.deepcopy(scenarios.sync_new_app_target())
    target.update(copy.deepcopy({key: value for key, value in scenarios.SLO_TARGET.items() if key != "scale"}))
    target.update(
        scale={"min": 2, "default": 2, "max": 6, "minReadySeconds": 5, "requestsRateMetric": "istio_requests_rate"},
        env=[{"name": "NODE_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}}],
        volumes=[{"name": "shm", "emptyDir": {"medium": "Memory"}}],
        volumeMounts=[{"name": "shm", "mountPath": "/dev/shm"}],
        sidecars=[{"name": "proxy", "image": "proxy:1", "env": [{"name": "P", "value": "1"}]}],
        resources={"requests": {"cpu": "100m", "memory": "128Mi"}},
        lifecycle={"preStop": {"exec": {"command": ["sleep", "20"]}}},
        tolerations=[{"key": "infrastructure", "operator": "Exists", "effect": "NoExecute"}],
        topologySpreadConstraint={"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                  "whenUnsatisfiable": "DoNotSchedule"},
        podAnnotations={"go.medium.engineering/PodTerminationGracePeriodSeconds": "40"},
        karpenterDoNotDisrupt="30m",
        aws={"iam": {"role_arn": "arn:aws:iam::1:role/testapp"}},
        podDisruptionBudget={"minAvailable": 1},
        waypointResources={"requests": {"cpu": "100m"}},
        serviceMonitors=[{"name": "testapp", "sloRegex": True, "labels": {"team": "a"}, "spec": {
            "selector": {"matchLabels": {"picchu.medium.engineering/app": "testapp"}},
            "endpoints": [{"port": "status", "metricRelabelings": [{"action": "keep", "sourceLabels": ["__name__"]}]}],
        }}],
    )  # fmt: skip
    target["serviceLevelObjectives"][0]["alerting"] = {
        "name": "TestAppAvailability", "labels": {"team": "a"},
        "pageAlert": {"disable": True}, "ticketAlert": {"labels": {"severity": "ticket"}},
    }  # fmt: skip
    silent = copy.deepcopy(target["serviceLevelObjectives"][0])
    silent.update(name="test-app-latency", alerting={})
    target["serviceLevelObjectives"].append(silent)
    keda = copy.deepcopy(target)
    keda["scale"]["kedaWorker"] = {"cooldownPeriod": 30, "idleReplicaCount": 0, "triggers": [
        {"type": "datadog", "metadata": {"query": "avg:queue.depth{*}", "queryValue": "10"}},
    ]}  # fmt: skip
    worker = copy.deepcopy(target)
    worker["scale"]["worker"] = {"queueUri": "https://sqs.example/q", "targetMessagesPerWorker": 5,
                                 "secondsToProcessOneJobString": "0.5", "maxDisruption": "10%"}  # fmt: skip
    rate = TagScale(replicas=2, min_replicas=2, max_replicas=6, cpu_target=60, memory_target=70,
                    requests_rate_target="500m")  # fmt: skip
    tags = (
        TagInput(tag="v3", image="img:v3", target=keda, scale=rate, canary_rules=True,
                 configs=(ConfigCopy("Secret", "db", {"password": "cw=="}), ConfigCopy("ConfigMap", "cfg", {"a": "b"})),
                 external_secrets=(ExternalSecretCopy("ext", {
                     "secretStoreRef": {"name": "vault", "kind": "ClusterSecretStore"},
                     "target": {"name": "ext-secret"},
                     "data": [{"secretKey": "k", "remoteRef": {"key": "path/k"}}],
                 }),)),
        TagInput(tag="v2", image="img:v2", target=worker, scale=rate),
        TagInput(tag="v1", image="img:v1", target=target, scale=rate),
        TagInput(tag="v0", image="img:v0", target={**target, "ambientMesh": True}, scale=rate),
        TagInput(tag="old", image="img:old", target=target, scale=TagScale(replicas=0, autoscaled=False)),
    )  # fmt: skip
    revisions = (
        RouteRevision("v3", 10, "TEST-TAG", target["istio"]["trafficPolicy"]),
        RouteRevision("v2", 20, "TEST-TAG"),
        RouteRevision("v1", 70, "TEST-TAG"),
    )
    faults = ({"portSelector": {"number": 80}, "fault": {
        "delay": {"fixedDelay": "1s", "percentage": {"value": 5}},
        "abort": {"httpStatus": 503, "percentage": {"value": 1}},
    }},)  # fmt: skip
    return AppInput(
        app="testapp", target="production", fleet="production", namespace=namespace, tags=tags,
        routing=RoutingInput.from_targets((keda, worker, target), revisions, tuple(target["alertRules"])),
        monitoring=MonitoringInput(alertable_target=target, releasable_target=target),
        mesh=MeshFacts(ambient_replicas=True, sidecar_replicas=True, newest_ambient=True),
        faults=faults,
        settings=Settings(service_levels_namespace=f"{namespace}-sl", dev_routes_service_host="dev.svc",
                          dev_routes_service_port=80, cluster_prometheus_address="http://prometheus:9090"),
    )  # fmt: skip


def _cluster() -> Any:
    return dataclasses.replace(
        scenarios.sync_new_app_cluster(),
        spec={**scenarios.sync_new_app_cluster().spec, "enableDevRoutes": True, "devRouteTagTemplate": "dev-{{.App}}"},
    )


def _is_subset(rendered: Any, live: Any, path: str = "") -> list[str]:
    """Paths where the live object lost or changed a rendered value (defaults added by the server are fine)."""
    if isinstance(rendered, dict):
        if not isinstance(live, dict):
            return [path]
        return [p for key, value in rendered.items() for p in _is_subset(value, live.get(key), f"{path}.{key}")]
    if isinstance(rendered, list):
        if not isinstance(live, list) or len(live) != len(rendered):
            return [path]
        return [p for index, item in enumerate(rendered) for p in _is_subset(item, live[index], f"{path}[{index}]")]
    if isinstance(rendered, float) and isinstance(live, int | float):
        return [] if float(live) == rendered else [path]
    return [] if rendered == live else [path]


def _apply_plan(plan: RenderedPlan, api_client: Any, cache_file: Path) -> list[str]:
    from kubernetes.dynamic import DynamicClient
    from kubernetes.dynamic.exceptions import DynamicApiError

    dynamic = DynamicClient(api_client, cache_file=str(cache_file))
    problems = []
    for item in plan.objects:
        resource = dynamic.resources.get(api_version=item.api_version, kind=item.kind)
        try:
            applied = resource.server_side_apply(
                body=item.manifest, field_manager="picchu", force_conflicts=True,
                query_params=[("fieldValidation", "Strict")],
            ).to_dict()  # fmt: skip
        except DynamicApiError as error:
            problems.append(f"{item}: {error.status} {error.summary()}")
            continue
        lost = _is_subset({key: value for key, value in item.manifest.items() if key != "metadata"}, applied)
        lost += _is_subset(item.manifest["metadata"].get("labels", {}), applied["metadata"].get("labels"), ".labels")
        if lost:
            problems.append(f"{item}: the server dropped or changed {lost}")
    return problems


def test_every_rendered_object_is_accepted_by_the_real_schemas(
    namespace: str, api_clients: dict[str, Any], tmp_path: Path
) -> None:
    plan = render_cluster(rich_inputs(namespace), _cluster())
    kinds = {item.kind for item in plan.objects}
    assert kinds >= {
        "Namespace", "Secret", "ConfigMap", "ServiceAccount", "Role", "RoleBinding", "PodDisruptionBudget",
        "ReplicaSet", "HorizontalPodAutoscaler", "WorkerPodAutoScaler", "ScaledObject", "TriggerAuthentication",
        "DatadogMetric", "ExternalSecret", "Service", "Sidecar", "DestinationRule", "VirtualService", "Gateway",
        "PrometheusRule", "ServiceMonitor", "PrometheusServiceLevel",
    }  # fmt: skip
    scaled_objects = [item for item in plan.objects if item.kind == "ScaledObject"]
    assert {item.name for item in scaled_objects} == {"v3", "v0"}  # KEDA worker and ambient KEDA
    assert _apply_plan(plan, api_clients["a"], tmp_path / "discovery.json") == []


def test_applying_the_same_plan_twice_is_accepted_and_changes_nothing(
    namespace: str, api_clients: dict[str, Any], tmp_path: Path
) -> None:
    from kubernetes import client

    plan = render_cluster(rich_inputs(namespace), _cluster())
    assert _apply_plan(plan, api_clients["a"], tmp_path / "discovery.json") == []
    apps = client.AppsV1Api(api_clients["a"])

    def ours() -> tuple[int, list[Any]]:
        # Generation and picchu's managed-fields entry: the cluster's own controllers (if a test started them)
        # may write the ReplicaSet's status meanwhile, which changes its resourceVersion but neither of these.
        replica_set = apps.read_namespaced_replica_set("v1", namespace)
        mine = [(f.operation, f.time, f.fields_v1) for f in replica_set.metadata.managed_fields or []
                if f.manager == "picchu"]
        return replica_set.metadata.generation, mine

    before = ours()
    assert before[1], "the apply is recorded under picchu's field manager"
    assert _apply_plan(plan, api_clients["a"], tmp_path / "discovery.json") == []
    assert ours() == before


def test_sloth_requires_alerting_so_an_slo_without_an_alerting_name_keeps_both_alerts_disabled(
    namespace: str, control_plane: Any
) -> None:
    """Why the shared PrometheusServiceLevel differs from Picchu's (README "Differences from Picchu"): Picchu
    omits `alerting` when no alerting name is set, and the real Sloth CRD rejects exactly that."""
    plan = render_cluster(rich_inputs(namespace), _cluster())
    [levels] = [item.manifest for item in plan.objects if item.kind == "PrometheusServiceLevel"]
    silent = [slo for slo in levels["spec"]["slos"] if not slo["alerting"].get("name")]
    assert silent and all(
        slo["alerting"] == {"pageAlert": {"disable": True}, "ticketAlert": {"disable": True}} for slo in silent
    )
    as_picchu_writes = copy.deepcopy(levels)
    as_picchu_writes["metadata"]["namespace"] = namespace
    for slo in as_picchu_writes["spec"]["slos"]:
        if not slo["alerting"].get("name"):
            del slo["alerting"]
    result = control_plane.clusters["a"].kubectl("create", "-f", "-", input=json.dumps(as_picchu_writes),
                                                 check=False)
    assert result.returncode != 0 and "alerting: Required value" in result.stderr, result.stderr
