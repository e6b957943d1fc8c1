"""The incarnation state machine: 18 states, one handler each (spec §9.2, §9.3, fixed per §17).

A handler reads an incarnation's facts and returns a :class:`Step`: the next state plus the actions the
engine must perform (sync, retire, delete, canary-rule and tagged-service-level cleanup). Actions are data;
a Step is only persisted if its actions applied (the engine holds the pass otherwise, spec §9.2 "action").

Neighbours: ``facts.py`` (the facts), ``schedule.py`` (``pendingrelease``), ``decide.py`` (ticks every
incarnation once per pass, newest first, then records timestamps with :func:`enter`).

Deviations from Picchu, all deliberate:
* §17 #4: ``pendingReleaseStartTimestamp`` is set on first entry into ``pendingrelease``.
* §17 #15: test states are governed only by ``externalTest.timeout`` (no 15-minute cap); ``pendingtest``
  whose test got disabled goes back to ``deploying`` like ``testing`` does; ``tested`` but not
  release-eligible waits (and retires once expired, like ``deployed``) instead of timing out.
* §17 #33 / §9.8: legacy ``canaryingdatadog``/``canarieddatadog`` are read as ``canarying``/``canaried``;
  any other unknown state has no handler: :func:`tick` returns ``None`` and the caller reports it.
* Unknown readiness (a live cluster could not be observed) holds ``deploying``/``deployed`` in place and
  suspends the deploying timeout: unknown is neither progress nor failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from picchu.release.facts import Incarnation, TestStatus
from picchu.release.schedule import schedule_permits_release
from picchu.release.snapshot import Settings

STATES = (
    "created", "deploying", "deployed", "pendingtest", "testing", "tested", "canarying", "canaried",
    "pendingrelease", "releasing", "released", "retiring", "retired", "deleting", "deleted", "failing",
    "failed", "timingout",
)  # fmt: skip
LEGACY_STATES = {"canaryingdatadog": "canarying", "canarieddatadog": "canaried"}

CREATED_TIMEOUT = timedelta(hours=1)
DEPLOYING_TIMEOUT = timedelta(minutes=15)

SYNC = "sync"
RETIRE = "retire"
DELETE = "delete"
SYNC_CANARY_RULES = "sync_canary_rules"
DELETE_CANARY_RULES = "delete_canary_rules"
DELETE_TAGGED_SERVICE_LEVELS = "delete_tagged_service_levels"


@dataclass(frozen=True)
class Step:
    state: str
    actions: frozenset[str] = frozenset()
    reason: str | None = None


@dataclass(frozen=True)
class Tick:
    """What a handler may consult besides the incarnation."""

    now: datetime
    settings: Settings

    def overdue(self, since: datetime | None, limit: timedelta) -> bool:
        return since is not None and since + limit < self.now


Handler = Callable[[Incarnation, Tick], Step]


def _to(state: str, *actions: str, reason: str | None = None) -> Step:
    return Step(state, frozenset(actions), reason)


def _eligible_next(i: Incarnation, t: Tick, *actions: str) -> Step:
    return _to("canarying" if i.is_canary_pending(t.now) else "pendingrelease", *actions)


def created(i: Incarnation, t: Tick) -> Step:
    if not i.has_revision:
        return _to("deleting")
    if t.overdue(i.entry.state_last_updated, CREATED_TIMEOUT):
        return _to("timingout", reason=f"{i.tag} stayed created for more than {CREATED_TIMEOUT}")
    return _to("deploying")


def deploying(i: Incarnation, t: Tick) -> Step:
    if not i.has_revision:
        return _to("deleting")
    if i.has_failed:
        return _to("failing")
    deployed = i.is_deployed
    if deployed:
        return _to("deployed", SYNC)
    if deployed is None:
        return _to("deploying", SYNC, reason=f"{i.tag}: readiness unknown (a live cluster is unreachable)")
    if t.overdue(i.entry.state_last_updated, DEPLOYING_TIMEOUT):
        return _to("timingout", SYNC, reason=f"{i.tag} not ready after {DEPLOYING_TIMEOUT}")
    return _to("deploying", SYNC)


def deployed(i: Incarnation, t: Tick) -> Step:
    if not i.has_revision:
        return _to("deleting")
    if i.has_failed:
        return _to("failing")
    ready = i.is_deployed
    if ready is False:
        return _to("deploying", SYNC)
    if ready is None:
        return _to("deployed", SYNC, reason=f"{i.tag}: readiness unknown (a live cluster is unreachable)")
    test = i.test_status
    if test is TestStatus.SUCCEEDED:
        return _to("tested", SYNC)
    if test is TestStatus.STARTED:
        return _to("testing", SYNC)
    if test is TestStatus.PENDING:
        return _to("pendingtest", SYNC)
    if i.entry.release_eligible:
        return _eligible_next(i, t, SYNC)
    if i.is_expired(t.now):
        return _to("retiring", SYNC)
    return _to("deployed", SYNC)


def pendingtest(i: Incarnation, t: Tick) -> Step:
    if not i.has_revision:
        return _to("deleting")
    if i.has_failed:
        return _to("failing")
    test = i.test_status
    if test is TestStatus.SUCCEEDED:
        return _to("tested")
    if i.is_timing_out(t.now):
        return _to("timingout", reason=f"{i.tag}: external test did not start within its timeout")
    if test is TestStatus.STARTED:
        return _to("testing")
    if not test.enabled:
        return _to("deploying")
    return _to("pendingtest", SYNC)


def testing(i: Incarnation, t: Tick) -> Step:
    if not i.has_revision:
        return _to("deleting")
    test = i.test_status
    if test is TestStatus.FAILED:
        return _to("failing")
    if test is TestStatus.SUCCEEDED:
        return _to("tested")
    if i.is_timing_out(t.now):
        return _to("timingout", reason=f"{i.tag}: external test did not finish within its timeout")
    if test is TestStatus.PENDING:
        return _to("pendingtest")
    if not test.enabled:
        return _to("deploying")
    return _to("testing", SYNC)


def tested(i: Incarnation, t: Tick) -> Step:
    if not i.has_revision:
        return _to("deleting")
    if i.has_failed:
        return _to("failing")
    test = i.test_status
    if test is TestStatus.PENDING:
        return _to("pendingtest")
    if not test.finished:
        return _to("testing")
    if i.entry.release_eligible:
        return _eligible_next(i, t)
    if i.is_expired(t.now):
        return _to("retiring")
    return _to("tested")


def canarying(i: Incarnation, t: Tick) -> Step:
    if not i.has_revision:
        return _to("deleting")
    if i.marked_as_failed:
        return _to("failing")
    acts = (SYNC_CANARY_RULES, DELETE_TAGGED_SERVICE_LEVELS, SYNC)
    if i.paused:
        return _to("canarying", *acts, reason=f"{i.tag} is paused: its canary holds")
    if not i.is_canary_pending(t.now):
        return _to("canaried", *acts)
    return _to("canarying", *acts)


def canaried(i: Incarnation, t: Tick) -> Step:
    if not i.has_revision:
        return _to("deleting")
    if i.marked_as_failed:
        return _to("failing")
    if i.entry.release_eligible:
        return _to("pendingrelease", DELETE_CANARY_RULES, SYNC)
    return _to("canaried", DELETE_CANARY_RULES, SYNC)


def pendingrelease(i: Incarnation, t: Tick) -> Step:
    if not i.has_revision:
        return _to("deleting")
    if i.marked_as_failed:
        return _to("failing")
    if not i.entry.release_eligible:
        return _to("retiring")
    if schedule_permits_release(
        schedule=i.schedule,
        revision_created=i.created_at,
        now=t.now,
        calendar=t.settings.calendar,
        humane_releases_enabled=t.settings.humane_releases_enabled,
        peak_percent=i.entry.peak_percent,
        canary_percent=i.canary_percent,
    ):
        return _to("releasing")
    return _to("pendingrelease", SYNC, reason=f"{i.tag} waits for its {i.schedule} release window")


def releasing(i: Incarnation, t: Tick) -> Step:
    if not i.has_revision:
        return _to("deleting")
    if i.marked_as_failed:
        return _to("failing")
    if not i.entry.release_eligible:
        return _to("retiring")
    if i.entry.peak_percent >= 100:
        return _to("released", SYNC, DELETE_TAGGED_SERVICE_LEVELS)
    return _to("releasing", SYNC, DELETE_TAGGED_SERVICE_LEVELS)


def retiring(i: Incarnation, t: Tick) -> Step:
    if i.entry.current_percent > 0:
        return _to("retiring", reason=f"{i.tag} drains before retiring")
    if not i.has_revision:
        return _to("deleting")
    if i.marked_as_failed:
        return _to("failing")
    if i.entry.release_eligible:
        return _to("deploying")
    return _to("retired", DELETE_TAGGED_SERVICE_LEVELS, RETIRE)


def retired(i: Incarnation, t: Tick) -> Step:
    if not i.has_revision:
        return _to("deleting")
    if i.marked_as_failed:
        return _to("failing")
    if i.entry.release_eligible:
        return _to("deploying")
    return _to("retired", RETIRE)


def deleting(i: Incarnation, t: Tick) -> Step:
    if i.entry.current_percent > 0:
        return _to("deleting", reason=f"{i.tag} drains before deletion")
    if i.has_revision:
        return _to("deploying")
    return _to("deleted", DELETE_CANARY_RULES, DELETE_TAGGED_SERVICE_LEVELS, DELETE)


def deleted(i: Incarnation, t: Tick) -> Step:
    return _to("deploying") if i.has_revision else _to("deleted")


def failing(i: Incarnation, t: Tick) -> Step:
    if i.entry.current_percent > 0:
        return _to("failing", reason=f"{i.tag} failed; its traffic drains before it is retired")
    if not i.has_revision:
        return _to("deleting")
    if not i.has_failed:
        return _to("deploying")
    return _to("failed", DELETE_CANARY_RULES, DELETE_TAGGED_SERVICE_LEVELS, RETIRE)


def failed(i: Incarnation, t: Tick) -> Step:
    if not i.has_revision:
        return _to("deleting")
    if not i.has_failed:
        return _to("deploying")
    return _to("failed", RETIRE)


def timingout(i: Incarnation, t: Tick) -> Step:
    if not i.has_revision:
        return _to("deleting")
    if i.has_failed:
        return _to("failing")
    return _to("timingout")


HANDLERS: dict[str, Handler] = {
    "created": created,
    "deploying": deploying,
    "deployed": deployed,
    "pendingtest": pendingtest,
    "testing": testing,
    "tested": tested,
    "canarying": canarying,
    "canaried": canaried,
    "pendingrelease": pendingrelease,
    "releasing": releasing,
    "released": releasing,
    "retiring": retiring,
    "retired": retired,
    "deleting": deleting,
    "deleted": deleted,
    "failing": failing,
    "failed": failed,
    "timingout": timingout,
}


def canonical_state(state: str) -> str:
    """Legacy Datadog canary names mapped to today's (spec §9.8); empty → ``created``."""
    return LEGACY_STATES.get(state, state or "created")


def tick(i: Incarnation, t: Tick) -> Step | None:
    """Run the handler of ``i``'s current state; ``None`` when the state is unknown (caller reports it)."""
    handler = HANDLERS.get(i.entry.state)
    return handler(i, t) if handler is not None else None


def enter(i: Incarnation, state: str, now: datetime) -> bool:
    """Spec §9.1 ``setState`` (with §17 #4 fixed). Returns whether the state changed."""
    e = i.entry
    if state == "deploying" and e.deploying_start is None:
        e.deploying_start = now
    if state == "canarying" and e.canary_start is None and e.current_percent > 0:
        e.canary_start = now
    if state == "pendingrelease" and e.pending_release_start is None:
        e.pending_release_start = now
    if state == "releasing" and e.release_start is None:
        e.release_start = now
    changed = state != e.state
    if changed:
        e.state_last_updated = now
    e.state = state
    return changed
