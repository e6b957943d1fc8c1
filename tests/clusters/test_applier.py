"""The applier against real API servers with the upstream CRDs: skips unchanged objects, isolates failing
clusters, prunes only what it owns, keeps ReplicaSet templates and autoscaled counts, keeps create-only data."""

from __future__ import annotations

import base64
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from kubernetes import client

from picchu import keys
from picchu.clusters import Applier, ClusterPlan, DesiredObject, ObjectKey, PruneScope
from picchu.clusters import applier as applier_module
from picchu.clusters.desired import RememberedPlan
from picchu.clusters.drift_budget import DriftBudget

MANAGED = {keys.LABEL_MANAGED_BY: keys.MANAGED_BY, keys.LABEL_APP: "echo"}


def configmap(namespace: str, name: str, data: str = "1", labels: dict | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "labels": labels if labels is not None else MANAGED},
            "data": {"value": data}}


def replicaset(namespace: str, tag: str, replicas: int, *, image: str = "echo:1", autoscaler: str = "hpa") -> dict:
    labels = {**MANAGED, keys.LABEL_TAG: tag}
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": tag, "namespace": namespace, "labels": labels,
                         "annotations": {keys.ANNOTATION_AUTOSCALER: autoscaler}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {keys.LABEL_TAG: tag}},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "echo", "image": image}]}}}}


def app_plan(namespace: str, *, replicas: int = 2) -> ClusterPlan:
    """One app with one tag: the kinds of §11.17 that exercise core, apps, autoscaling and upstream CRDs."""
    meta = {"namespace": namespace, "labels": MANAGED}
    return ClusterPlan((
        DesiredObject({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "echo", **meta}}),
        DesiredObject({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
                       "metadata": {"name": "service-account-token", **meta,
                                    "annotations": {keys.ANNOTATION_SERVICE_ACCOUNT_NAME: "echo"}}},
                      mode="create-only"),
        DesiredObject(configmap(namespace, "echo-config")),
        DesiredObject({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "echo", **meta},
                       "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}],
                                "selector": {keys.LABEL_APP: "echo"}}}),
        DesiredObject({"apiVersion": "networking.istio.io/v1alpha3", "kind": "VirtualService",
                       "metadata": {"name": "echo", **meta},
                       "spec": {"hosts": ["echo"], "http": [{"route": [{"destination": {"host": "echo"}}]}]}}),
        DesiredObject({"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
                       "metadata": {"name": "echo-canary-v1", **meta},
                       "spec": {"groups": [{"name": "canary", "rules": [{"alert": "x", "expr": "up == 0"}]}]}}),
        DesiredObject(replicaset(namespace, "v1", replicas), mode="scale-only"),
        DesiredObject({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                       "metadata": {"name": "v1", **meta},
                       "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "v1"},
                                "minReplicas": 1, "maxReplicas": 4}}),
    ), prune=(PruneScope((namespace,), (("v1", "ConfigMap"), ("apps/v1", "ReplicaSet")), {keys.LABEL_APP: "echo"}),))


def resource_versions(cluster, namespace: str, plan: ClusterPlan) -> dict[str, str]:
    """resourceVersion of every object of the plan, read with kubectl."""
    kinds = ",".join(sorted({f"{o.key.kind.lower()}.{o.key.group}".rstrip(".") for o in plan.objects}))
    listing = json.loads(cluster.kubectl("get", kinds, "-n", namespace, "-o", "json").stdout)
    found = {f"{i['kind']}/{i['metadata']['name']}": i["metadata"]["resourceVersion"] for i in listing["items"]}
    assert len(found) >= len(plan.objects), found
    return found


def test_a_second_apply_of_an_unchanged_plan_sends_no_request_to_any_cluster(connections, counter, namespace):
    applier = Applier(timeout=30)
    plan = app_plan(namespace)
    first = applier.apply([(c, plan) for c in connections])
    assert all(r.ok and len(r.applied) == len(plan.objects) for r in first.values()), first
    counter.start()
    second = applier.apply([(c, plan) for c in connections])
    assert counter.delta() == {"a": {}, "b": {}}
    assert all(len(r.unchanged) == len(plan.objects) and not r.applied for r in second.values()), second


