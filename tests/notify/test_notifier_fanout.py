"""Fanout: one broken notifier never silences the others nor breaks the reconcile."""

import threading
from collections.abc import Iterator

import pytest

from picchu.notify import Background, EventKind, Fanout, NullNotifier, ReleaseEvent, SlackNotifier
from picchu.testing.fake_services import FakeSlack


class BrokenNotifier:
    def notify(self, event: ReleaseEvent) -> None:
        raise RuntimeError("backend exploded")


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def test_a_failing_notifier_does_not_stop_the_next_one(
    slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    fanout = Fanout([BrokenNotifier(), NullNotifier(), SlackNotifier("t", "C1", base_url=slack.base_url)])
    fanout.notify(ReleaseEvent(EventKind.REVISION_FAILED, "echo", "v1", "production"))
    assert len(slack.posted("C1")) == 1
    assert "BrokenNotifier failed for revision-failed echo/v1" in caplog.text


class BlockedNotifier:
    """Stands in for a backend that hangs until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.delivered: list[ReleaseEvent] = []

    def notify(self, event: ReleaseEvent) -> None:
        self.release.wait(timeout=10)
        self.delivered.append(event)


def test_a_hanging_backend_does_not_block_the_caller_and_queued_events_are_delivered_on_close() -> None:
    blocked = BlockedNotifier()
    background = Background(blocked)
    events = [ReleaseEvent(EventKind.ROLLOUT_STEP, "echo", "v1", percent=p) for p in (10, 20)]
    for event in events:
        background.notify(event)  # returns although the backend hangs
    assert blocked.delivered == []
    blocked.release.set()
    background.close()
    assert blocked.delivered == events


def test_a_full_backlog_drops_new_events_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    blocked = BlockedNotifier()
    background = Background(blocked, max_pending=1)
    for tag in ("v1", "v2", "v3", "v4"):
        background.notify(ReleaseEvent(EventKind.REVISION_FAILED, "echo", tag))
    blocked.release.set()
    background.close()
    assert "notification backlog full" in caplog.text
    assert 1 <= len(blocked.delivered) < 4


def test_slack_messages_sent_in_the_background_arrive(slack: FakeSlack) -> None:
    background = Background(SlackNotifier("t", "C1", base_url=slack.base_url))
    background.notify(ReleaseEvent(EventKind.RELEASED, "echo", "v1", "production"))
    background.close()
    assert slack.posted("C1") == [":white_check_mark: *ECHO* release `v1` is released in `production`"]
