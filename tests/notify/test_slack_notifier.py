"""SlackNotifier through the real slack_sdk WebClient against a local Slack Web API fake."""

import logging
from collections.abc import Iterator

import pytest

from picchu.notify import EventKind, ReleaseEvent, SlackNotifier
from picchu.testing.fake_services import FakeSlack

CHANNEL = "C0RELEASES"
FAILED = ReleaseEvent(EventKind.REVISION_FAILED, "echo", "v1", "production", alerts=("echo_availability",))
ROLLED_BACK = ReleaseEvent(EventKind.ROLLED_BACK, "echo", "v1", "production", alerts=("echo_availability",))


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def notifier(slack: FakeSlack, clock: FakeClock, **options: object) -> SlackNotifier:
    return SlackNotifier("xoxb-test-token", CHANNEL, base_url=slack.base_url, clock=clock, **options)  # type: ignore[arg-type]


def test_a_failing_release_is_announced_in_the_configured_channel(slack: FakeSlack, clock: FakeClock) -> None:
    notifier(slack, clock).notify(FAILED)
    assert slack.posted(CHANNEL) == [
        ":failure-error-cross-x: :canary: *ECHO* release `v1` is failing in `production`\n"
        ":rotating_light: Triggered alerts `echo_availability`"
    ]
    assert slack.calls("chat.postMessage")[0].headers["authorization"] == "Bearer xoxb-test-token"


def test_a_failure_is_announced_once_even_when_it_is_then_rolled_back(
    slack: FakeSlack, clock: FakeClock
) -> None:
    slack_notifier = notifier(slack, clock)
    slack_notifier.notify(FAILED)
    slack_notifier.notify(FAILED)
    slack_notifier.notify(ROLLED_BACK)
    clock.now = 1000
    slack_notifier.notify(ROLLED_BACK)
    assert len(slack.posted(CHANNEL)) == 1


def test_a_failure_someone_already_announced_is_not_repeated(slack: FakeSlack, clock: FakeClock) -> None:
    slack.seed(CHANNEL, ":failure-error-cross-x: :canary: *ECHO* release `v1` is failing Datadog Canary")
    notifier(slack, clock).notify(ROLLED_BACK)
    assert slack.posted(CHANNEL) == []


def test_another_tag_or_app_failing_is_still_announced(slack: FakeSlack, clock: FakeClock) -> None:
    slack_notifier = notifier(slack, clock)
    slack_notifier.notify(FAILED)
    slack_notifier.notify(ReleaseEvent(EventKind.REVISION_FAILED, "echo", "v2", "production"))
    slack_notifier.notify(ReleaseEvent(EventKind.REVISION_FAILED, "web", "v1", "production"))
    assert [text.split("*")[1] + text.split("`")[1] for text in slack.posted(CHANNEL)] == [
        "ECHOv1",
        "ECHOv2",
        "WEBv1",
    ]


def test_only_the_last_five_messages_count_as_already_announced(slack: FakeSlack, clock: FakeClock) -> None:
    slack.seed(CHANNEL, ":failure-error-cross-x: :canary: *ECHO* release `v1` is failing in `production`")
    for number in range(5):
        slack.seed(CHANNEL, f"chatter {number}")
    notifier(slack, clock).notify(FAILED)
    assert len(slack.posted(CHANNEL)) == 1


def test_the_channel_history_is_read_at_most_once_per_ttl(slack: FakeSlack, clock: FakeClock) -> None:
    slack.seed(CHANNEL, ":failure-error-cross-x: :canary: *ECHO* release `v1` is failing in `production`")
    slack_notifier = notifier(slack, clock, history_ttl_seconds=120)
    for _ in range(3):
        slack_notifier.notify(FAILED)
    clock.now = 119
    slack_notifier.notify(FAILED)
    assert len(slack.calls("conversations.history")) == 1
    clock.now = 120
    slack_notifier.notify(FAILED)
    assert len(slack.calls("conversations.history")) == 2
    assert slack.posted(CHANNEL) == []


