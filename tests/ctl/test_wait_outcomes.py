"""`picchu wait` decides its exit code from what the operator wrote: these are the rules a CI step relies on."""

from __future__ import annotations

from typing import Any

from picchu import keys
from picchu.ctl.steer import action_patch
from picchu.ctl.wait import FAILED, RELEASED, evaluate


def revision(failed: bool = False, reason: str = "") -> dict[str, Any]:
    annotations = {keys.ANNOTATION_FAILED_REASON: reason} if reason else {}
    return {"metadata": {"name": "echo-v2", "annotations": annotations},
            "spec": {"app": {"name": "echo", "tag": "v2"}, "failed": failed, "targets": [{"name": "production"}]}}


def rm(state: str, percent: int = 0, synced: bool = True, **extra: Any) -> dict[str, Any]:
    entry = {"tag": "v2", "state": {"current": state}, "currentPercent": percent, **extra}
    cond = {"type": "ClustersSynced", "status": "True" if synced else "False"}
    return {"status": {"revisions": [entry], "conditions": [cond]}}


def test_released_on_every_target_with_clusters_in_sync_is_success() -> None:
    assert evaluate(revision(), {"production": rm("released", 100)}, "released").code == RELEASED  # type: ignore[union-attr]
    assert evaluate(revision(), {"production": rm("released", 100), "staging": rm("releasing", 40)},
                    "released") is None
    assert evaluate(revision(), {"production": rm("released", 100, synced=False)}, "released") is None


def test_a_rollback_is_failure_and_says_why() -> None:
    outcome = evaluate(revision(), {"production": rm("failing", 10, peakPercent=20, triggeredAlerts=["slo"])},
                       "released")
    assert outcome is not None and outcome.code == FAILED
    assert "rolled back from a peak of 20%" in outcome.message and "slo" in outcome.message
    aborted = evaluate(revision(True, "aborted by ann: bad"), {"production": rm("releasing", 30)}, "released")
    assert aborted is not None and aborted.code == FAILED and "aborted by ann: bad" in aborted.message


def test_waiting_for_failure_succeeds_on_failure_and_fails_on_release() -> None:
    assert evaluate(revision(), {"production": rm("failed")}, "failed").code == RELEASED  # type: ignore[union-attr]
    assert evaluate(revision(), {"production": rm("released", 100)}, "failed").code == FAILED  # type: ignore[union-attr]
    assert evaluate(revision(), {"production": rm("canarying", 10)}, "canarying").code == RELEASED  # type: ignore[union-attr]
    assert evaluate(revision(), {"production": None}, "released") is None


def test_retry_clears_exactly_what_abort_set() -> None:
    abort = action_patch("abort", reason="bad", user="ann")
    retry = action_patch("retry", user="ann")
    assert abort["spec"] == {"failed": True} and retry["spec"] == {"failed": False}
    for key in (keys.ANNOTATION_FAILED_AT, keys.ANNOTATION_FAILED_REASON):
        assert abort["metadata"]["annotations"][key] and retry["metadata"]["annotations"][key] is None
    assert '"by": "ann"' in abort["metadata"]["annotations"][keys.ANNOTATION_ACTION]