def test_a_changed_object_is_the_only_one_written_again(connections, counter, namespace):
    applier = Applier()
    applier.apply([(c, app_plan(namespace)) for c in connections])
    changed = ClusterPlan([*app_plan(namespace).objects[:2], DesiredObject(configmap(namespace, "echo-config", "2")),
                           *app_plan(namespace).objects[3:]], app_plan(namespace).prune)
    counter.start()
    results = applier.apply([(c, changed) for c in connections])
    assert [r.applied for r in results.values()] == [(ObjectKey("", "ConfigMap", namespace, "echo-config"),)] * 2
    # one write per cluster, after one look at the live object (is it labelled ignore?); the prune scope is
    # not listed again because the desired set did not change
    assert counter.delta() == {"a": {"GET": 1, "APPLY": 1}, "b": {"GET": 1, "APPLY": 1}}


def test_a_new_object_is_written_before_its_changed_prune_scope_is_listed(connections, namespace, monkeypatch):
    """A new revision's ReplicaSet must not wait for the listing of every kind of its namespace (~20 LISTs per
    cluster when the desired set changes): the writes go first, the survey and the pruning after them."""
    applier = Applier()
    applier.apply([(c, app_plan(namespace)) for c in connections])
    sent: list[tuple[str, str, str]] = []
    real_send = applier_module.send

    def recording_send(connection, method, path, deadline, **kwargs):
        listing = any(name == "labelSelector" for name, _ in kwargs.get("query", ()))
        sent.append((connection.name, "LIST" if listing else method, path))
        return real_send(connection, method, path, deadline, **kwargs)

    monkeypatch.setattr(applier_module, "send", recording_send)
    grown = ClusterPlan([*app_plan(namespace).objects, DesiredObject(replicaset(namespace, "v2", 1), mode="scale-only")],
                        app_plan(namespace).prune)
    results = applier.apply([(c, grown) for c in connections])
    assert all(r.applied == (ObjectKey("apps", "ReplicaSet", namespace, "v2"),) for r in results.values()), results
    for cluster in ("a", "b"):
        requests = [(method, path) for name, method, path in sent if name == cluster]
        created = requests.index(("POST", f"/apis/apps/v1/namespaces/{namespace}/replicasets"))
        listed = [i for i, (method, _) in enumerate(requests) if method == "LIST"]
        assert listed and min(listed) > created, requests


def test_a_restarted_operator_reapplies_everything_once_without_changing_any_object(
        connections, control_plane, namespace):
    plan = app_plan(namespace)
    Applier().apply([(c, plan) for c in connections])
    before = resource_versions(control_plane.clusters["a"], namespace, plan)
    results = Applier().apply([(c, plan) for c in connections])  # a fresh process: no memory of past writes
    assert all(r.ok for r in results.values()), results
    assert resource_versions(control_plane.clusters["a"], namespace, plan) == before


def test_a_cluster_whose_apiserver_is_stopped_fails_alone_and_its_error_carries_no_credential(
        connections, control_plane, api_clients, namespace, caplog):
    caplog.set_level(logging.DEBUG)
    plan = app_plan(namespace)
    b = control_plane.clusters["b"]
    b.stop_apiserver()
    try:
        results = Applier(timeout=60).apply([(c, plan) for c in connections])
    finally:
        b.start_apiserver()
    assert results["a"].ok and len(results["a"].applied) == len(plan.objects)
    assert not results["b"].ok and not results["b"].applied
    assert len(results["b"].failed) == len(plan.objects)
    assert all("unreachable" in f.reason for f in results["b"].failed)
    assert b.token not in str(results["b"]) and b.token not in caplog.text
    assert client.AppsV1Api(api_clients["a"]).read_namespaced_replica_set("v1", namespace).spec.replicas == 2


def test_after_a_failed_pass_the_next_pass_writes_what_failed(connections, control_plane, namespace):
    applier, plan = Applier(timeout=60), app_plan(namespace)
    b = control_plane.clusters["b"]
    b.stop_apiserver()
    try:
        applier.apply([(c, plan) for c in connections])
    finally:
        b.start_apiserver()
    results = applier.apply([(c, plan) for c in connections])
    assert results["b"].ok and len(results["b"].applied) == len(plan.objects)
    assert not results["a"].applied


