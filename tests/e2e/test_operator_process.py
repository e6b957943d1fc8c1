"""The operator process as a platform team runs it: metrics, health probes, leader election, logs, resilience.

Every test starts the real `picchu run` (through `OperatorProcess`) against the local control plane and reads
only what operations people read: the scraped metrics text, the health endpoints, the Lease, the log lines,
and the ReleaseManager status.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

import pytest
from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

from picchu import keys
from picchu.release.states import STATES
from picchu.testing.builders import revision_manifest
from picchu.testing.fleet import OperatorProcess, cluster_manifests, kubectl_apply, wait_for
from tests.e2e.conftest import TARGETS, World

pytestmark = pytest.mark.e2e
LEASE = "de705aec.picchu.medium.engineering"
Samples = dict[str, list[tuple[dict[str, str], float]]]


def _release(world: World, tag: str, minutes: int = 0) -> None:
    world.revision(tag, minutes=minutes)
    world.wait(lambda: world.state(tag) == "released", timeout=240, message=f"{tag} released")
    for cluster in TARGETS:
        world.wait(lambda c=cluster: world.weights(c) == {tag: 100}, message=f"{tag} at 100% on {cluster}")


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def _scrape(operator: OperatorProcess) -> Samples:
    """{sample name: [(labels, value)]} from the operator's metrics endpoint, parsed as Prometheus does."""
    with urllib.request.urlopen(operator.metrics_url, timeout=5) as response:
        text = response.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def _values(samples: Samples, name: str, **labels: str) -> list[float]:
    return [v for found, v in samples.get(name, []) if all(found.get(k) == w for k, w in labels.items())]


def _lease_holder(world: World) -> str | None:
    lease = client.CoordinationV1Api(world.apis["delivery"]).read_namespaced_lease(LEASE, world.namespace)
    return lease.spec.holder_identity if lease.spec else None


# --- metrics ---------------------------------------------------------------------------------------------

def test_the_metrics_endpoint_serves_picchus_metrics_after_a_rollout(world: World) -> None:
    world.register()
    operator = world.start_operator()
    _release(world, "v1")
    _release(world, "v2", minutes=5)
    world.wait(lambda: world.state("v1") == "retired", message="v1 retired")
    app = world.app

    histograms = ("picchu_git_create_latency", "picchu_revision_deploy_latency", "picchu_revision_release_latency")

    def counted() -> Samples | None:
        # Latencies are observed the pass after a state is reached, so wait for both revisions' observations.
        samples = _scrape(operator)
        retired = _values(samples, "picchu_incarnation_count", app=app, target="production", state="retired")
        observed = [_values(samples, f"{h}_count", app=app, target="production") for h in histograms]
        return samples if retired == [1.0] and all(o and o[0] >= 2 for o in observed) else None

    samples = world.wait(counted, message="v1 retired and both revisions' latencies observed")
    counts = {labels["state"]: value for labels, value in samples["picchu_incarnation_count"]
              if labels["app"] == app and labels["target"] == "production"}
    assert set(counts) == set(STATES), "every one of the 18 states has a series, zeros included"
    assert counts["released"] == 1 and counts["retired"] == 1
    assert sum(counts.values()) == 2

    weights = {labels["tag"]: value for labels, value in samples["picchu_revision_release_weight"]
               if labels["app"] == app and labels["target"] == "production"}
    assert weights.get("v2") == 100
    assert weights.get("v1", 0) == 0, "a retired revision does not keep its old weight"

    for histogram in histograms:
        observed = _values(samples, f"{histogram}_count", app=app, target="production")
        assert observed == [2.0], f"{histogram} observed once per revision: {observed}"
    # The commits are 55 and 60 minutes old when first seen: both land between the 3240 and 9720 buckets.
    assert _values(samples, "picchu_git_create_latency_bucket", app=app, target="production", le="3240.0") == [0.0]
    assert _values(samples, "picchu_git_create_latency_bucket", app=app, target="production", le="9720.0") == [2.0]

    intervals = _values(samples, "picchu_release_manager_reconcile_interval_count", app=app, target="production")
    assert intervals and intervals[0] > 2, "every ReleaseManager pass after the first records its interval"
    assert _values(samples, "picchu_revision_failed", app=app, tag="v2") == [0.0]
    oldest = {(labels["state"], labels["revision"]): value
              for labels, value in samples["picchu_revision_oldest_age_seconds"]
              if labels.get("app") == app}
    assert oldest[("released", "v2")] >= 0 and oldest[("retired", "v1")] >= 0
    assert not any(labels.get("revision") == "" for labels, _ in samples["picchu_revision_oldest_age_seconds"]), \
        "an empty state has no series (no revision=\"\" zeros)"
    for histogram in histograms:  # the conventional name beside Picchu's, with the same observations
        assert _values(samples, f"{histogram}_seconds_count", app=app, target="production") == [2.0]
    assert not [name for name in samples if name.endswith("_created")]
    assert samples.get("picchu_build_info") and samples.get("process_resident_memory_bytes")
    assert any(labels.get("name") == "releasemanagers" for labels, _ in samples.get("workqueue_depth", []))
    assert sum(v for labels, v in samples.get("picchu_cluster_requests_total", []) if labels.get("method") == "PATCH") > 0
    assert _values(samples, "leader_election_master_status") == [1.0]


