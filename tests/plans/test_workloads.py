"""ReplicaSet, PDB, config copies and autoscalers of one tag (picchu-samples §3.6)."""

from __future__ import annotations

import copy
from typing import Any

import plan_scenarios as scenarios
import pytest

from picchu.plans import configs, scaling, workloads
from picchu.plans.inputs import AppInput, ConfigCopy, ExternalSecretCopy, Settings, TagInput, TagScale
from picchu.plans.plan import render_cluster
from picchu.plans.wire import RenderError, as_wire

HALF = scenarios.cluster("half", factor="0.5")
TAG_LABELS = {
    "picchu.medium.engineering/app": "testapp",
    "picchu.medium.engineering/tag": "testtag",
    "picchu.medium.engineering/target": "production",
    "app.kubernetes.io/name": "testapp",
    "app.kubernetes.io/version": "testtag",
    "app": "testapp",
    "version": "testtag",
    "app.kubernetes.io/managed-by": "picchu",
}


def sync_revision_target() -> dict[str, Any]:
    """The SyncRevision fixture target (§3.6)."""
    return {
        "name": "production",
        "fleet": "production",
        "scale": {"min": 1, "default": 2, "max": 4, "targetCPUUtilizationPercentage": 50},
        "ports": [
            {"name": "http", "port": 80, "containerPort": 8080, "protocol": "TCP"},
            {"name": "status", "port": 4242, "containerPort": 4242, "protocol": "TCP"},
        ],
        "resources": {"requests": {"cpu": "2", "memory": "4352Mi"}, "limits": {"cpu": "4", "memory": "4352Mi"}},
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "node-role.kubernetes.io/infrastructure", "operator": "Exists"}]}
        ]}}},
        "priorityClassName": "default",
        "tolerations": [{"key": "infrastructure", "operator": "Exists", "effect": "NoExecute"}],
        "aws": {"iam": {"role_arn": "testrole"}},
        "podAnnotations": {"sidecar.istio.io/statsInclusionPrefixes": "listener,cluster.outbound"},
        "env": [{"name": "NODE_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}}],
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", "20"]}}},
        "sidecars": [{"name": "test-1", "image": "test-1:latest"}],
        "volumes": [{"name": "shm", "emptyDir": {"medium": "Memory"}}],
        "volumeMounts": [{"name": "shm", "mountPath": "/dev/shm"}],
        "podDisruptionBudget": {"maxUnavailable": "5%"},
        "topologySpreadConstraint": {"maxSkew": 3, "topologyKey": "kubernetes.io/hostname",
                                     "whenUnsatisfiable": "ScheduleAnyway",
                                     "labelSelector": {"matchLabels": {"app": "testapp"}}},
        "schedulerName": "my-scheduler",
        "serviceAccountName": "testapp",
    }  # fmt: skip


def app(*tags: TagInput, **extra: Any) -> AppInput:
    return AppInput(app="testapp", target="production", fleet="production", namespace="testnamespace",
                    tags=tags, **extra)  # fmt: skip


def replica_set(tag: TagInput, cluster: Any = HALF) -> dict[str, Any]:
    return workloads.render_replica_set(app(tag), tag, scaling.scaling_factor(cluster, tag))


def test_the_replica_set_fixture_renders_the_expected_pod_template() -> None:
    tag = scenarios.tag("testtag", sync_revision_target(), replicas=2)
    probe = {"httpGet": {"path": "/running", "port": "status"}, "initialDelaySeconds": 10, "periodSeconds": 10,
             "timeoutSeconds": 1, "successThreshold": 1}  # fmt: skip
    shared = {
        "env": [{"name": "NODE_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}}],
        "volumeMounts": [{"name": "shm", "mountPath": "/dev/shm"}],
    }
    pod_labels = {**TAG_LABELS, "tag.picchu.medium.engineering": "testtag"}
    selector = {key: value for key, value in pod_labels.items() if key not in ("app", "version")}
    assert replica_set(tag) == {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": "testtag",
            "namespace": "testnamespace",
            "labels": TAG_LABELS,
            "annotations": {"picchu.medium.engineering/autoscaler": "hpa", "iam.amazonaws.com/role": "testrole"},
        },
        "spec": {
            "replicas": 1,  # ceil(2 × 0.5)
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {
                    "name": "testtag",
                    "namespace": "testnamespace",  # §11.7: Picchu writes the namespace into the template
                    "labels": pod_labels,
                    "annotations": {
                        "sidecar.istio.io/statsInclusionPrefixes": "listener,cluster.outbound",
                        "iam.amazonaws.com/role": "testrole",
                        "ad.datadoghq.com/tolerate-unready": "true",
                    },
                },
                "spec": {
                    "serviceAccountName": "testapp",
                    "dnsConfig": {"options": [{"name": "ndots", "value": "1"}]},
                    "affinity": sync_revision_target()["affinity"],
                    "priorityClassName": "default",
                    "tolerations": [{"key": "infrastructure", "operator": "Exists", "effect": "NoExecute"}],
                    "volumes": [{"name": "shm", "emptyDir": {"medium": "Memory"}}],
                    "schedulerName": "my-scheduler",
                    "topologySpreadConstraints": [sync_revision_target()["topologySpreadConstraint"]],
                    "containers": [
                        {
                            "name": "testapp",
                            "image": "docker.medium.sh/test:testtag",
                            "ports": [
                                {"name": "status", "containerPort": 4242, "protocol": "TCP"},
                                {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                            ],
                            "resources": sync_revision_target()["resources"],
                            "livenessProbe": {**probe, "failureThreshold": 7},
                            "readinessProbe": {**probe, "failureThreshold": 3},
                            "lifecycle": {"preStop": {"exec": {"command": ["sleep", "20"]}}},
                            **shared,
                        },
                        {"name": "test-1", "image": "test-1:latest", **shared},
                    ],
                },
            },
        },
    }


def test_a_revision_target_model_renders_like_its_wire_form() -> None:
    model = scenarios.revision_target(sync_revision_target())
    from_model = replica_set(scenarios.tag("testtag", model, replicas=2))
    from_wire = replica_set(scenarios.tag("testtag", as_wire(model), replicas=2))
    assert from_model == from_wire
    assert from_model["spec"]["template"]["spec"]["containers"][0]["ports"][0]["name"] == "status"


def test_karpenter_do_not_disrupt_overrides_the_same_pod_annotation() -> None:
    target = {**sync_revision_target(), "karpenterDoNotDisrupt": "30m",
              "podAnnotations": {"karpenter.sh/do-not-disrupt": "true"}}  # fmt: skip
    annotations = replica_set(scenarios.tag("testtag", target))["spec"]["template"]["metadata"]["annotations"]
    assert annotations["karpenter.sh/do-not-disrupt"] == "30m"


def test_min_ready_seconds_is_set_on_the_replica_set() -> None:
    """Deliberately differs from Picchu, which never applies it (§17 #6)."""
    target = sync_revision_target()
    target["scale"]["minReadySeconds"] = 15
    assert replica_set(scenarios.tag("testtag", target))["spec"]["minReadySeconds"] == 15


def test_sidecars_keep_their_own_env_and_mounts_merged_with_the_shared_ones() -> None:
    """Deliberately differs from Picchu, which overwrites them (§17 #19): sidecars still inherit app config."""
    target = sync_revision_target()
    target["sidecars"] = [{
        "name": "proxy", "image": "proxy:1",
        "env": [{"name": "PROXY_PORT", "value": "9000"}, {"name": "NODE_IP", "value": "own"}],
        "volumeMounts": [{"name": "cache", "mountPath": "/cache"}],
    }]  # fmt: skip
    target["volumes"].append({"name": "cache", "emptyDir": {}})
    tag = TagInput(tag="testtag", image="i", target=target, scale=TagScale(replicas=1),
                   configs=(ConfigCopy("Secret", "creds"),))  # fmt: skip
    sidecar = replica_set(tag)["spec"]["template"]["spec"]["containers"][1]
    assert sidecar["env"] == [{"name": "PROXY_PORT", "value": "9000"}, {"name": "NODE_IP", "value": "own"}]
    assert sidecar["volumeMounts"] == [{"name": "shm", "mountPath": "/dev/shm"}, {"name": "cache", "mountPath": "/cache"}]
    assert sidecar["envFrom"] == [{"secretRef": {"name": "creds"}}]


def test_do_not_schedule_topology_spread_becomes_schedule_anyway_without_touching_the_spec() -> None:
    target = sync_revision_target()
    target["topologySpreadConstraint"]["whenUnsatisfiable"] = "DoNotSchedule"
    before = copy.deepcopy(target)
    rendered = replica_set(scenarios.tag("testtag", target))
    assert rendered["spec"]["template"]["spec"]["topologySpreadConstraints"][0]["whenUnsatisfiable"] == "ScheduleAnyway"
    assert target == before


def test_termination_grace_period_comes_from_the_pod_annotation_and_bad_values_are_reported() -> None:
    target = sync_revision_target()
    target["podAnnotations"]["go.medium.engineering/PodTerminationGracePeriodSeconds"] = "45"
    assert replica_set(scenarios.tag("testtag", target))["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 45
    target["podAnnotations"]["go.medium.engineering/PodTerminationGracePeriodSeconds"] = "soon"
    with pytest.raises(RenderError, match="PodTerminationGracePeriodSeconds"):
        replica_set(scenarios.tag("testtag", target))


def test_selected_configs_are_copied_with_tag_labels_and_injected_with_env_from() -> None:
    tag = TagInput(
        tag="testtag", image="i", target=sync_revision_target(), scale=TagScale(replicas=1),
        configs=(ConfigCopy("Secret", "db", {"password": "cw=="}, "Opaque"), ConfigCopy("ConfigMap", "cfg", {"a": "b"})),
        external_secrets=(ExternalSecretCopy("ext", {"target": {"name": "ext-secret"}, "data": []}),),
    )  # fmt: skip
    rendered = configs.render_configs(app(tag), tag)
    assert [(obj["kind"], obj["metadata"]["name"]) for obj in rendered] == [
        ("Secret", "db"), ("ConfigMap", "cfg"), ("ExternalSecret", "ext")
    ]  # fmt: skip
    assert all(obj["metadata"]["labels"] == TAG_LABELS for obj in rendered)
    assert rendered[0]["data"] == {"password": "cw=="} and rendered[0]["type"] == "Opaque"
    assert replica_set(tag)["spec"]["template"]["spec"]["containers"][0]["envFrom"] == [
        {"secretRef": {"name": "db"}}, {"configMapRef": {"name": "cfg"}}, {"secretRef": {"name": "ext-secret"}}
    ]  # fmt: skip


def test_the_app_pdb_defaults_to_ten_percent_and_always_selects_the_app() -> None:
    target = sync_revision_target()
    tag = scenarios.tag("testtag", target)
    assert workloads.render_pod_disruption_budget(app(tag), tag)["spec"] == {
        "maxUnavailable": "5%", "selector": {"matchLabels": {"picchu.medium.engineering/app": "testapp"}}
    }  # fmt: skip
    del target["podDisruptionBudget"]
    assert workloads.render_pod_disruption_budget(app(tag), tag)["spec"]["maxUnavailable"] == "10%"


# ScaleRevision (§3.6): min 4, max 10 on a "halfCluster" (factor 0.5)


def autoscalers(target: dict[str, Any], cluster: Any = HALF, settings: Settings | None = None,
                **scale: Any) -> list[dict[str, Any]]:  # fmt: skip
    tag = TagInput(tag="testtag", image="i", target=target,
                   scale=TagScale(replicas=4, min_replicas=4, max_replicas=10, **scale))  # fmt: skip
    inputs = app(tag, settings=settings or Settings())
    return scaling.render_autoscalers(inputs, cluster, tag, scaling.scaling_factor(cluster, tag))


def _kinds(objects: list[dict[str, Any]]) -> list[str]:
    return [obj["kind"] for obj in objects]


@pytest.mark.parametrize(
    ("scale", "metric"),
    [
        ({"cpu_target": 30}, {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 30}}}),
        ({"memory_target": 30}, {"type": "Resource", "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 30}}}),
        ({"requests_rate_target": "5"}, {"type": "Pods", "pods": {"metric": {"name": "request_rate"}, "target": {"type": "AverageValue", "averageValue": "5"}}}),
    ],
)  # fmt: skip
def test_an_hpa_gets_bounds_scaled_by_the_cluster_factor_and_one_metric(scale: dict, metric: dict) -> None:
    target = {"scale": {"requestsRateMetric": "request_rate"}}
    [hpa] = autoscalers(target, **scale)
    assert hpa["spec"] == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "testtag"},
        "minReplicas": 2,
        "maxReplicas": 5,
        "metrics": [metric],
    }


def test_ambient_mesh_with_a_request_rate_uses_a_keda_prometheus_trigger_instead_of_an_hpa() -> None:
    address = "http://prometheus-slo.monitoring-slo.svc.cluster.local:9090"
    objects = autoscalers({"ambientMesh": True, "scale": {}}, settings=Settings(cluster_prometheus_address=address),
                          requests_rate_target="5", cpu_target=30)  # fmt: skip
    assert _kinds(objects) == ["ScaledObject"]
    spec = objects[0]["spec"]
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (2, 5)
    assert spec["triggers"] == [{"type": "prometheus", "metadata": {
        "serverAddress": address,
        "query": 'sum(rate(istio_requests_total{destination_workload="testtag", '
                 'destination_workload_namespace="testnamespace"}[2m]))',
        "threshold": "5",
    }}]  # fmt: skip
    half = autoscalers({"ambientMesh": True, "scale": {}}, settings=Settings(cluster_prometheus_address=address),
                       requests_rate_target="500m")  # fmt: skip
    assert half[0]["spec"]["triggers"][0]["metadata"]["threshold"] == "0.5"


def test_a_worker_gets_a_worker_pod_autoscaler() -> None:
    worker = {"queueUri": "https://sqs/q", "targetMessagesPerWorker": 10, "secondsToProcessOneJobString": "0.5",
              "maxDisruption": "10%"}  # fmt: skip
    [wpa] = autoscalers({"scale": {"worker": worker}}, cpu_target=30)
    assert wpa["kind"] == "WorkerPodAutoScaler" and wpa["metadata"]["name"] == "testtag"
    assert wpa["spec"] == {"replicaSetName": "testtag", "minReplicas": 2, "maxReplicas": 5, "queueURI": "https://sqs/q",
                           "targetMessagesPerWorker": 10, "maxDisruption": "10%", "secondsToProcessOneJob": 0.5}  # fmt: skip


def test_a_keda_worker_with_a_datadog_trigger_gets_its_auth_config_and_metric() -> None:
    keda = {"cooldownPeriod": 30, "triggers": [
        {"type": "datadog", "metadata": {"query": "avg:x{*}"}},
        {"type": "aws-sqs-queue", "metadata": {"queueURL": "q"}, "authenticationRef": {"name": "mine"}},
    ]}  # fmt: skip
    target = {"scale": {"kedaWorker": keda}}
    before = copy.deepcopy(target)
    objects = autoscalers(target, requests_rate_target="5")
    assert _kinds(objects) == ["ConfigMap", "TriggerAuthentication", "DatadogMetric", "ScaledObject"]
    assert objects[0]["metadata"]["name"] == "dd-cfg-testtag"
    auth = objects[1]["spec"]
    assert auth["podIdentity"] == {"provider": "aws-eks"}
    assert {ref["parameter"] for ref in auth["configMapTargetRef"]} == {
        "datadogNamespace", "authMode", "datadogMetricsService", "unsafeSsl"}
    assert auth["secretTargetRef"] == [{"parameter": "token", "name": "service-account-token", "key": "token"}]
    assert objects[2]["spec"]["query"] == (
        "avg:istio.mesh.request.count{reporter:destination, cluster:half, kube_namespace:testnamespace, "
        "version:testtag}.rollup(count, 120)"
    )
    scaled = objects[3]["spec"]
    assert scaled["cooldownPeriod"] == 30 and (scaled["minReplicaCount"], scaled["maxReplicaCount"]) == (2, 5)
    assert scaled["triggers"][0]["authenticationRef"] == {"name": "testtag"}
    assert scaled["triggers"][0]["metadata"] == {"query": "avg:x{*}", "identityOwner": "pod"}
    assert scaled["triggers"][1]["authenticationRef"] == {"name": "mine"}
    assert target == before  # §17 #3: the spec is never mutated


def test_no_metric_target_means_no_hpa() -> None:
    assert autoscalers({"scale": {}}) == []


def test_factor_zero_for_an_event_driven_revision_renders_zero_replicas_and_no_autoscaler() -> None:
    """§17.3: an HPA with 0 bounds would be rejected, so none is rendered."""
    cluster = scenarios.cluster("ed", disableEventDriven=True)
    tag = TagInput(tag="testtag", image="i", target={"scale": {}}, event_driven=True,
                   scale=TagScale(replicas=3, min_replicas=2, max_replicas=4, cpu_target=50))  # fmt: skip
    plan = render_cluster(app(tag), cluster)
    replica_set_object = plan.find("ReplicaSet", "testtag")
    assert replica_set_object is not None and replica_set_object.manifest["spec"]["replicas"] == 0
    assert plan.find("HorizontalPodAutoscaler", "testtag") is None


def test_max_below_min_is_raised_to_min() -> None:
    tag = TagInput(tag="testtag", image="i", target={"scale": {}},
                   scale=TagScale(replicas=1, min_replicas=6, max_replicas=2, cpu_target=50))  # fmt: skip
    [hpa] = scaling.render_autoscalers(app(tag), HALF, tag, 0.5)
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 3)


def test_an_unparseable_scaling_factor_is_reported_for_that_cluster() -> None:
    with pytest.raises(RenderError, match="scalingFactorString"):
        scaling.scaling_factor(scenarios.cluster("bad", factor="half"), scenarios.tag("t", {}))


def test_a_scaling_factor_so_large_that_pod_counts_overflow_is_reported_for_that_cluster() -> None:
    with pytest.raises(RenderError, match="from 0 to 1000"):
        scaling.scaling_factor(scenarios.cluster("huge", factor="1e308"), scenarios.tag("t", {}))


def test_an_hpa_never_gets_zero_bounds_which_the_api_server_rejects() -> None:
    tag = TagInput(tag="testtag", image="i", target={"scale": {}},
                   scale=TagScale(replicas=0, min_replicas=0, max_replicas=0, cpu_target=50))  # fmt: skip
    [hpa] = scaling.render_autoscalers(app(tag), HALF, tag, 0.5)
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 1)
