"""The plan values the applier consumes: object identity, change detection, validation, prune selectors."""

from __future__ import annotations

from picchu import keys
from picchu.clusters import ClusterPlan, DesiredObject, ObjectKey, PruneScope
from picchu.clusters.desired import RememberedPlan


def _rs(name: str = "v1", replicas: int = 2) -> dict:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": "echo-prod"}, "spec": {"replicas": replicas}}


def test_an_object_is_identified_by_group_kind_namespace_and_name_but_not_version():
    v1 = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "x", "namespace": "n"}}
    v2 = {**v1, "apiVersion": "autoscaling/v2"}
    assert ObjectKey.of(v1) == ObjectKey.of(v2) == ObjectKey("autoscaling", "HorizontalPodAutoscaler", "n", "x")
    assert str(ObjectKey.of({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}})) == "Namespace n"


def test_keys_of_the_same_object_rendered_twice_share_their_strings():
    """The applier keeps a key per object per cluster: equal keys must not each carry their own copies."""
    first, second = (ObjectKey.of(_rs("".join(["v", "1"]))) for _ in range(2))
    assert first == second
    assert first.namespace is second.namespace and first.name is second.name


def test_plans_of_several_clusters_and_renders_share_one_instance_of_each_key():
    """The applier and the remembered plans keep a key per object per cluster: one object, one instance."""
    shared: dict[ObjectKey, ObjectKey] = {}
    earlier = ClusterPlan.of([_rs("v1")])
    earlier.share_keys(shared)
    plans = [ClusterPlan.of([_rs("v1"), _rs("v2")]) for _ in range(3)]
    for plan in plans:
        plan.share_keys(shared)
    v1, v2 = plans[0].objects[0].key, plans[0].objects[1].key
    assert all(p.objects[0].key is v1 is earlier.objects[0].key and p.objects[1].key is v2 for p in plans)
    assert RememberedPlan.of(plans[2]).keys[1] is v2 and v1 != v2


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


def test_go_picchu_objects_are_recognised_by_picchu_s_own_labels_and_names_only():
    from picchu.clusters.desired import LegacyOwned

    per_tag = LegacyOwned({keys.LABEL_TAG: None, keys.LABEL_TARGET: "production"})
    assert per_tag.matches("v1", {keys.LABEL_TAG: "v1", keys.LABEL_TARGET: "production", keys.LABEL_APP: "echo"})
    assert not per_tag.matches("v1", {keys.LABEL_TAG: "v1", keys.LABEL_TARGET: "staging"})
    assert not per_tag.matches("v1", {keys.LABEL_APP: "echo"}), "the app label alone is anyone's"
    by_name = LegacyOwned(names=("echo-production-servicelevels",))
    assert by_name.matches("echo-production-servicelevels", {})
    assert not by_name.matches("echo-production-other", {keys.LABEL_TAG: "v1"})
    assert not LegacyOwned().matches("anything", {"any": "label"})
    scope = PruneScope(("echo-prod",), (("v1", "ConfigMap"),), {keys.LABEL_APP: "echo"}, (per_tag,))
    assert scope.label_selector() == f"{keys.LABEL_APP}=echo", "legacy objects carry no managed-by label"


def test_an_object_someone_else_wrote_is_as_desired_when_it_holds_every_rendered_field():
    from picchu.clusters.adoption import already_as_desired, applied_by_us, is_ignored, labels_as_desired

    desired = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "echo", "labels": {keys.LABEL_APP: "echo", keys.LABEL_MANAGED_BY: "picchu"}},
               "spec": {"ports": [{"name": "http", "port": 80, "targetPort": "http"}], "selector": {"a": "b"}}}
    live = {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "echo", "labels": {keys.LABEL_APP: "echo"}, "resourceVersion": "7",
                         "managedFields": [{"manager": "picchu", "operation": "Update"}]},
            "spec": {"ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
                     "selector": {"a": "b"}, "clusterIP": "10.0.0.1"}}
    assert already_as_desired(desired, live), "server defaults and our managed-by label do not make a write due"
    assert labels_as_desired(desired, live)
    assert not applied_by_us(live), "Go Picchu's Update is not our server-side apply"
    changed = {**live, "spec": {**live["spec"], "ports": [{"name": "http", "port": 81, "targetPort": "http"}]}}
    assert not already_as_desired(desired, changed)
    extra = {**live, "spec": {**live["spec"], "ports": [*live["spec"]["ports"], {"name": "x", "port": 9}]}}
    assert not already_as_desired(desired, extra), "a list must match element by element"
    assert not already_as_desired({**desired, "metadata": {**desired["metadata"], "annotations": {"x": "1"}}}, live)
    assert is_ignored({"metadata": {"labels": {keys.LABEL_IGNORE: ""}}}) and not is_ignored(live)
    assert not is_ignored(None)


def test_a_remembered_plan_gives_back_each_objects_key_and_digest_in_order():
    plan = ClusterPlan([DesiredObject(_rs("v1")), DesiredObject(_rs("v2", replicas=3))])
    remembered = RememberedPlan.of(plan)
    assert [(o.key, o.digest()) for o in remembered.objects] == [(d.key, d.digest()) for d in plan.objects]
    assert RememberedPlan.of(ClusterPlan([])).objects == ()
