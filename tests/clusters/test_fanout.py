"""Fan-out over clusters: concurrent, each cluster's failure or slowness is its own entry, never an exception."""

from __future__ import annotations

import threading

from kubernetes import client

from picchu.clusters.connection import ClusterConnection, Redactor
from picchu.clusters.fanout import fan_out

SECRET = "token-that-must-not-leak-123"


def connection(name: str) -> ClusterConnection:
    return ClusterConnection(name, True, client.ApiClient(), f"{name}#1", Redactor([SECRET]))


def test_every_cluster_runs_at_the_same_time():
    both_started = threading.Barrier(2, timeout=30)

    def work(c, deadline):
        both_started.wait()  # breaks (and fails the cluster) if the clusters ran one after the other
        return c.name

    outcomes = fan_out([connection("a"), connection("b")], work, timeout=10)
    assert {n: o.value for n, o in outcomes.items()} == {"a": "a", "b": "b"}


def test_a_failing_cluster_is_an_error_entry_with_its_credentials_redacted():
    def work(c, deadline):
        if c.name == "b":
            raise RuntimeError(f"boom with Bearer {SECRET}")
        return 1

    outcomes = fan_out([connection("a"), connection("b")], work, timeout=10)
    assert outcomes["a"].value == 1 and outcomes["a"].error is None
    assert outcomes["b"].value is None and "boom" in outcomes["b"].error.reason
    assert SECRET not in outcomes["b"].error.reason


def test_a_cluster_that_overruns_its_budget_is_reported_as_timed_out_while_the_others_succeed():
    release = threading.Event()

    def work(c, deadline):
        if c.name == "slow":
            release.wait(30)
        return c.name

    try:
        outcomes = fan_out([connection("fast"), connection("slow")], work, timeout=5)
    finally:
        release.set()
    assert outcomes["fast"].value == "fast"
    assert "timed out" in outcomes["slow"].error.reason


def test_no_clusters_means_no_outcomes():
    assert fan_out([], lambda c, d: None, timeout=1) == {}
