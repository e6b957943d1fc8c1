"""render_cluster: order, write policies, prune scopes, and what tag deletion/retirement look like."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import plan_scenarios as scenarios
import pytest
from hypothesis import given
from hypothesis import strategies as st

from picchu.plans.desired import WritePolicy
from picchu.plans.inputs import (
    AppInput,
    ConfigCopy,
    MeshFacts,
    MonitoringInput,
    RouteRevision,
    RoutingInput,
    Settings,
    TagInput,
    TagScale,
)
from picchu.plans.plan import RenderedPlan, render_cluster

CLUSTER = scenarios.cluster("a", private=("private-gateway", ["medm.io"]))


def rich_app(**extra: Any) -> AppInput:
    """Two tags (v2 ramping with a canary, v1 released), routing, monitors, SLOs and service levels."""
    target = copy.deepcopy(scenarios.SLO_TARGET)
    target.update(
        ports=[{"name": "http", "port": 80, "containerPort": 8080, "ingressPort": 443, "ingresses": ["private"]},
               {"name": "status", "port": 4242, "containerPort": 4242}],
        defaultIngressPorts={"private": "http"},
        aws={"iam": {"role_arn": "arn:aws:iam::1:role/echo"}},
        serviceMonitors=[{"name": "echo", "sloRegex": True, "spec": {
            "selector": {"matchLabels": {"picchu.medium.engineering/app": "echo"}},
            "endpoints": [{"port": "status", "metricRelabelings": [{"action": "keep", "sourceLabels": ["__name__"]}]}],
        }}],
    )  # fmt: skip
    tags = (
        TagInput(tag="v2", image="echo:v2", target=target, canary_rules=True,
                 scale=TagScale(replicas=2, min_replicas=2, max_replicas=4, cpu_target=40),
                 configs=(ConfigCopy("ConfigMap", "echo-config", {"a": "b"}),)),
        TagInput(tag="v1", image="echo:v1", target=target,
                 scale=TagScale(replicas=4, min_replicas=4, max_replicas=8, cpu_target=80),
                 configs=(ConfigCopy("ConfigMap", "echo-config", {"a": "old"}),)),
    )  # fmt: skip
    revisions = (RouteRevision("v2", 10, "echo-tag"), RouteRevision("v1", 90, "echo-tag"))
    defaults: dict[str, Any] = dict(
        app="echo", target="production", fleet="production", tags=tags,
        routing=RoutingInput.from_targets((target, target), revisions),
        monitoring=MonitoringInput(alertable_target=target, releasable_target=target),
        settings=Settings(service_levels_namespace="service-levels"),
    )  # fmt: skip
    defaults.update(extra)
    return AppInput(**defaults)


def kinds_and_names(plan: RenderedPlan) -> list[tuple[str, str]]:
    return [(item.kind, item.name) for item in plan.objects]


def test_a_rich_app_renders_every_family_in_apply_order() -> None:
    assert kinds_and_names(render_cluster(rich_app(), CLUSTER)) == [
        ("Namespace", "echo-production"),
        ("Secret", "service-account-token"),
        ("ServiceAccount", "echo"),
        ("Role", "echo-external-metrics"),
        ("RoleBinding", "echo-external-metrics-binding"),
        ("PodDisruptionBudget", "echo"),
        ("ConfigMap", "echo-config"),
        ("ReplicaSet", "v2"),
        ("HorizontalPodAutoscaler", "v2"),
        ("PrometheusRule", "echo-canary-v2"),
        ("ReplicaSet", "v1"),
        ("HorizontalPodAutoscaler", "v1"),
        ("Service", "echo"),
        ("DestinationRule", "echo"),
        ("VirtualService", "echo"),
        ("ServiceMonitor", "echo"),
        ("PrometheusRule", "echo-slo"),
        ("Namespace", "service-levels"),
        ("PrometheusServiceLevel", "echo-production-servicelevels"),
    ]


def test_every_rendered_object_is_labelled_as_picchu_owned_so_pruning_finds_only_ours() -> None:
    plan = render_cluster(rich_app(), CLUSTER)
    for item in plan.objects:
        labels = item.manifest["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "picchu", item
        if item.kind != "Namespace" or item.name == "echo-production":
            assert labels["picchu.medium.engineering/app"] == "echo", item
    [app_scope, levels_scope] = plan.prune
    assert app_scope.namespace == "echo-production"
    assert app_scope.selector == {"app.kubernetes.io/managed-by": "picchu", "picchu.medium.engineering/app": "echo"}
    assert levels_scope.namespace == "service-levels"
    assert levels_scope.selector["picchu.medium.engineering/target"] == "production"
    assert levels_scope.kinds == (("sloth.slok.dev/v1", "PrometheusServiceLevel"),)
    rendered_kinds = {(item.api_version, item.kind) for item in plan.objects if item.namespace == "echo-production"}
    assert rendered_kinds <= set(app_scope.kinds)


def test_write_policies_protect_the_token_and_the_replica_set_templates() -> None:
    plan = render_cluster(rich_app(), CLUSTER)
    policies = {(item.kind, item.name): item.policy for item in plan.objects}
    assert policies[("Secret", "service-account-token")] is WritePolicy.CREATE_ONLY  # §17 #14
    assert policies[("Namespace", "service-levels")] is WritePolicy.CREATE_ONLY  # §17 #13
    assert policies[("ReplicaSet", "v1")] is WritePolicy.SCALE_ONLY
    assert policies[("Namespace", "echo-production")] is WritePolicy.APPLY
    token = plan.find("Secret", "service-account-token")
    assert token is not None and "data" not in token.manifest
    assert "[create-only]" in str(plan) and "prune in echo-production" in str(plan)


def test_the_newest_tags_config_copy_wins_a_shared_name() -> None:
    config = render_cluster(rich_app(), CLUSTER).find("ConfigMap", "echo-config")
    assert config is not None and config.manifest["data"] == {"a": "b"}
    assert config.manifest["metadata"]["labels"]["picchu.medium.engineering/tag"] == "v2"


def test_deleting_a_tag_is_rendering_without_it() -> None:
    inputs = rich_app()
    plan = render_cluster(dataclasses.replace(inputs, tags=inputs.tags[:1]), CLUSTER)
    assert plan.find("ReplicaSet", "v1") is None and plan.find("HorizontalPodAutoscaler", "v1") is None
    assert plan.find("ReplicaSet", "v2") is not None


def test_retiring_a_tag_renders_zero_replicas_and_no_autoscaler() -> None:
    inputs = rich_app()
    retired = dataclasses.replace(inputs.tags[1], scale=TagScale(replicas=0, autoscaled=False))
    plan = render_cluster(dataclasses.replace(inputs, tags=(inputs.tags[0], retired)), CLUSTER)
    replica_set = plan.find("ReplicaSet", "v1")
    assert replica_set is not None and replica_set.manifest["spec"]["replicas"] == 0
    assert plan.find("HorizontalPodAutoscaler", "v1") is None


def test_switching_a_tag_to_keda_drops_its_hpa_so_the_applier_prunes_it() -> None:
    """§17 #20: the other autoscaler kinds of a tag are not rendered once the branch changes."""
    inputs = rich_app()
    target = copy.deepcopy(dict(inputs.tags[0].target))
    target["scale"] = {"kedaWorker": {"triggers": [{"type": "aws-sqs-queue", "metadata": {"queueURL": "q"}}]}}
    keda_tag = dataclasses.replace(inputs.tags[0], target=target)
    plan = render_cluster(dataclasses.replace(inputs, tags=(keda_tag,)), CLUSTER)
    assert plan.find("HorizontalPodAutoscaler", "v2") is None
    assert plan.find("ScaledObject", "v2") is not None and plan.find("TriggerAuthentication", "v2") is not None
    replica_set = plan.find("ReplicaSet", "v2")
    assert replica_set is not None
    assert replica_set.manifest["metadata"]["annotations"]["picchu.medium.engineering/autoscaler"] == "keda"


