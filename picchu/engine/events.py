"""Kubernetes Events for what users must notice: state changes, traffic steps, invalid specs, unreachable clusters.

Events are how `kubectl describe revision` explains what happened. Repeats are aggregated the way the
Kubernetes event correlator does it, never dropped: an identical Event (same object, type, reason, message)
increments the existing Event's `count` and moves its `lastTimestamp`, so `kubectl describe` shows
"(x5 over 10m)" and, after a state went away and came back, the Event reappears as the latest one. Only a
repeat of the *latest* Event of an object is written at most once per `repeat_seconds` (its count kept in
memory meanwhile), so a problem that persists across passes does not write on every pass.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from picchu.clusters import core_api

log = logging.getLogger(__name__)

NORMAL = "Normal"
WARNING = "Warning"


@dataclass(frozen=True)
class ObjectRef:
    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str = ""

    @classmethod
    def of(cls, obj: dict[str, Any]) -> ObjectRef:
        meta = obj.get("metadata", {})
        return cls(obj.get("apiVersion", ""), obj.get("kind", ""), meta.get("namespace", ""), meta.get("name", ""),
                   meta.get("uid", ""))


@dataclass(slots=True)
class _Seen:
    name: str
    count: int
    first: datetime
    written_at: float  # monotonic time of the last write
    unwritten: int = 0  # repeats counted but not yet written


@dataclass
class EventRecorder:
    """``forget_seconds``: an Event neither repeated nor rewritten for this long is forgotten (the apiserver
    deletes Events an hour after their last write by default, so there is nothing left to aggregate into);
    memory then follows the last hour's activity, not the fleet's history. Events are remembered by a 16-byte
    digest of (object, type, reason, message), not by those strings, in plain dicts kept in the order of their
    last write (so the oldest are found first) and swept once per `sweep_seconds`: ~0.3 KiB per Event, where
    two `cachetools.TTLCache`s (a linked list, a size table and a link object per entry) took ~0.65 KiB and
    a 500-app rollout leaves ~6,000 of them. An object's latest Event is remembered while that Event is."""

    api_client: client.ApiClient | None
    component: str = "picchu"
    repeat_seconds: float = 600.0
    forget_seconds: float = 3600.0
    sweep_seconds: float = 60.0
    max_remembered: int = 10_000
    _seen: dict[bytes, _Seen] = field(default_factory=dict)  # in the order of their last write
    _latest: dict[bytes, bytes] = field(default_factory=dict)  # object digest -> its latest Event's digest
    _swept: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def remembered(self) -> int:
        """How many Events are remembered for aggregation."""
        cutoff = time.monotonic() - self.forget_seconds
        with self._lock:
            return sum(seen.written_at > cutoff for seen in self._seen.values())

    def emit(self, ref: ObjectRef, event_type: str, reason: str, message: str, dedupe: bool = True) -> bool:
        """Record an Event or aggregate it into its earlier copy; returns False when nothing was written.
        ``dedupe=False`` is for events that record a change (each one is news): a repeat is written at once."""
        message = message[:1024]
        key, ref_key = _digest(ref, event_type, reason, message), _digest(ref)
        now = time.monotonic()
        stamp = datetime.now(UTC)
        with self._lock:
            self._forget_old(now)
            seen = self._seen.get(key)
            if seen is not None and now - seen.written_at >= self.forget_seconds:
                seen = None  # forgotten, though not swept yet
            repeat_of_latest = self._latest.get(ref_key) == key
            self._latest[ref_key] = key
            if seen is not None:
                seen.count += 1
                if dedupe and repeat_of_latest and now - seen.written_at < self.repeat_seconds:
                    seen.unwritten += 1
                    return False
                seen.written_at, seen.unwritten = now, 0
                name, count, first = seen.name, seen.count, seen.first
            else:
                name, count, first = "", 1, stamp
        if self.api_client is None:
            if seen is None:
                with self._lock:
                    self._remember(key, _Seen(f"{ref.name}.local", 1, stamp, now))
            return True
        api = self.api_client
        try:
            if name:
                try:
                    core_api.patch(api, "Event", ref.namespace, name, {"count": count, "lastTimestamp": _time(stamp)})
                    with self._lock:
                        if seen is not None:
                            self._remember(key, seen)  # written again: remembered for another forget_seconds
                    return True
                except ApiException as exc:
                    if exc.status != 404:  # the Event expired (TTL 1 h by default): write a fresh one
                        raise
            created = core_api.create(api, "Event", ref.namespace, self._body(ref, event_type, reason, message,
                                                                              first, stamp, count))
        except Exception as exc:  # events are best effort; never fail a pass because of one
            log.warning("could not record event %s on %s/%s: %s", reason, ref.kind, ref.name, exc)
            return False
        with self._lock:
            self._remember(key, _Seen(created["metadata"]["name"], count, first, now))
        return True

    def _remember(self, key: bytes, seen: _Seen) -> None:
        """Store `seen` as the most recently written (the lock is held); beyond the limit the oldest goes."""
        self._seen.pop(key, None)
        self._seen[key] = seen
        if len(self._seen) > self.max_remembered:
            del self._seen[next(iter(self._seen))]

    def _forget_old(self, now: float) -> None:
        """Once per `sweep_seconds`, forget Events last written `forget_seconds` ago (the lock is held)."""
        if now - self._swept < self.sweep_seconds:
            return
        self._swept, cutoff = now, now - self.forget_seconds
        self._seen = {key: seen for key, seen in self._seen.items() if seen.written_at > cutoff}
        self._latest = {ref: key for ref, key in self._latest.items() if key in self._seen}

    def _body(self, ref: ObjectRef, event_type: str, reason: str, message: str, first: datetime, last: datetime,
              count: int) -> dict[str, Any]:
        involved = {"apiVersion": ref.api_version, "kind": ref.kind, "namespace": ref.namespace, "name": ref.name}
        if ref.uid:
            involved["uid"] = ref.uid
        return {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"generateName": f"{ref.name}.", "namespace": ref.namespace},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "type": event_type,
            "source": {"component": self.component},
            "firstTimestamp": _time(first),
            "lastTimestamp": _time(last),
            "count": count,
            "reportingComponent": self.component,
            "reportingInstance": self.component,
        }


def _digest(*parts: object) -> bytes:
    """16 bytes naming an Event (or an object): a collision would need ~2^64 Events."""
    return hashlib.blake2b("\0".join(map(repr, parts)).encode(), digest_size=16).digest()


def _time(stamp: datetime) -> str:
    """RFC 3339 in UTC with a Z, as the apiserver writes (and `kubectl describe` reads) Event times."""
    return stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
