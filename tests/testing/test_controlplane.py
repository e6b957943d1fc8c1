"""The local control plane is a set of real, separate Kubernetes API servers with real upstream CRDs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, dynamic, watch

from picchu.testing.controlplane import ControlPlane
from picchu.testing.requests import HOUSEKEEPING, RequestCounter, delta
from picchu.testing.upstream_crds import (
    CrdInstallError,
    install_crds_from_dir,
    load_pins,
    upstream_crd_documents,
)

ISTIO = ("networking.istio.io", "v1alpha3", "virtualservices")
KEDA = ("keda.sh", "v1alpha1", "scaledobjects")


def _virtual_service(name: str, weight: Any) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1alpha3",
        "kind": "VirtualService",
        "metadata": {"name": name},
        "spec": {"hosts": ["app.example.com"],
                 "http": [{"route": [{"destination": {"host": "app"}, "weight": weight}]}]},
    }


def _config_map(name: str, value: str) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data={"key": value})


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[-1][:1] != "Z"


def test_an_object_created_in_cluster_a_is_invisible_in_cluster_b(namespace, api_clients):
    client.CoreV1Api(api_clients["a"]).create_namespaced_config_map(namespace, _config_map("only-in-a", "1"))

    names_in_a = [cm.metadata.name for cm in client.CoreV1Api(api_clients["a"]).list_namespaced_config_map(
        namespace).items]
    names_in_b = [cm.metadata.name for cm in client.CoreV1Api(api_clients["b"]).list_namespaced_config_map(
        namespace).items]
    assert "only-in-a" in names_in_a
    assert "only-in-a" not in names_in_b


def test_the_apiserver_rejects_a_virtual_service_that_violates_istios_schema(namespace, api_clients):
    custom = client.CustomObjectsApi(api_clients["a"])
    custom.create_namespaced_custom_object(*ISTIO[:2], namespace, ISTIO[2], _virtual_service("good", 100))

    with pytest.raises(client.ApiException) as rejected:
        custom.create_namespaced_custom_object(*ISTIO[:2], namespace, ISTIO[2],
                                               _virtual_service("bad", "all of it"))

    assert rejected.value.status == 422
    assert "weight" in str(rejected.value.body)


def test_every_pinned_upstream_crd_is_established_in_every_cluster(api_clients):
    expected = {crd["metadata"]["name"] for crd in upstream_crd_documents()}
    sources = {source.module for source in load_pins()}

    assert len(sources) == 8 and len(expected) == 13
    for api in api_clients.values():
        established = {
            crd.metadata.name for crd in client.ApiextensionsV1Api(api).list_custom_resource_definition().items
            if any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or [])
        }
        assert expected <= established


def test_a_second_identical_server_side_apply_changes_nothing(namespace, control_plane, tmp_path):
    api = control_plane.clusters["a"].api_client()
    resources = dynamic.DynamicClient(api, cache_file=str(tmp_path / "discovery.json")).resources
    services = resources.get(api_version="networking.istio.io/v1alpha3", kind="VirtualService")
    body = _virtual_service("applied", 100)
    counter = RequestCounter(control_plane.clusters["a"])
    before = counter.snapshot()

    first = services.server_side_apply(body=body, namespace=namespace, field_manager="picchu", force_conflicts=True)
    second = services.server_side_apply(body=body, namespace=namespace, field_manager="picchu", force_conflicts=True)

    assert [entry.manager for entry in first.metadata.managedFields] == ["picchu"]
    assert second.metadata.resourceVersion == first.metadata.resourceVersion
    body["spec"]["http"][0]["route"][0]["weight"] = 50
    third = services.server_side_apply(body=body, namespace=namespace, field_manager="picchu", force_conflicts=True)
    assert third.metadata.resourceVersion != first.metadata.resourceVersion
    assert third.spec.http[0].route[0].weight == 50
    counted = delta(before, counter.snapshot()).by_verb(group="networking.istio.io", resource="virtualservices")
    assert counted == {"APPLY": 3}


def test_a_watch_sees_an_update(namespace, api_clients):
    core = client.CoreV1Api(api_clients["b"])
    created = core.create_namespaced_config_map(namespace, _config_map("watched", "before"))
    core.patch_namespaced_config_map("watched", namespace, {"data": {"key": "after"}})

    events = watch.Watch().stream(core.list_namespaced_config_map, namespace,
                                  resource_version=created.metadata.resource_version, timeout_seconds=10)
    seen = next((event["type"], event["object"].data["key"]) for event in events)

    assert seen == ("MODIFIED", "after")


def test_the_status_subresource_ignores_spec_changes(namespace, api_clients):
    custom = client.CustomObjectsApi(api_clients["a"])
    group, version, plural = KEDA
    scaled_object = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "worker"},
                     "spec": {"scaleTargetRef": {"name": "worker"}, "maxReplicaCount": 5,
                              "triggers": [{"type": "cpu", "metadata": {"value": "50"}}]}}
    custom.create_namespaced_custom_object(group, version, namespace, plural, scaled_object)

    custom.patch_namespaced_custom_object_status(
        group, version, namespace, plural, "worker",
        {"spec": {"maxReplicaCount": 99}, "status": {"originalReplicaCount": 3}})
    custom.patch_namespaced_custom_object(group, version, namespace, plural, "worker",
                                          {"status": {"originalReplicaCount": 7}})

    stored = custom.get_namespaced_custom_object(group, version, namespace, plural, "worker")
    assert stored["spec"]["maxReplicaCount"] == 5
    assert stored["status"]["originalReplicaCount"] == 3


def test_the_request_counter_sees_exactly_the_writes_made(namespace, control_plane, api_clients):
    counter = RequestCounter(control_plane.clusters["a"])
    core = client.CoreV1Api(api_clients["a"])
    before = counter.snapshot()

    for index in range(3):
        core.create_namespaced_config_map(namespace, _config_map(f"counted-{index}", "v"))
    core.patch_namespaced_config_map("counted-0", namespace, {"data": {"key": "w"}})
    core.delete_namespaced_config_map("counted-1", namespace)
    core.list_namespaced_config_map(namespace)
    change = delta(before, counter.snapshot())

    assert change.by_verb(resource="configmaps") == {"POST": 3, "PATCH": 1, "DELETE": 1, "LIST": 1}
    assert change.without(*HOUSEKEEPING).writes() == 5


def test_reading_the_metrics_is_not_counted_as_a_request(control_plane):
    # The delivery cluster: no machinery runs there (in `a` and `b` an earlier e2e test may have started it,
    # whose requests between the two snapshots are a different subject: see tests/testing/test_machinery.py).
    counter = RequestCounter(control_plane.clusters["delivery"])

    first = counter.snapshot()
    second = counter.snapshot()

    assert delta(first, second).without(*HOUSEKEEPING).total() == 0


def test_a_stopped_apiserver_comes_back_on_the_same_port_with_its_data(namespace, control_plane, api_clients):
    cluster = control_plane.clusters["b"]
    core = client.CoreV1Api(api_clients["b"])
    core.create_namespaced_config_map(namespace, _config_map("survivor", "kept"))
    server = cluster.server

    cluster.stop_apiserver()
    try:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", cluster.port), timeout=3).close()
    finally:
        cluster.start_apiserver()

    assert cluster.server == server
    assert core.read_namespaced_config_map("survivor", namespace).data == {"key": "kept"}


def test_crds_from_a_directory_are_installed_and_served(namespace, control_plane, tmp_path):
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.test.picchu.dev"},
           "spec": {"group": "test.picchu.dev", "scope": "Namespaced",
                    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                    "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                        "type": "object",
                        "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}}]}}
    import yaml

    (tmp_path / "widgets.yaml").write_text(yaml.safe_dump(crd))
    cluster = control_plane.clusters["a"]

    assert install_crds_from_dir(cluster, tmp_path) == ["widgets.test.picchu.dev"]
    applied = cluster.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(
        {"apiVersion": "test.picchu.dev/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 3}}))
    assert "widget.test.picchu.dev/w created" in applied.stdout


def test_a_crd_the_apiserver_rejects_is_reported_with_its_name_and_reason(control_plane, tmp_path):
    broken = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
              "metadata": {"name": "gadgets.test.picchu.dev"},
              "spec": {"group": "test.picchu.dev", "scope": "Namespaced",
                       "names": {"plural": "gadgets", "kind": "Gadget"},
                       "versions": [{"name": "v1", "served": True, "storage": True}]}}
    (tmp_path / "gadgets.json").write_text(json.dumps(broken))

    with pytest.raises(CrdInstallError) as rejected:
        install_crds_from_dir(control_plane.clusters["a"], tmp_path)

    assert "gadgets.test.picchu.dev" in str(rejected.value)
    assert "schema" in str(rejected.value)


def test_a_control_plane_stops_every_process_it_started(tmp_path, control_plane_binaries):
    plane = ControlPlane(["x"], workdir=tmp_path, binaries=control_plane_binaries)
    with plane:
        plane.add_cluster("y")
        plane.clusters["x"].kubectl("create", "configmap", "only-in-x")
        in_y = plane.clusters["y"].kubectl("get", "configmap", "only-in-x", check=False)
        via_combined_kubeconfig = plane.clusters["x"].kubectl(
            "--kubeconfig", str(plane.kubeconfig_path), "--context", "y", "get", "namespace", "default")
        pids = plane.pids()

    assert in_y.returncode != 0 and "NotFound" in in_y.stderr
    assert "default" in via_combined_kubeconfig.stdout
    assert set(pids) == {"etcd", "kube-apiserver[x]", "kube-apiserver[y]"}
    assert not [name for name, pid in pids.items() if _pid_alive(pid)]


def test_an_apiserver_whose_port_is_taken_starts_on_another_port(tmp_path, control_plane_binaries, monkeypatch):
    from picchu.testing.controlplane import cluster as cluster_module

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    taken = holder.getsockname()[1]
    offered = iter([taken])
    real_free_port = cluster_module.free_port
    monkeypatch.setattr(cluster_module, "free_port", lambda: next(offered, None) or real_free_port())
    try:
        with ControlPlane(["x"], workdir=tmp_path, binaries=control_plane_binaries) as plane:
            port = plane.clusters["x"].port
            answer = plane.clusters["x"].get("/readyz")
            log = plane.clusters["x"].log_path.read_text()
    finally:
        holder.close()

    assert "address already in use" in log
    assert port != taken
    assert answer == (200, b"ok")


@pytest.mark.parametrize("signal_to_send", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_the_up_command_leaves_no_process_behind_when_stopped(tmp_path, control_plane_binaries, signal_to_send):
    command = [sys.executable, "-m", "picchu.testing.controlplane", "up", "--clusters", "one",
               "--no-crds", "--dir", str(tmp_path)]
    runner = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert runner.stdout is not None
    output = []
    for line in runner.stdout:
        output.append(line)
        if "Press Ctrl-C" in line:
            break
    pids = [int(line.split("pid")[1].split()[0]) for line in output if " pid " in line]
    assert len(pids) == 2, "".join(output)

    runner.send_signal(signal_to_send)
    runner.wait(timeout=60)
    deadline = time.monotonic() + 60
    while any(_pid_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)

    assert [pid for pid in pids if _pid_alive(pid)] == []


def test_a_service_account_token_is_issued_by_the_apiserver_bound_by_rbac_and_audited(namespace, control_plane):
    from kubernetes import config

    from picchu.testing import audit

    cluster = control_plane.clusters["a"]
    core = client.CoreV1Api(cluster.api_client())
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "reader"}})
    token = cluster.service_account_token(namespace, "reader", seconds=600)
    api = config.new_client_from_config_dict(cluster.kubeconfig_for_token(token, "reader"), persist_config=False)
    with pytest.raises(client.ApiException) as refused:
        client.CoreV1Api(api).list_namespaced_config_map(namespace)
    assert refused.value.status == 403, "RBAC is on and the account has no role yet"
    rbac = client.RbacAuthorizationV1Api(cluster.api_client())
    rbac.create_namespaced_role(namespace, {"metadata": {"name": "reader"}, "rules": [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}]})
    rbac.create_namespaced_role_binding(namespace, {"metadata": {"name": "reader"}, "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"}, "subjects": [
        {"kind": "ServiceAccount", "name": "reader", "namespace": namespace}]})
    user = f"system:serviceaccount:{namespace}:reader"

    def allowed() -> bool:
        try:
            client.CoreV1Api(api).list_namespaced_config_map(namespace)
            return True
        except client.ApiException:
            return False

    deadline = time.monotonic() + 60
    while not allowed():
        assert time.monotonic() < deadline, "the RoleBinding never took effect"
        time.sleep(0.5)
    requests, _ = audit.read_requests(cluster.audit_log_path)
    mine = [(r.verb, r.resource, r.code) for r in requests if r.user == user]
    assert ("list", "configmaps", 403) in mine and ("list", "configmaps", 200) in mine
    assert not [r for r in requests if r.user.startswith("picchu-admin")], "the admin's setup is not audited"
