"""Fanout: one broken notifier never silences the others nor breaks the reconcile."""

from collections.abc import Iterator

import pytest

from picchu.notify import EventKind, Fanout, NullNotifier, ReleaseEvent, SlackNotifier
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