def test_wrong_credentials_fail_with_the_servers_reason_and_without_the_token(connect, control_plane, namespace, caplog):
    caplog.set_level(logging.DEBUG)
    a = control_plane.clusters["a"]
    bad_token = "wrong-token-" + "x" * 20
    connection = connect(a, token=bad_token)
    result = Applier().apply([(connection, app_plan(namespace))])["a"]
    assert not result.ok and "HTTP 401" in str(result.failed[0])
    assert bad_token not in str(result) and bad_token not in caplog.text


def test_pruning_removes_an_owned_object_no_longer_desired_and_never_an_unowned_lookalike(
        connections, api_clients, namespace):
    core = client.CoreV1Api(api_clients["a"])
    lookalike = {keys.LABEL_APP: "echo"}  # same app label, but not managed by picchu
    core.create_namespaced_config_map(namespace, configmap(namespace, "hand-made", labels=lookalike))
    applier = Applier()
    scope = PruneScope((namespace,), (("v1", "ConfigMap"),), {keys.LABEL_APP: "echo"})
    both = ClusterPlan([DesiredObject(configmap(namespace, "keep")), DesiredObject(configmap(namespace, "old"))],
                       [scope])
    applier.apply([(connections[0], both)])
    result = applier.apply([(connections[0], ClusterPlan([both.objects[0]], [scope]))])["a"]
    assert result.pruned == (ObjectKey("", "ConfigMap", namespace, "old"),)
    names = {i.metadata.name for i in core.list_namespaced_config_map(namespace).items}
    assert {"keep", "hand-made"} <= names and "old" not in names


def test_pruning_a_kind_whose_crd_is_not_installed_is_not_an_error(connections, namespace):
    scope = PruneScope((namespace,), (("example.com/v1", "Nothing"), ("v1", "ConfigMap")))
    result = Applier().apply([(connections[0], ClusterPlan([DesiredObject(configmap(namespace, "c"))], [scope]))])
    assert result["a"].ok and result["a"].applied


def test_an_object_of_a_kind_that_is_not_installed_fails_alone_and_names_the_kind(connections, namespace):
    missing = {"apiVersion": "example.com/v1", "kind": "Nothing", "metadata": {"name": "x", "namespace": namespace}}
    plan = ClusterPlan([DesiredObject(missing), DesiredObject(configmap(namespace, "c"))])
    result = Applier().apply([(connections[0], plan)])["a"]
    assert [f.key.kind for f in result.failed] == ["Nothing"] and "example.com/v1" in result.failed[0].reason
    assert result.applied == (ObjectKey("", "ConfigMap", namespace, "c"),)


def test_a_replicaset_template_is_written_once_and_an_autoscaled_count_is_kept(connections, api_clients, namespace):
    apps = client.AppsV1Api(api_clients["a"])
    applier = Applier()

    def apply(replicas: int, image: str = "echo:1") -> None:
        plan = ClusterPlan([DesiredObject(replicaset(namespace, "v1", replicas, image=image), mode="scale-only")])
        assert applier.apply([(connections[0], plan)])["a"].ok

    apply(3)
    assert apps.read_namespaced_replica_set("v1", namespace).spec.replicas == 3
    apps.patch_namespaced_replica_set_scale("v1", namespace, {"spec": {"replicas": 5}})  # the HPA scales up
    apply(4, image="echo:2")
    rs = apps.read_namespaced_replica_set("v1", namespace)
    assert rs.spec.replicas == 5 and rs.spec.template.spec.containers[0].image == "echo:1"
    apply(0)  # retired
    assert apps.read_namespaced_replica_set("v1", namespace).spec.replicas == 0
    apply(4)  # revived from zero
    assert apps.read_namespaced_replica_set("v1", namespace).spec.replicas == 4


def test_a_wpa_replicaset_gets_its_computed_count_on_create_and_is_never_rescaled(connections, api_clients, namespace):
    apps = client.AppsV1Api(api_clients["a"])
    applier = Applier()
    for replicas in (3, 0):
        plan = ClusterPlan([DesiredObject(replicaset(namespace, "w", replicas, autoscaler="wpa"), mode="scale-only")])
        assert applier.apply([(connections[0], plan)])["a"].ok
        assert apps.read_namespaced_replica_set("w", namespace).spec.replicas == 3