# --- health ----------------------------------------------------------------------------------------------

def test_liveness_and_readiness_answer_200_once_the_operator_runs(world: World) -> None:
    world.register()
    operator = world.start_operator()
    world.wait(lambda: _status(operator.health_url + "/readyz") == 200, timeout=120, message="/readyz 200")
    world.wait(lambda: _status(operator.health_url + "/healthz") == 200, timeout=60, message="/healthz 200")
    assert _status(operator.health_url + "/nothing") == 404
    _release(world, "v1")
    assert operator.running


# --- leader election -------------------------------------------------------------------------------------

def test_two_replicas_elect_one_leader_and_the_follower_takes_over_when_it_stops(world: World) -> None:
    world.register()
    replicas = [world.new_operator("--enable-leader-election").start() for _ in range(2)]
    try:
        ready = world.wait(lambda: [r for r in replicas if _status(r.health_url + "/readyz") == 200],
                           timeout=120, message="one replica ready")
        assert len(ready) == 1
        leader = ready[0]
        follower = next(r for r in replicas if r is not leader)
        world.operator = leader  # failure messages show the leader's log
        assert wait_for(lambda: _status(follower.health_url + "/healthz") == 200, 60, message="follower live")
        assert _status(follower.health_url + "/readyz") == 503, "the follower is not ready while it waits"
        holder = _lease_holder(world)
        assert holder, "the Lease names its holder"
        _release(world, "v1")
        assert _status(follower.health_url + "/readyz") == 503
        assert _lease_holder(world) == holder, "the leader keeps the Lease"

        leader.stop()
        assert _lease_holder(world) != holder, "a leader stopped gracefully hands the Lease back at once"
        world.operator = follower
        world.wait(lambda: _lease_holder(world) not in (None, holder), timeout=120,
                   message="the follower acquires the Lease")
        world.wait(lambda: _status(follower.health_url + "/readyz") == 200, timeout=60,
                   message="the new leader is ready")
        _release(world, "v2", minutes=5)
        assert follower.running
    finally:
        for replica in replicas:
            replica.stop()


def test_a_leader_whose_lease_is_taken_away_exits_instead_of_acting_beside_the_new_holder(world: World) -> None:
    world.register()
    leader = world.start_operator("--enable-leader-election")
    world.wait(lambda: _status(leader.health_url + "/readyz") == 200, timeout=120, message="the leader is ready")
    coordination = client.CoordinationV1Api(world.apis["delivery"])
    lease = coordination.read_namespaced_lease(LEASE, world.namespace)
    lease.spec.holder_identity = "another-replica"
    coordination.replace_namespaced_lease(LEASE, world.namespace, lease)

    def keep_it() -> bool:  # the other replica keeps renewing
        current = coordination.read_namespaced_lease(LEASE, world.namespace)
        current.spec.holder_identity = "another-replica"
        current.spec.renew_time = datetime.now(UTC)
        coordination.replace_namespaced_lease(LEASE, world.namespace, current)
        return not leader.running

    wait_for(keep_it, 60, interval=1.0, message="the old leader exits")
    assert "lost the leader lease" in leader.logs()


# --- logs ------------------------------------------------------------------------------------------------

def test_operator_log_lines_are_json_and_state_changes_name_app_target_and_tag(world: World) -> None:
    world.register()
    operator = world.start_operator()
    _release(world, "v1")
    lines = [line for line in operator.logs(tail=100_000).splitlines() if line.strip()]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"a log line is not JSON: {line!r}")
    assert all({"ts", "level", "logger", "msg"} <= set(r) for r in records)
    changes = [r for r in records if r.get("state") and r.get("app") == world.app]
    assert {r["state"] for r in changes} >= {"deploying", "deployed", "releasing", "released"}
    assert all(r["target"] == "production" and r["tag"] == "v1" for r in changes)


# --- resilience ------------------------------------------------------------------------------------------

def _app_state(world: World, app: str, tag: str) -> str | None:
    try:
        rm = client.CustomObjectsApi(world.apis["delivery"]).get_namespaced_custom_object(
            keys.GROUP, keys.VERSION, world.namespace, "releasemanagers", f"{app}-production")
    except client.ApiException:
        return None
    entries: list[dict[str, Any]] = (rm.get("status") or {}).get("revisions") or []  # type: ignore[union-attr]
    return next((e["state"]["current"] for e in entries if e["tag"] == tag), None)


