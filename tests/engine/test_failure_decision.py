"""The Revision controller's failure decision (spec §6.6 with §17 #23): when a release is rolled back.

A unit test of the decision only: the alert source is a stub of our own collaborator, the rest of the
context is unused by this function.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from picchu.api.v1alpha1 import load_revision
from picchu.engine.revision import _decide_failure
from picchu.monitoring import AlertFailurePolicy, AlertVerdict
from picchu.settings import Settings
from picchu.testing.builders import revision_manifest


@dataclass
class StubAlerts:
    verdict: AlertVerdict

    def triggered_alerts(self, app: str, tag: str, canaries_only: bool) -> AlertVerdict:
        return self.verdict


@dataclass
class Ctx:
    alerts: StubAlerts
    settings: Settings


def decide(verdict: AlertVerdict, *, state: str = "releasing", peak: int = 20, ignore_slos: bool = False,
           policy: AlertFailurePolicy = AlertFailurePolicy.HOLD, target: str = "production") -> Any:
    manifest = revision_manifest("echo", "v2", namespace="picchu", committed=datetime(2026, 1, 1, tzinfo=UTC),
                                 target_name=target, target={"acceptanceTarget": False},
                                 spec={"ignoreSLOs": ignore_slos})
    revision = load_revision(manifest)
    status = [{"name": target, "state": state, "release": {"currentPercent": peak, "peakPercent": peak},
               "scale": {"current": 1, "desired": 1, "peak": 1}}]
    entries = {target: {"tag": "v2", "peakPercent": peak}}
    ctx = Ctx(StubAlerts(verdict), Settings(alert_failure_policy=policy))
    return _decide_failure(ctx, revision, status, entries)  # type: ignore[arg-type]


def test_a_firing_slo_alert_fails_a_production_release_below_half_traffic() -> None:
    decision, condition = decide(AlertVerdict.triggered(["availability"]), peak=40)
    assert decision.failing and decision.reason == "SLO violation" and decision.alerts == ("availability",)
    assert condition.status is False and condition.reason == "AlertsFiring"


def test_past_half_traffic_a_firing_alert_is_reported_but_no_longer_rolls_back() -> None:
    decision, condition = decide(AlertVerdict.triggered(["availability"]), peak=50)
    assert not decision.failing
    assert condition.reason == "AlertsFiring"


def test_ignore_slos_keeps_a_release_with_firing_alerts() -> None:
    decision, _ = decide(AlertVerdict.triggered(["availability"]), ignore_slos=True)
    assert not decision.failing


def test_a_target_that_is_not_an_acceptance_target_is_never_failed_by_alerts() -> None:
    decision, _ = decide(AlertVerdict.triggered(["availability"]), target="staging")
    assert not decision.failing


def test_a_timed_out_target_fails_the_revision_whatever_the_alerts_say() -> None:
    decision, _ = decide(AlertVerdict.clear(), state="timingout", ignore_slos=True)
    assert decision.failing and decision.reason == "test timing out"


@pytest.mark.parametrize(("policy", "failing"), [(AlertFailurePolicy.HOLD, False),
                                                 (AlertFailurePolicy.FAIL_CLOSED, True)])
def test_an_unreadable_alert_source_holds_or_fails_closed_as_configured(policy: AlertFailurePolicy,
                                                                        failing: bool) -> None:
    decision, condition = decide(AlertVerdict.unknown("connection refused"), policy=policy)
    assert decision.failing is failing
    assert condition.status is False
    if not failing:
        assert condition.reason == "AlertSourceUnavailable" and "connection refused" in condition.message
    else:
        assert decision.alerts == ("AlertSourceUnavailable",)


def test_no_alert_means_no_failure_and_a_clear_condition() -> None:
    decision, condition = decide(AlertVerdict.clear())
    assert not decision.failing and condition.status is True