def test_a_create_only_secret_keeps_the_data_someone_else_filled_in(connections, api_clients, namespace):
    core = client.CoreV1Api(api_clients["a"])
    plan = app_plan(namespace)
    Applier().apply([(connections[0], plan)])
    filled = {"token": base64.b64encode(b"issued-by-the-token-controller").decode()}
    core.patch_namespaced_secret("service-account-token", namespace, {"data": filled})
    result = Applier().apply([(connections[0], plan)])["a"]  # a restart re-sends everything once
    assert ObjectKey("", "Secret", namespace, "service-account-token") in result.unchanged
    assert core.read_namespaced_secret("service-account-token", namespace).data == filled


def test_rotated_credentials_rebuild_the_client_and_the_next_pass_writes_again(connect, pool, control_plane, namespace):
    a, applier = control_plane.clusters["a"], Applier()
    plan = ClusterPlan([DesiredObject(configmap(namespace, "c"))])
    first = connect(a, version="1")
    applier.apply([(first, plan)])
    rotated = connect(a, version="2")
    assert rotated.api is not first.api and len(pool) == 1
    assert applier.apply([(rotated, plan)])["a"].applied == (ObjectKey("", "ConfigMap", namespace, "c"),)


def test_a_cluster_that_accepts_connections_but_never_answers_fails_within_its_budget(
        connect, control_plane, connections, namespace):
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel completes TCP handshakes; nobody ever speaks TLS back
    try:
        hanging = connect(control_plane.clusters["a"], name="silent",
                          server=f"https://127.0.0.1:{silent.getsockname()[1]}")
        # the budget is generous so that b finishes on a loaded machine; the silent cluster uses all of it
        results = Applier(timeout=15).apply([(hanging, app_plan(namespace)), (connections[1], app_plan(namespace))])
    finally:
        silent.close()
    assert results["b"].ok
    assert not results["silent"].ok and not results["silent"].applied


def test_a_remembered_plan_settles_without_a_request_only_while_every_object_is_remembered(
        connections, counter, namespace):
    plan = app_plan(namespace)
    remembered = RememberedPlan.of(plan)
    now = [0.0]
    applier = Applier(remember_for=900, clock=lambda: now[0])
    assert applier.settle_unchanged(connections[0], remembered) is None  # nothing written yet
    assert all(r.ok for r in applier.apply([(c, plan) for c in connections]).values())
    counter.start()
    settled = applier.settle_unchanged(connections[0], remembered)
    assert settled is not None and settled.ok and not settled.applied
    assert set(settled.unchanged) == {o.key for o in plan.objects}
    assert counter.delta() == {"a": {}, "b": {}}

    changed = RememberedPlan.of(ClusterPlan((*plan.objects[:-1], DesiredObject(configmap(namespace, "other"))),
                                            plan.prune))
    assert applier.settle_unchanged(connections[0], changed) is None  # an object never written with that content
    applier.forget_objects(connections[0], [plan.objects[2].key])
    assert applier.settle_unchanged(connections[0], remembered) is None  # forgotten: must be checked
    assert applier.settle_unchanged(connections[1], remembered) is not None  # the other cluster still remembers
    now[0] += 901
    assert applier.settle_unchanged(connections[1], remembered) is None  # expired: must be checked


def test_an_object_deleted_by_hand_is_restored_once_the_memory_of_writing_it_has_expired(
        connections, api_clients, namespace):
    core = client.CoreV1Api(api_clients["a"])
    plan = ClusterPlan([DesiredObject(configmap(namespace, "c"))])
    applier = Applier(remember_for=0)  # every pass distrusts its past writes
    applier.apply([(connections[0], plan)])
    core.delete_namespaced_config_map("c", namespace)
    assert applier.apply([(connections[0], plan)])["a"].applied
    assert core.read_namespaced_config_map("c", namespace).data == {"value": "1"}


def test_an_expired_memory_of_an_unchanged_object_costs_one_read_and_no_write(connections, counter, namespace):
    plan = ClusterPlan([DesiredObject(configmap(namespace, "c"))])
    now = [0.0]
    applier = Applier(remember_for=900, clock=lambda: now[0])
    applier.apply([(connections[0], plan)])
    now[0] += 901  # the memory of the write expired
    counter.start()
    again = applier.apply([(connections[0], plan)])["a"]
    assert again.ok and not again.applied and again.unchanged
    assert counter.delta()["a"] == {"GET": 1}  # a fleet at rest is re-read now and then, never rewritten


