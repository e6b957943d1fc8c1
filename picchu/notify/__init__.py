"""Telling people about releases: a `Notifier` Protocol, Slack and Sentry implementations, a Null one.

Notifiers are best-effort (they never raise); the engine builds one `ReleaseEvent` per transition and calls
`notify`. Use `Fanout([...])` to send to several.
"""

from picchu.notify.events import FAILURES, Background, EventKind, Fanout, Notifier, NullNotifier, ReleaseEvent
from picchu.notify.sentry import SentryNotifier
from picchu.notify.slack import SlackNotifier

__all__ = [
    "Background",
    "FAILURES",
    "EventKind",
    "Fanout",
    "Notifier",
    "NullNotifier",
    "ReleaseEvent",
    "SentryNotifier",
    "SlackNotifier",
]
