"""The plan values the applier consumes: object identity, change detection, validation, prune selectors."""

from __future__ import annotations

from picchu import keys
from picchu.clusters import ClusterPlan, DesiredObject, ObjectKey, PruneScope


def _rs(name: str = "v1", replicas: int = 2) -> dict:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": "echo-prod"}, "spec": {"replicas": replicas}}


def test_an_object_is_identified_by_group_kind_namespace_and_name_but_not_version():
    v1 = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "x", "namespace": "n"}}
    v2 = {**v1, "apiVersion": "autoscaling/v2"}
    assert ObjectKey.of(v1) == ObjectKey.of(v2) == ObjectKey("autoscaling", "HorizontalPodAutoscaler", "n", "x")
    assert str(ObjectKey.of({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}})) == "Namespace n"


def test_the_digest_ignores_key_order_but_sees_any_change_of_content_or_mode():
    a = DesiredObject({"kind": "ReplicaSet", "apiVersion": "apps/v1", "metadata": {"namespace": "echo-prod", "name": "v1"},
                       "spec": {"replicas": 2}})
    assert a.digest() == DesiredObject(_rs()).digest()
    assert a.digest() != DesiredObject(_rs(replicas=3)).digest()
    assert a.digest() != DesiredObject(_rs(), mode="scale-only").digest()


def test_an_unwritable_object_is_explained_with_its_field_path():
    problems = DesiredObject({"kind": "ConfigMap", "metadata": {}}, mode="scale-only").problems()
    assert any(p.startswith("apiVersion:") for p in problems)
    assert any(p.startswith("metadata.name:") for p in problems)
    assert any("ReplicaSets" in p for p in problems)
    assert DesiredObject(_rs(), mode="scale-only").problems() == []


def test_a_prune_scope_only_ever_selects_objects_labelled_as_managed_by_picchu():
    scope = PruneScope(("echo-prod",), (("v1", "ConfigMap"),), {keys.LABEL_APP: "echo"})
    assert scope.label_selector() == f"{keys.LABEL_MANAGED_BY}=picchu,{keys.LABEL_APP}=echo"
    assert PruneScope(("n",), (("v1", "Secret"),)).label_selector() == f"{keys.LABEL_MANAGED_BY}=picchu"


def test_a_plan_built_from_manifests_marks_create_only_and_scale_only_objects_by_key():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "service-account-token", "namespace": "echo-prod"}}
    plan = ClusterPlan.of([secret, _rs()], create_only=[ObjectKey.of(secret)], scale_only=[ObjectKey.of(_rs())])
    assert [o.mode for o in plan.objects] == ["create-only", "scale-only"]