def test_an_unchanged_prune_scope_is_listed_again_only_after_resurvey_every_not_with_each_object_check(
        connections, counter, namespace):
    scope = PruneScope((namespace,), (("v1", "ConfigMap"), ("v1", "Secret")), {keys.LABEL_APP: "echo"})
    plan = ClusterPlan([DesiredObject(configmap(namespace, "c"))], [scope])
    now = [0.0]
    applier = Applier(remember_for=900, resurvey_every=3600, clock=lambda: now[0])
    assert applier.apply([(connections[0], plan)])["a"].ok
    for now[0] in (901.0, 1802.0):  # each time the object's memory expired; the scope's listing is trusted
        counter.start()
        assert applier.apply([(connections[0], plan)])["a"].ok
        assert counter.delta()["a"] == {"GET": 1}  # the object is checked; nothing is listed
    now[0] = 3700.0  # the listing expired too: one LIST per kind of the scope
    counter.start()
    assert applier.apply([(connections[0], plan)])["a"].ok
    assert counter.delta()["a"].get("LIST") == 2


def test_under_a_drift_budget_expired_checks_read_at_its_rate_and_every_object_is_healed_in_turn(
        connections, counter, api_clients, namespace):
    core = client.CoreV1Api(api_clients["a"])
    plans = [ClusterPlan([DesiredObject(configmap(namespace, f"c{app}-{i}")) for i in range(4)]) for app in range(5)]
    now = [0.0]
    applier = Applier(remember_for=900, drift_budget=DriftBudget(2, clock=lambda: now[0]), clock=lambda: now[0])
    for plan in plans:
        assert applier.apply([(connections[0], plan)])["a"].applied
    core.patch_namespaced_config_map("c4-3", namespace, {"data": {"value": "edited by hand"}})
    now[0] = 901.0  # all 20 memories expired; the budget holds 2 reads
    reads_per_second = []
    while now[0] < 960:
        counter.start()
        for plan in plans:  # every app's pass, once a second
            assert applier.apply([(connections[0], plan)])["a"].ok
        reads_per_second.append(counter.delta()["a"].get("GET", 0))
        now[0] += 1.0
    assert max(reads_per_second) <= 2  # not 20 at once: the other checks waited, their objects trusted
    assert sum(reads_per_second) == 20  # and each object was read back once, in turn
    assert core.read_namespaced_config_map("c4-3", namespace).data == {"value": "1"}  # healed in its turn


def test_a_fleet_too_large_for_the_drift_budget_is_checked_less_often_every_object_in_turn(
        connections, namespace, monkeypatch):
    """20 objects trusted for 100 s would need 0.2 reads per second; at 0.1 each lifetime is stretched alike
    (to 250 s), so every object is still read back once per lifetime, not the first objects of each plan
    over and over while the later ones never come up."""
    plans = [ClusterPlan([DesiredObject(configmap(namespace, f"c{app}-{i}")) for i in range(4)]) for app in range(5)]
    now = [0.0]
    applier = Applier(remember_for=100, drift_budget=DriftBudget(0.1, clock=lambda: now[0]), clock=lambda: now[0])
    for plan in plans:
        applier.apply([(connections[0], plan)])
    reads: dict[str, list[float]] = {}
    real_send = applier_module.send

    def recording_send(connection, method, path, deadline, **kwargs):
        reads.setdefault(path.rsplit("/", 1)[-1], []).append(now[0])
        return real_send(connection, method, path, deadline, **kwargs)

    monkeypatch.setattr(applier_module, "send", recording_send)
    while now[0] < 2000:
        now[0] += 5.0  # every app's pass, every 5 s
        for plan in plans:
            assert applier.apply([(connections[0], plan)])["a"].ok
    assert sum(map(len, reads.values())) <= 0.1 * 2000 + 1  # within the budget
    assert min(times[0] for times in reads.values()) > 0.75 * 250 - 5  # nothing checked before its lifetime
    assert len(reads) == 20 and min(map(len, reads.values())) >= 6  # 2000 s = 8 lifetimes: everyone in turn


