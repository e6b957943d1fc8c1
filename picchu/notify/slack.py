"""`SlackNotifier`: release events as Slack messages, without repeating a failure already announced.

Wording follows Picchu's Slack client (§13.3), adapted from its Datadog canary to our alerts and rollbacks:
`:failure-error-cross-x: :canary: *ECHO* release `v1` is failing in `production``, then a line naming the
triggered alerts. Before posting, the last `HISTORY_SIZE` messages of the channel are read (cached per
channel for `history_ttl_seconds`, Picchu's `--slack-query-ttl`, 120 s) and the post is skipped when one
already announces the same thing: for failures, a message holding the failure marker, the tag and the
upper-cased app (Picchu's rule); for other events, the same first line. A history error is logged and the
message is posted anyway (a duplicate beats silence). The cache entry is dropped after each post so a
second event within the TTL sees the first message.

The channel is a required setting: Picchu's hard-coded test channel is §17 #25. `base_url` points the real
`slack_sdk.WebClient` at another endpoint (tests use `picchu.testing.fake_services.FakeSlack`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

from picchu.notify.events import EventKind, ReleaseEvent

log = logging.getLogger(__name__)

FAILURE_MARKER = ":failure-error-cross-x: :canary:"
HISTORY_SIZE = 5
DEFAULT_EVENTS = frozenset(
    {EventKind.ROLLOUT_STARTED, EventKind.RELEASED, EventKind.REVISION_FAILED, EventKind.ROLLED_BACK}
)


def headline(event: ReleaseEvent) -> str:
    """The first line of the message for `event`."""
    app, tag = f"*{event.app.upper()}*", f"`{event.tag}`"
    where = f" in `{event.target}`" if event.target else ""
    if event.kind is EventKind.REVISION_FAILED:
        return f"{FAILURE_MARKER} {app} release {tag} is failing{where}"
    if event.kind is EventKind.ROLLED_BACK:
        return f"{FAILURE_MARKER} {app} release {tag} is failing and was rolled back{where}"
    if event.kind is EventKind.ROLLOUT_STARTED:
        return f":rocket: {app} release {tag} started rolling out{where}"
    if event.kind is EventKind.ROLLOUT_STEP:
        return f":arrow_up_small: {app} release {tag} now takes {event.percent or 0}% of the traffic{where}"
    return f":white_check_mark: {app} release {tag} is released{where}"


def message_text(event: ReleaseEvent) -> str:
    lines = [headline(event)]
    if event.alerts:
        lines.append(":rotating_light: Triggered alerts " + ", ".join(f"`{name}`" for name in event.alerts))
    if event.reason:
        lines.append(event.reason)
    return "\n".join(lines)


def already_announced(event: ReleaseEvent, recent_texts: Collection[str]) -> bool:
    if event.kind.is_failure:
        return any(
            FAILURE_MARKER in text and event.tag in text and event.app.upper() in text
            for text in recent_texts
        )
    first_line = headline(event)
    return any(text.split("\n", 1)[0] == first_line for text in recent_texts)


class SlackNotifier:
    def __init__(
        self,
        token: str,
        channel: str,
        *,
        base_url: str = "https://slack.com/api/",
        history_ttl_seconds: float = 120.0,
        events: Collection[EventKind] = DEFAULT_EVENTS,
        links: Mapping[str, str] | None = None,
        timeout_seconds: int = 10,
        clock: Callable[[], float] = time.monotonic,
    ):
        """`links`: button label → URL template with {app}, {tag}, {target} (e.g. a runbook or dashboard)."""
        if not channel:
            raise ValueError("slack channel is empty: set the Slack channel ID to post release events to")
        self.channel = channel
        self.events = frozenset(events)
        self.links = dict(links or {})
        for label, template in self.links.items():
            try:
                template.format(app="app", tag="tag", target="target")
            except (KeyError, IndexError, ValueError) as error:
                raise ValueError(
                    f"slack link {label!r}: bad URL template {template!r} ({error!r}); "
                    "use only the placeholders {app}, {tag} and {target}"
                ) from None
        from slack_sdk import WebClient  # here: an operator without Slack never loads the SDK

        self._client = WebClient(
            token=token,
            base_url=base_url if base_url.endswith("/") else base_url + "/",
            timeout=timeout_seconds,
        )
        self._ttl = history_ttl_seconds
        self._clock = clock
        self._history: tuple[float, list[str]] | None = None
        self._lock = threading.Lock()

    def notify(self, event: ReleaseEvent) -> None:
        if event.kind not in self.events:
            return
        with self._lock:  # one check-then-post at a time, or two workers could both post
            if already_announced(event, self._recent_texts()):
                log.info(
                    "slack: %s %s/%s already announced in %s", event.kind, event.app, event.tag, self.channel
                )
                return
            try:
                self._client.chat_postMessage(
                    channel=self.channel, text=message_text(event), blocks=self._blocks(event)
                )
            except Exception as error:
                log.warning(
                    "slack: posting %s %s/%s to %s failed: %s",
                    event.kind,
                    event.app,
                    event.tag,
                    self.channel,
                    error,
                )
            self._history = None

    def _recent_texts(self) -> list[str]:
        now = self._clock()
        if self._history is not None and now - self._history[0] < self._ttl:
            return self._history[1]
        try:
            answer = self._client.conversations_history(channel=self.channel, limit=HISTORY_SIZE)
            messages: list[dict[str, Any]] = answer.get("messages", [])
            texts = [str(message.get("text", "")) for message in messages]
        except Exception as error:  # errors are not cached: the next event asks again
            log.warning("slack: reading the history of %s failed (posting anyway): %s", self.channel, error)
            return []
        self._history = (now, texts)
        return texts

    def _blocks(self, event: ReleaseEvent) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": message_text(event)}}
        ]
        if self.links:
            values = {"app": event.app, "tag": event.tag, "target": event.target}
            buttons = [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": label},
                    "url": template.format(**values),
                }
                for label, template in self.links.items()
            ]
            blocks.append({"type": "actions", "block_id": "useful_links", "elements": buttons})
        return blocks