def _unsynced(world: World, app: str) -> dict[str, str] | None:
    """The ClustersSynced=False condition of the app's ReleaseManager, if it has one."""
    rm = client.CustomObjectsApi(world.apis["delivery"]).get_namespaced_custom_object(
        keys.GROUP, keys.VERSION, world.namespace, "releasemanagers", f"{app}-production")
    found = [c for c in (rm.get("status") or {}).get("conditions") or []  # type: ignore[union-attr]
             if c["type"] == "ClustersSynced" and c["status"] == "False"]
    return found[0] if found else None


def test_a_cluster_without_its_credentials_secret_holds_only_its_fleet_and_never_stops_the_process(
        world: World) -> None:
    world.register()
    broken = [m for m in cluster_manifests(world.plane.clusters["b"], "broken", namespace=world.namespace)
              if m["kind"] == "Cluster"]
    broken[0]["metadata"]["name"] = "b-nosecret"
    kubectl_apply(world.delivery, broken)
    operator = world.start_operator()
    stuck = f"{world.app}x"
    kubectl_apply(world.delivery, [revision_manifest(stuck, "s1", namespace=world.namespace, fleet="broken",
                                                     committed=world.start_time)])

    condition = world.wait(lambda: _unsynced(world, stuck), message="ClustersSynced=False on the broken fleet's app")
    assert "b-nosecret" in condition["message"]
    _release(world, "v1")
    assert _app_state(world, stuck, "s1") != "released"
    assert operator.running


def test_revisions_cluster_secrets_and_clusters_it_cannot_use_never_stop_the_process(world: World) -> None:
    world.register()
    garbage = cluster_manifests(world.plane.clusters["b"], "garbage", namespace=world.namespace)
    garbage[0]["metadata"]["name"] = garbage[1]["metadata"]["name"] = "b-garbage"
    garbage[0]["spec"]["config"]["certificate-authority-data"] = "bm90IGEgY2VydGlmaWNhdGU="  # "not a certificate"
    garbage[1]["stringData"][keys.SECRET_AUTH_INFO_KEY] = "{not json"
    geometric_one = {"release": {"eligible": True, "schedule": "always", "scalingStrategy": "geometric",
                                 "geometricScaling": {"start": 10, "factor": 1, "delay": "1s"}}}
    bad_input = [
        *garbage,
        revision_manifest(f"{world.app}f", "f1", namespace=world.namespace, committed=world.start_time,
                          target=geometric_one),
        revision_manifest(f"{world.app}k", "k1", namespace=world.namespace, committed=world.start_time,
                          target={"karpenterDoNotDisrupt": "30m",
                                  "podAnnotations": {"karpenter.sh/do-not-disrupt": "true"}}),
        revision_manifest(f"{world.app}g", "g1", namespace=world.namespace, committed=world.start_time,
                          fleet="garbage"),
        {"apiVersion": keys.API_VERSION, "kind": "ClusterSecrets",
         "metadata": {"name": "bad-selector", "namespace": world.namespace},
         "spec": {"source": {"namespace": world.namespace, "labelSelector": "app in web"},
                  "target": {"namespace": "shared-secrets"}}},
    ]
    kubectl_apply(world.delivery, bad_input)
    operator = world.start_operator()
    _release(world, "v1")
    condition = world.wait(lambda: _unsynced(world, f"{world.app}g"), message="the garbage fleet's app is held")
    assert "b-garbage" in condition["message"]
    assert _app_state(world, f"{world.app}g", "g1") != "released"
    errors = [line for line in operator.logs(tail=100_000).splitlines() if '"level": "critical"' in line]
    assert errors == [] and operator.running, errors


def test_bad_flags_stop_picchu_run_at_once_with_what_to_write_instead() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "picchu", "run", "--kubeconfig", "/nonexistent", "--log-level", "LOUD",
         "--release-timezone", "Mars/Base", "--metrics-addr", "nope", "--alert-failure-policy", "hold"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "--log-level 'LOUD': use DEBUG" in result.stderr
    assert "--release-timezone 'Mars/Base'" in result.stderr and "--metrics-addr 'nope'" in result.stderr
    assert "Traceback" not in result.stderr
    bad_policy = subprocess.run([sys.executable, "-m", "picchu", "run", "--alert-failure-policy", "maybe"],
                                capture_output=True, text=True, timeout=60,
                                env={**os.environ, "COLUMNS": "250"})  # one line, not a wrapped box
    assert bad_policy.returncode == 2 and "'maybe' is not one of 'hold', 'fail-closed'" in bad_policy.stderr
