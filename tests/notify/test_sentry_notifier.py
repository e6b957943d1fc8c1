"""SentryNotifier through the real sentry_sdk transport against a local Sentry ingest fake."""

from collections.abc import Iterator

import pytest
import sentry_sdk

from picchu.notify import EventKind, ReleaseEvent, SentryNotifier
from picchu.testing.fake_services import FakeSentry

ROLLED_BACK = ReleaseEvent(
    EventKind.ROLLED_BACK,
    "echo",
    "v1",
    "production",
    namespace="echo-production",
    alerts=("echo_availability",),
    reason="SLO alert fired at 25%",
)


@pytest.fixture
def sentry() -> Iterator[FakeSentry]:
    with FakeSentry() as fake:
        yield fake


def report(sentry: FakeSentry, *events: ReleaseEvent) -> None:
    notifier = SentryNotifier(sentry.dsn(project="7"), environment="test")
    for event in events:
        notifier.notify(event)
    notifier.flush()
    notifier.close()


def test_a_rolled_back_release_becomes_an_error_event_tagged_with_the_release(sentry: FakeSentry) -> None:
    report(sentry, ROLLED_BACK)
    (event,) = sentry.wait_for_events(1)
    assert event["message"] == "echo release v1 was rolled back in production"
    assert event["level"] == "error"
    assert event["environment"] == "test"
    assert event["tags"] == {
        "app": "echo",
        "tag": "v1",
        "target": "production",
        "namespace": "echo-production",
        "picchu.event": "rolled-back",
    }
    assert event["extra"] == {"alerts": ["echo_availability"], "reason": "SLO alert fired at 25%"}
    assert event["fingerprint"] == ["picchu", "rolled-back", "echo", "v1"]
    assert sentry.requests[0].path == "/api/7/envelope/"
    assert "sentry_key=publickey" in sentry.requests[0].headers["x-sentry-auth"]


def test_successful_rollout_events_are_not_reported_by_default(sentry: FakeSentry) -> None:
    report(
        sentry,
        ReleaseEvent(EventKind.ROLLOUT_STARTED, "echo", "v2", "production"),
        ReleaseEvent(EventKind.RELEASED, "echo", "v2", "production"),
        ReleaseEvent(EventKind.REVISION_FAILED, "echo", "v2", "production"),
    )
    events = sentry.wait_for_events(1)
    assert [event["message"] for event in events] == ["echo release v2 failed in production"]


def test_the_process_wide_sentry_scope_neither_leaks_in_nor_gets_a_client(sentry: FakeSentry) -> None:
    with sentry_sdk.isolation_scope() as operator_scope:
        operator_scope.set_tag("secret", "from-the-operator")
        report(sentry, ROLLED_BACK)
        assert not sentry_sdk.get_client().is_active()
    (event,) = sentry.wait_for_events(1)
    assert "secret" not in event["tags"]


def test_a_notifier_without_dsn_is_refused_with_a_fix() -> None:
    with pytest.raises(ValueError, match="set it to the project's DSN"):
        SentryNotifier("")