def test_an_unreadable_history_is_logged_and_the_message_still_posted(
    slack: FakeSlack, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    slack.history_error = "ratelimited"
    slack_notifier = notifier(slack, clock)
    with caplog.at_level(logging.WARNING, logger="picchu.notify.slack"):
        slack_notifier.notify(FAILED)
    assert len(slack.posted(CHANNEL)) == 1
    assert "ratelimited" in caplog.text
    slack.history_error = ""
    slack_notifier.notify(FAILED)  # the error was not cached: the history is read again and dedups
    assert len(slack.posted(CHANNEL)) == 1


def test_a_slack_outage_never_raises_into_the_operator(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    with FakeSlack() as slack:
        base_url = slack.base_url
    unreachable = SlackNotifier("xoxb-test-token", CHANNEL, base_url=base_url, clock=clock, timeout_seconds=2)
    with caplog.at_level(logging.WARNING, logger="picchu.notify.slack"):
        unreachable.notify(FAILED)
    assert "posting revision-failed echo/v1" in caplog.text


def test_a_rejected_post_is_logged(
    slack: FakeSlack, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    slack.post_error = "not_in_channel"
    with caplog.at_level(logging.WARNING, logger="picchu.notify.slack"):
        notifier(slack, clock).notify(FAILED)
    assert "not_in_channel" in caplog.text


def test_started_and_released_are_announced_once_and_ramp_steps_are_quiet_by_default(
    slack: FakeSlack, clock: FakeClock
) -> None:
    slack_notifier = notifier(slack, clock)
    slack_notifier.notify(ReleaseEvent(EventKind.ROLLOUT_STARTED, "echo", "v3", "production"))
    slack_notifier.notify(ReleaseEvent(EventKind.ROLLOUT_STEP, "echo", "v3", "production", percent=25))
    slack_notifier.notify(ReleaseEvent(EventKind.RELEASED, "echo", "v3", "production"))
    slack_notifier.notify(ReleaseEvent(EventKind.RELEASED, "echo", "v3", "production"))
    assert slack.posted(CHANNEL) == [
        ":rocket: *ECHO* release `v3` started rolling out in `production`",
        ":white_check_mark: *ECHO* release `v3` is released in `production`",
    ]


def test_ramp_steps_can_be_announced_with_their_traffic_share(slack: FakeSlack, clock: FakeClock) -> None:
    slack_notifier = notifier(slack, clock, events={EventKind.ROLLOUT_STEP})
    for percent in (10, 25, 25):
        slack_notifier.notify(
            ReleaseEvent(EventKind.ROLLOUT_STEP, "echo", "v3", "production", percent=percent)
        )
    assert slack.posted(CHANNEL) == [
        ":arrow_up_small: *ECHO* release `v3` now takes 10% of the traffic in `production`",
        ":arrow_up_small: *ECHO* release `v3` now takes 25% of the traffic in `production`",
    ]


def test_configured_links_become_buttons_for_the_release(slack: FakeSlack, clock: FakeClock) -> None:
    links = {
        "Runbook": "https://runbooks.example/{app}",
        "Dashboard": "https://grafana.example/d/x?var-tag={tag}",
    }
    notifier(slack, clock, links=links).notify(FAILED)
    blocks = slack.channels[CHANNEL][0]["blocks"]
    assert blocks[1]["block_id"] == "useful_links"
    assert [(b["text"]["text"], b["url"]) for b in blocks[1]["elements"]] == [
        ("Runbook", "https://runbooks.example/echo"),
        ("Dashboard", "https://grafana.example/d/x?var-tag=v1"),
    ]


def test_a_bad_link_template_is_refused_naming_the_link() -> None:
    with pytest.raises(ValueError, match="'Runbook'.*placeholders"):
        SlackNotifier("t", CHANNEL, links={"Runbook": "https://x/{application}"})


def test_a_notifier_without_channel_is_refused_with_a_fix() -> None:
    with pytest.raises(ValueError, match="set the Slack channel ID"):
        SlackNotifier("t", "")