def test_without_slos_and_monitors_nothing_monitoring_is_rendered_but_its_scopes_remain() -> None:
    plan = render_cluster(rich_app(monitoring=MonitoringInput()), CLUSTER)
    kinds = {item.kind for item in plan.objects}
    assert not kinds & {"ServiceMonitor", "PrometheusServiceLevel"}
    assert plan.find("PrometheusRule", "echo-slo") is None
    assert len(plan.prune) == 2  # the shared PSL is still pruned by app + target


def test_a_cluster_that_does_not_hold_service_levels_gets_no_psl_and_no_psl_pruning() -> None:
    plan = render_cluster(rich_app(), dataclasses.replace(CLUSTER, service_levels=False))
    assert plan.find("PrometheusServiceLevel", "echo-production-servicelevels") is None
    assert [scope.namespace for scope in plan.prune] == ["echo-production"]


def test_the_iam_role_is_annotated_on_the_service_account() -> None:
    account = render_cluster(rich_app(), CLUSTER).find("ServiceAccount", "echo")
    assert account is not None
    assert account.manifest["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/echo"}


@pytest.mark.parametrize(
    ("facts", "labels", "waypoint"),
    [
        (MeshFacts(ambient_replicas=True, sidecar_replicas=True), {"istio-injection": "enabled", "istio.io/dataplane-mode": "ambient"}, True),
        (MeshFacts(ambient_replicas=True), {"istio-injection": "enabled", "istio.io/dataplane-mode": "ambient"}, True),
        (MeshFacts(ambient_replicas=True, newest_ambient=True), {"istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "waypoint"}, True),
        (MeshFacts(sidecar_replicas=True, newest_ambient=True), {"istio-injection": "enabled"}, False),
        (MeshFacts(newest_ambient=True), {"istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "waypoint"}, True),
        (MeshFacts(), {"istio-injection": "enabled"}, False),
    ],
)  # fmt: skip
def test_the_namespace_mode_and_waypoint_follow_the_spec_table(facts: MeshFacts, labels: dict, waypoint: bool) -> None:
    plan = render_cluster(rich_app(mesh=facts), CLUSTER)
    rendered = plan.objects[0].manifest
    assert rendered["metadata"]["labels"] == {
        "picchu.medium.engineering/ownerType": "releasemanager",
        "picchu.medium.engineering/ownerName": "echo-production",
        "picchu.medium.engineering/app": "echo",
        "app.kubernetes.io/managed-by": "picchu",
        **labels,
    }
    assert "annotations" not in rendered["metadata"]  # §17 #13: annotations are left to others
    family = [item.kind for item in plan.objects if item.name in ("waypoint", "waypoint-options")]
    assert family == (["ConfigMap", "Gateway", "PodDisruptionBudget", "HorizontalPodAutoscaler"] if waypoint else [])


def test_waypoint_sizes_come_from_the_newest_target() -> None:
    inputs = rich_app(mesh=MeshFacts(newest_ambient=True))
    target = {**inputs.tags[0].target, "waypointHPA": {"minReplicas": 3, "maxReplicas": 0},
              "waypointResources": {"requests": {"memory": "1Gi", "cpu": "500m"}, "limits": {"cpu": "0"}}}  # fmt: skip
    plan = render_cluster(dataclasses.replace(inputs, tags=(dataclasses.replace(inputs.tags[0], target=target),)), CLUSTER)
    hpa, pdb, options = (plan.find(kind, name) for kind, name in (
        ("HorizontalPodAutoscaler", "waypoint"), ("PodDisruptionBudget", "waypoint"), ("ConfigMap", "waypoint-options")))  # fmt: skip
    assert hpa is not None and pdb is not None and options is not None
    assert (hpa.manifest["spec"]["minReplicas"], hpa.manifest["spec"]["maxReplicas"]) == (3, 20)
    assert pdb.manifest["spec"]["minAvailable"] == 2
    overlay = options.manifest["data"]["deployment"]
    assert "name: istio-proxy" in overlay and "cpu: 500m" in overlay and "limits" not in overlay


def test_rendering_never_mutates_its_inputs_and_is_deterministic() -> None:
    inputs = rich_app()
    snapshot = copy.deepcopy(inputs)
    first = render_cluster(inputs, CLUSTER)
    replica_set = first.find("ReplicaSet", "v2")
    assert replica_set is not None
    replica_set.manifest["spec"]["template"]["spec"]["containers"][0]["env"] = []  # a consumer editing its copy
    replica_set.manifest["spec"]["replicas"] = 99
    second = render_cluster(inputs, CLUSTER)
    assert inputs == snapshot
    again = second.find("ReplicaSet", "v2")
    assert again is not None and again.manifest["spec"]["replicas"] == 2
    assert [item.manifest for item in second.objects] == [item.manifest for item in render_cluster(inputs, CLUSTER).objects]


@given(st.lists(st.integers(min_value=0, max_value=100), min_size=1, max_size=4))
def test_release_weights_are_rendered_exactly_as_decided(weights: list[int]) -> None:
    revisions = tuple(RouteRevision(f"t{index}", weight) for index, weight in enumerate(weights))
    inputs = rich_app(routing=RoutingInput(ports=({"name": "http", "port": 80},), revisions=revisions))
    service = render_cluster(inputs, CLUSTER).find("VirtualService", "echo")
    if not any(weights):
        assert service is None
        return
    assert service is not None
    [release] = service.manifest["spec"]["http"]
    assert {d["destination"]["subset"]: d["weight"] for d in release["route"]} == {
        f"t{index}": weight for index, weight in enumerate(weights) if weight > 0
    }


def test_the_plan_dumps_to_plain_yaml_without_shared_references() -> None:
    """Renderers reuse sub-dicts (one authority regex for several matches); the plan must not leak that."""
    import yaml

    text = yaml.safe_dump_all(render_cluster(rich_app(), CLUSTER).manifests())
    assert "&id" not in text and "*id" not in text
    assert "kind: VirtualService" in text