def test_a_changed_object_is_written_at_once_however_many_checks_wait_for_the_drift_budget(
        connections, counter, namespace):
    now = [0.0]
    budget = DriftBudget(1, clock=lambda: now[0])
    applier = Applier(remember_for=900, drift_budget=budget, clock=lambda: now[0])
    plan = ClusterPlan([DesiredObject(configmap(namespace, "c")), DesiredObject(configmap(namespace, "d"))])
    applier.apply([(connections[0], plan)])
    now[0] = 901.0
    assert budget.spend(10)  # the budget is spent for the next ten seconds
    counter.start()
    changed = ClusterPlan([DesiredObject(configmap(namespace, "c", data="2")), plan.objects[1]])
    result = applier.apply([(connections[0], changed)])["a"]
    assert [key.name for key in result.applied] == ["c"] and [key.name for key in result.unchanged] == ["d"]
    assert counter.delta()["a"] == {"GET": 1, "APPLY": 1}  # the new content: read and written; "d" waits


def test_a_check_waiting_for_the_drift_budget_outlives_the_sweep_so_it_is_read_not_rewritten(
        connections, counter, namespace):
    now = [0.0]
    budget = DriftBudget(1, clock=lambda: now[0])
    applier = Applier(remember_for=900, drift_budget=budget, clock=lambda: now[0])
    plan = ClusterPlan([DesiredObject(configmap(namespace, "c"))])
    applier.apply([(connections[0], plan)])
    now[0] = 901.0
    budget.spend(1000)  # e.g. a fleet of other checks ahead of this one
    assert applier.settle_unchanged(connections[0], RememberedPlan.of(plan)) is not None  # due, waiting: trusted
    now[0] = 1900.0  # past twice remember_for, when a sweep forgets writes no one asks about
    assert applier.apply([(connections[0], plan)])["a"].unchanged  # swept now; still waiting (budget in debt)
    now[0] = 1902.0
    counter.start()
    assert applier.apply([(connections[0], plan)])["a"].unchanged
    assert counter.delta()["a"] == {"GET": 1}  # its check, in its turn: read back, not written again


def test_an_unchanged_prune_scope_is_listed_again_only_when_the_drift_budget_can_pay_a_list_per_kind(
        connections, counter, namespace):
    scope = PruneScope((namespace,), (("v1", "ConfigMap"), ("v1", "Secret")), {keys.LABEL_APP: "echo"})
    plan = ClusterPlan([], [scope])
    now = [0.0]
    budget = DriftBudget(1, clock=lambda: now[0])
    applier = Applier(remember_for=900, resurvey_every=3600, drift_budget=budget, clock=lambda: now[0])
    assert applier.apply([(connections[0], plan)])["a"].ok  # the first listing never waits
    now[0] = 3700.0
    budget.spend(5)
    counter.start()
    assert applier.apply([(connections[0], plan)])["a"].ok
    assert counter.delta()["a"] == {}  # due, but the budget is in debt: the listing waits
    now[0] = 3705.0
    counter.start()
    assert applier.apply([(connections[0], plan)])["a"].ok
    assert counter.delta()["a"].get("LIST") == 2
    assert not budget.has_room()  # it paid one read per kind listed


def test_an_object_edited_by_hand_is_restored_once_the_memory_of_writing_it_has_expired(
        connections, api_clients, namespace):
    core = client.CoreV1Api(api_clients["a"])
    plan = ClusterPlan([DesiredObject(configmap(namespace, "c"))])
    now = [0.0]
    applier = Applier(remember_for=900, clock=lambda: now[0])
    applier.apply([(connections[0], plan)])
    now[0] += 901
    core.patch_namespaced_config_map("c", namespace, {"data": {"value": "edited by hand"}})
    assert applier.apply([(connections[0], plan)])["a"].applied
    assert core.read_namespaced_config_map("c", namespace).data == {"value": "1"}


