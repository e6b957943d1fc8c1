"""The state machine, row by row (spec §9.3 with the §17 fixes); every state and every relevant fact.

Each case builds one incarnation with the facts named in the row and checks the next state and the
actions the engine must apply.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from release_builders import T0, TARGET, revision

from picchu.release.facts import Entry, Incarnation
from picchu.release.schedule import ReleaseCalendar
from picchu.release.snapshot import Settings
from picchu.release.states import (
    DELETE,
    DELETE_CANARY_RULES,
    DELETE_TAGGED_SERVICE_LEVELS,
    HANDLERS,
    RETIRE,
    STATES,
    SYNC,
    SYNC_CANARY_RULES,
    Tick,
    canonical_state,
    enter,
    tick,
)

TESTS = {
    "pending": {"enabled": True, "started": False, "completed": False},
    "started": {"enabled": True, "started": True, "completed": False},
    "succeeded": {"enabled": True, "started": True, "completed": True, "succeeded": True},
    "failed": {"enabled": True, "started": True, "completed": True, "succeeded": False},
    "disabled": {"enabled": False, "started": False, "completed": False},
}
MIN = timedelta(minutes=1)


def inc(
    state: str,
    *,
    rev: bool = True,
    failed: bool = False,
    test: str | None = None,
    test_since: datetime | None = None,
    eligible: bool = True,
    deployed: bool | None = True,
    canary: bool = False,
    canary_started: datetime | None = None,
    percent: int = 0,
    peak: int = 0,
    since: timedelta = MIN,
    created: datetime = T0,
    schedule: str = "always",
) -> Incarnation:
    revision_obj = None
    if rev:
        external = dict(TESTS[test]) if test else None
        if external is not None and test_since is not None:
            external["lastUpdated"] = test_since.strftime("%Y-%m-%dT%H:%M:%SZ")
        revision_obj = revision(
            "v1", created=created, failed=failed, external_test=external,
            canary={"percent": 10, "ttl": 600} if canary else None, slos=canary,
            release={"schedule": schedule},
        )  # fmt: skip
    entry = Entry(
        tag="v1", state=state, state_last_updated=T0 - since, current_percent=percent, peak_percent=peak,
        release_eligible=eligible, canary_start=canary_started, ttl=3600,
        scale_current=1 if deployed else 0, scale_desired=1,
    )  # fmt: skip
    target = revision_obj.target(TARGET) if revision_obj else None
    return Incarnation(
        "v1", revision_obj, target, entry, deployed_flag=deployed, available=1 if deployed else 0
    )


LA = ZoneInfo("America/Los_Angeles")
TICK = Tick(now=T0, settings=Settings(calendar=ReleaseCalendar(zone=LA)))
OLD = T0 - timedelta(days=1)
H2 = timedelta(hours=2, minutes=1)
M16 = timedelta(minutes=16)

# (from state, facts, expected state, actions that must be requested)
ROWS: list[tuple[str, dict[str, Any], str, set[str]]] = [
    ("created", {"rev": False}, "deleting", set()),
    ("created", {"since": timedelta(hours=1, minutes=1)}, "timingout", set()),
    ("created", {}, "deploying", set()),
    ("deploying", {"rev": False}, "deleting", set()),
    ("deploying", {"failed": True}, "failing", set()),
    ("deploying", {"test": "failed"}, "failing", set()),
    ("deploying", {}, "deployed", {SYNC}),
    ("deploying", {"deployed": False, "since": M16}, "timingout", {SYNC}),
    ("deploying", {"deployed": False}, "deploying", {SYNC}),
    ("deploying", {"deployed": None, "since": M16}, "deploying", {SYNC}),  # unknown readiness holds
    ("deployed", {"rev": False}, "deleting", set()),
    ("deployed", {"failed": True}, "failing", set()),
    ("deployed", {"deployed": False}, "deploying", {SYNC}),
    ("deployed", {"deployed": None}, "deployed", {SYNC}),
    ("deployed", {"test": "succeeded"}, "tested", {SYNC}),
    ("deployed", {"test": "started"}, "testing", {SYNC}),
    ("deployed", {"test": "pending"}, "pendingtest", {SYNC}),
    ("deployed", {"canary": True}, "canarying", {SYNC}),
    ("deployed", {}, "pendingrelease", {SYNC}),
    ("deployed", {"eligible": False, "created": OLD}, "retiring", {SYNC}),
    ("deployed", {"eligible": False}, "deployed", {SYNC}),
    ("pendingtest", {"rev": False}, "deleting", set()),
    ("pendingtest", {"failed": True, "test": "pending"}, "failing", set()),
    ("pendingtest", {"test": "succeeded"}, "tested", set()),
    ("pendingtest", {"test": "pending", "since": H2}, "timingout", set()),
    ("pendingtest", {"test": "pending", "since": H2, "test_since": T0 - MIN}, "pendingtest", {SYNC}),
    ("pendingtest", {"test": "started"}, "testing", set()),
    ("pendingtest", {"test": "disabled"}, "deploying", set()),
    ("pendingtest", {"test": "pending", "since": M16}, "pendingtest", {SYNC}),  # §17 #15: no 15-minute cap
    ("testing", {"rev": False}, "deleting", set()),
    ("testing", {"test": "failed"}, "failing", set()),
    ("testing", {"test": "succeeded", "failed": True}, "tested", set()),  # spec.failed ignored here
    ("testing", {"test": "started", "since": H2}, "timingout", set()),
    ("testing", {"test": "pending"}, "pendingtest", set()),
    ("testing", {"test": "disabled"}, "deploying", set()),
    ("testing", {"rev": True}, "deploying", set()),  # no external test at all
    ("testing", {"test": "started", "since": M16}, "testing", {SYNC}),  # §17 #15: no 15-minute cap
    ("tested", {"rev": False}, "deleting", set()),
    ("tested", {"failed": True, "test": "succeeded"}, "failing", set()),
    ("tested", {"test": "pending"}, "pendingtest", set()),
    ("tested", {"test": "started"}, "testing", set()),
    ("tested", {"test": "succeeded", "canary": True}, "canarying", set()),
    ("tested", {"test": "succeeded"}, "pendingrelease", set()),
    ("tested", {"test": "succeeded", "eligible": False, "since": M16}, "tested", set()),  # §17 #15: waits
    ("tested", {"test": "succeeded", "eligible": False, "created": OLD}, "retiring", set()),
    ("canarying", {"rev": False}, "deleting", set()),
    ("canarying", {"failed": True, "canary": True}, "failing", set()),
    ("canarying", {"canary": True}, "canarying", {SYNC_CANARY_RULES, DELETE_TAGGED_SERVICE_LEVELS, SYNC}),
    ("canarying", {"canary": True, "canary_started": T0 - timedelta(minutes=11)}, "canaried", {SYNC}),
    ("canarying", {"canary": False}, "canaried", {SYNC}),
    ("canaried", {"rev": False}, "deleting", set()),
    ("canaried", {"failed": True}, "failing", set()),
    ("canaried", {}, "pendingrelease", {DELETE_CANARY_RULES, SYNC}),
    ("canaried", {"eligible": False}, "canaried", {DELETE_CANARY_RULES, SYNC}),
    ("pendingrelease", {"rev": False}, "deleting", set()),
    ("pendingrelease", {"failed": True}, "failing", set()),
    ("pendingrelease", {"eligible": False}, "retiring", set()),
    ("pendingrelease", {}, "releasing", set()),
    ("releasing", {"rev": False}, "deleting", set()),
    ("releasing", {"failed": True}, "failing", set()),
    ("releasing", {"eligible": False}, "retiring", set()),
    ("releasing", {"peak": 100, "percent": 100}, "released", {SYNC, DELETE_TAGGED_SERVICE_LEVELS}),
    ("releasing", {"peak": 40, "percent": 40}, "releasing", {SYNC, DELETE_TAGGED_SERVICE_LEVELS}),
    ("released", {"failed": True}, "failing", set()),
    ("released", {"peak": 100, "percent": 100}, "released", {SYNC}),
    ("retiring", {"percent": 10, "rev": False}, "retiring", set()),
    ("retiring", {"rev": False}, "deleting", set()),
    ("retiring", {"failed": True}, "failing", set()),
    ("retiring", {}, "deploying", set()),
    ("retiring", {"eligible": False}, "retired", {DELETE_TAGGED_SERVICE_LEVELS, RETIRE}),
    ("retired", {"rev": False}, "deleting", set()),
    ("retired", {"failed": True}, "failing", set()),
    ("retired", {}, "deploying", set()),
    ("retired", {"eligible": False}, "retired", {RETIRE}),
    ("deleting", {"percent": 10, "rev": False}, "deleting", set()),
    ("deleting", {}, "deploying", set()),
    ("deleting", {"rev": False}, "deleted", {DELETE_CANARY_RULES, DELETE_TAGGED_SERVICE_LEVELS, DELETE}),
    ("deleted", {}, "deploying", set()),
    ("deleted", {"rev": False}, "deleted", set()),
    ("failing", {"percent": 10, "failed": True}, "failing", set()),
    ("failing", {"rev": False}, "deleting", set()),
    ("failing", {}, "deploying", set()),
    ("failing", {"failed": True}, "failed", {DELETE_CANARY_RULES, DELETE_TAGGED_SERVICE_LEVELS, RETIRE}),
    ("failing", {"test": "failed"}, "failed", {RETIRE}),
    ("failed", {"rev": False}, "deleting", set()),
    ("failed", {}, "deploying", set()),
    ("failed", {"failed": True}, "failed", {RETIRE}),
    ("timingout", {"rev": False}, "deleting", set()),
    ("timingout", {"failed": True}, "failing", set()),
    ("timingout", {}, "timingout", set()),
]


def _id(row: tuple[str, dict[str, Any], str, set[str]]) -> str:
    facts = ",".join(f"{k}={v}" for k, v in row[1].items() if not isinstance(v, datetime | timedelta))
    return f"{row[0]}[{facts}]->{row[2]}"


@pytest.mark.parametrize("row", ROWS, ids=[_id(r) for r in ROWS])
def test_each_row_of_the_transition_table_leads_to_its_state_and_actions(row: tuple[str, dict[str, Any], str, set[str]]) -> None:
    state, facts, expected, actions = row
    step = tick(inc(state, **facts), TICK)
    assert step is not None
    assert step.state == expected
    assert actions <= step.actions


def test_every_state_has_a_handler_and_every_handler_is_exercised() -> None:
    assert set(HANDLERS) == set(STATES) and len(STATES) == 18
    assert {row[0] for row in ROWS} == set(STATES)


def test_an_unknown_state_is_reported_not_a_crash() -> None:
    assert tick(inc("exploding"), TICK) is None


def test_legacy_datadog_canary_states_are_read_as_todays_canary_states() -> None:
    assert canonical_state("canaryingdatadog") == "canarying"
    assert canonical_state("canarieddatadog") == "canaried"
    assert canonical_state("") == "created"


def test_entering_states_records_their_first_timestamps() -> None:
    i = inc("deployed", since=timedelta(minutes=5))
    assert enter(i, "pendingrelease", T0)
    assert i.entry.pending_release_start == T0  # §17 #4: Picchu never set it
    later = T0 + MIN
    enter(i, "releasing", later)
    enter(i, "releasing", later + MIN)
    assert i.entry.release_start == later
    assert i.entry.state_last_updated == later


def test_the_canary_clock_starts_only_once_the_canary_has_traffic() -> None:
    i = inc("deployed", canary=True)
    enter(i, "canarying", T0)
    assert i.entry.canary_start is None
    i.entry.current_percent = 10
    enter(i, "canarying", T0 + MIN)
    assert i.entry.canary_start == T0 + MIN
    assert not enter(i, "canarying", T0 + 2 * MIN)


def test_states_without_traffic_are_not_routable() -> None:
    assert not inc("canaried").routable and not inc("pendingrelease").routable
    assert inc("releasing").routable


def test_a_release_window_is_judged_in_los_angeles() -> None:
    friday_evening = datetime(2026, 3, 7, 1, 0, tzinfo=UTC)  # Friday 17:00 PST, Saturday in UTC
    i = inc("pendingrelease", schedule="inhumane", created=friday_evening)
    step = tick(i, Tick(now=friday_evening, settings=TICK.settings))
    assert step is not None and step.state == "releasing"


def test_a_pending_release_outside_its_window_waits_and_keeps_syncing() -> None:
    saturday = datetime(2026, 3, 7, 18, 0, tzinfo=UTC)
    i = inc("pendingrelease", schedule="humane", created=saturday)
    step = tick(i, Tick(now=saturday, settings=TICK.settings))
    assert step is not None and step.state == "pendingrelease" and SYNC in step.actions
    assert step.reason == "v1 waits for its humane release window"
