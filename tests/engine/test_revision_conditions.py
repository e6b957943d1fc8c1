"""The Revision's Released / Progressing / Failed conditions, as `kubectl wait` and `kubectl get rev` read them.

A unit test of the pure derivation in `picchu.engine.conditions` (what the Revision pass feeds it is covered
end to end in tests/e2e/test_rollout.py).
"""

from __future__ import annotations

from typing import Any

from picchu.engine.conditions import Condition, TargetView, revision_conditions


def view(state: str = "deploying", *, name: str = "production", percent: int = 0, ready: int = 0, desired: int = 0,
         eligible: bool = True, entry: bool = True, rm: tuple[dict[str, Any], ...] = (),
         waiting: dict[str, Any] | None = None) -> TargetView:
    return TargetView(name, state, percent, ready, desired, eligible, entry, rm, waiting)


def summary(*views: TargetView, failed: bool = False, reason: str = "",
            alerts: Condition | None = None) -> dict[str, tuple[bool, str, str]]:
    return {c.type: (c.status, c.reason, c.message) for c in revision_conditions(list(views), failed, reason, alerts)}


def test_waiting_for_pods_says_how_many_are_ready() -> None:
    s = summary(view("deploying", ready=1, desired=3))
    assert s["Progressing"] == (True, "WaitingForPods", "production: WaitingForPods 1/3 pods ready")
    assert s["Released"][0] is False and s["Failed"][0] is False


def test_released_on_every_target_is_released_and_no_longer_progressing() -> None:
    s = summary(view("released", percent=100), view("released", name="staging", percent=100))
    assert s["Released"][:2] == (True, "Released")
    assert s["Progressing"][:2] == (False, "Released")
    assert s["Failed"][0] is False


def test_one_target_still_ramping_keeps_released_false() -> None:
    s = summary(view("released", percent=100, name="staging"), view("releasing", percent=20))
    assert s["Released"][0] is False
    assert s["Progressing"] == (True, "Releasing", "production: releasing at 20%")


def test_a_failed_target_or_the_rollback_switch_is_failed_not_progressing() -> None:
    s = summary(view("failed"))
    assert s["Failed"][:2] == (True, "RolledBack")
    assert s["Progressing"][:2] == (False, "Failed")
    s = summary(view("releasing", percent=10), failed=True, reason="SLOViolation")
    assert s["Failed"][:2] == (True, "SLOViolation") and s["Released"][0] is False
    s = revision_conditions([view("releasing", percent=10)], True, "SLOViolation", None, "SLO violation (x fired)")
    assert next(c for c in s if c.type == "Failed").message == "SLO violation (x fired)"


def test_a_timed_out_target_fails_with_reason_timed_out() -> None:
    assert summary(view("timingout"))["Failed"][:2] == (True, "TimedOut")


def test_a_fleet_without_a_live_cluster_blocks_with_no_cluster_in_fleet() -> None:
    rm = ({"type": "Progressing", "status": "False", "reason": "NoClusterInFleet",
           "message": "holding: no live cluster in fleet prod"},)
    s = summary(view("created", entry=False, rm=rm))
    assert s["Progressing"] == (False, "NoClusterInFleet", "production: holding: no live cluster in fleet prod")


def test_an_unreachable_cluster_blocks_with_cluster_unreachable() -> None:
    rm = ({"type": "ClustersSynced", "status": "False", "reason": "ClusterUnavailable", "message": "b: refused"},)
    s = summary(view("releasing", percent=20, rm=rm))
    assert s["Progressing"][:2] == (False, "ClusterUnreachable") and "b: refused" in s["Progressing"][2]


def test_capacity_and_release_window_waits_come_from_the_release_manager() -> None:
    s = summary(view("releasing", percent=10, waiting={"reason": "WaitingForCapacity",
                                                       "message": "v2 waits for capacity: 4/8 pods"}))
    assert s["Progressing"] == (True, "WaitingForCapacity", "production: v2 waits for capacity: 4/8 pods")
    window = {"reason": "OutsideReleaseWindow", "message": "v2 waits for its humane release window"}
    assert summary(view("pendingrelease", waiting=window))["Progressing"][:2] == (True, "OutsideReleaseWindow")
    assert summary(view("pendingrelease"))["Progressing"][:2] == (True, "PendingRelease")


def test_firing_alerts_that_do_not_fail_the_revision_are_named_while_it_progresses() -> None:
    firing = Condition("AlertsClear", False, "AlertsFiring", "firing: availability")
    s = summary(view("releasing", percent=60), alerts=firing)
    assert s["Progressing"] == (True, "AlertsFiring", "firing: availability; production: releasing at 60%")


def test_an_unreadable_alert_source_blocks_the_ramp() -> None:
    hold = Condition("AlertsClear", False, "AlertSourceUnavailable", "cannot evaluate SLO alerts, holding: down")
    assert summary(view("releasing", percent=20), alerts=hold)["Progressing"][:2] == (False, "AlertSourceUnavailable")


def test_a_deployed_revision_that_may_not_release_is_done_not_progressing() -> None:
    s = summary(view("deployed", eligible=False))
    assert s["Progressing"][:2] == (False, "Deployed") and s["Released"][0] is False