def test_a_scale_only_replicaset_deleted_by_hand_is_created_again_on_the_next_change(
        connections, api_clients, namespace):
    apps = client.AppsV1Api(api_clients["a"])
    applier = Applier()
    for replicas in (3, 4):
        plan = ClusterPlan([DesiredObject(replicaset(namespace, "v1", replicas), mode="scale-only")])
        result = applier.apply([(connections[0], plan)])["a"]
        assert result.ok, [str(f) for f in result.failed]
        if replicas == 3:
            apps.delete_namespaced_replica_set("v1", namespace)
    assert apps.read_namespaced_replica_set("v1", namespace).spec.replicas == 4


def test_an_object_a_human_marked_ignore_is_neither_rewritten_nor_pruned(connections, api_clients, namespace):
    core = client.CoreV1Api(api_clients["a"])
    scope = PruneScope((namespace,), (("v1", "ConfigMap"),), {keys.LABEL_APP: "echo"})
    Applier().apply([(connections[0], ClusterPlan([DesiredObject(configmap(namespace, "c"))], [scope]))])
    core.patch_namespaced_config_map("c", namespace, {"metadata": {"labels": {keys.LABEL_IGNORE: "true"}},
                                                      "data": {"value": "hand-tuned"}})
    restarted = Applier()
    changed = restarted.apply([(connections[0], ClusterPlan([DesiredObject(configmap(namespace, "c", "2"))], [scope]))])
    assert changed["a"].ok and not changed["a"].applied
    dropped = restarted.apply([(connections[0], ClusterPlan([], [scope]))])
    assert dropped["a"].ok and not dropped["a"].pruned
    assert core.read_namespaced_config_map("c", namespace).data == {"value": "hand-tuned"}


def test_bad_manifests_fail_alone_with_a_reason_and_never_address_another_path(connections, api_clients, namespace):
    traversal = configmap(namespace, "../../../secrets/x")
    not_json = {**configmap(namespace, "set-valued"), "data": {"value": {"a", "b"}}}
    no_namespace = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nowhere"}}
    plan = ClusterPlan([DesiredObject(traversal), DesiredObject(not_json), DesiredObject(no_namespace),
                        DesiredObject(configmap(namespace, "fine"))])
    result = Applier().apply([(connections[0], plan)])["a"]
    assert [f.key.name for f in result.failed] == ["../../../secrets/x", "set-valued", "nowhere"], [str(f) for f in result.failed]
    assert "metadata.namespace" in result.failed[2].reason
    assert result.applied == (ObjectKey("", "ConfigMap", namespace, "fine"),)
    names = {i.metadata.name for i in client.CoreV1Api(api_clients["a"]).list_namespaced_config_map(namespace).items}
    assert "fine" in names and "set-valued" not in names


def test_many_passes_at_once_with_their_memory_forgotten_meanwhile_all_succeed_and_then_settle(
        connections, counter, namespace):
    """A pass reads and writes the applier's memory without a lock (a lock per object was a convoy at 500 apps),
    and forgetting iterates over a copy: neither may break a concurrent pass."""
    def plan(app: str) -> ClusterPlan:
        labels = {keys.LABEL_MANAGED_BY: keys.MANAGED_BY, keys.LABEL_APP: app}
        return ClusterPlan(tuple(DesiredObject(configmap(namespace, f"{app}-{i}", labels=labels)) for i in range(3)),
                           prune=(PruneScope((namespace,), (("v1", "ConfigMap"),), {keys.LABEL_APP: app}),))

    applier = Applier(timeout=60)
    plans = [plan(f"app{n}") for n in range(12)]
    done = threading.Event()

    def forget_repeatedly() -> None:
        while not done.is_set():
            applier.forget()

    forgetter = threading.Thread(target=forget_repeatedly)
    forgetter.start()
    try:
        with ThreadPoolExecutor(max_workers=len(plans)) as executor:
            rounds = list(executor.map(lambda p: [applier.apply([(c, p) for c in connections]) for _ in range(3)],
                                       plans))
    finally:
        done.set()
        forgetter.join()
    failed = [r for results in rounds for by_cluster in results for r in by_cluster.values() if not r.ok]
    assert not failed
    for p in plans:  # the memory is whole again after one more pass each
        applier.apply([(c, p) for c in connections])
    counter.start()
    settled = [applier.apply([(c, p) for c in connections]) for p in plans]
    assert counter.delta() == {"a": {}, "b": {}}
    assert all(len(r.unchanged) == 3 for results in settled for r in results.values())
