"""Kubernetes Events for what users must notice: state changes, invalid specs, unreachable clusters.

Events are how `kubectl describe revision` explains what happened. The recorder de-duplicates: the same
(object, reason, message) is emitted once per `repeat_seconds`, so a problem that persists across passes does
not flood the apiserver (every pass over an unchanged world must write nothing).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kubernetes import client

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


@dataclass
class EventRecorder:
    api_client: client.ApiClient | None
    component: str = "picchu"
    repeat_seconds: float = 600.0
    _sent: dict[tuple[ObjectRef, str, str], float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def emit(self, ref: ObjectRef, event_type: str, reason: str, message: str, dedupe: bool = True) -> bool:
        """Record an Event; returns False when it was a recent duplicate or could not be written.
        ``dedupe=False`` is for events that record a change (each one is news, even if a repeat)."""
        key = (ref, reason, message)
        now = time.monotonic()
        with self._lock:
            last = self._sent.get(key)
            if dedupe and last is not None and now - last < self.repeat_seconds:
                return False
            self._sent[key] = now
            if len(self._sent) > 10_000:  # bounded: forget the oldest half
                for old in sorted(self._sent, key=self._sent.__getitem__)[:5_000]:
                    del self._sent[old]
        if self.api_client is None:
            return True
        stamp = datetime.now(UTC)
        body = client.CoreV1Event(
            metadata=client.V1ObjectMeta(generate_name=f"{ref.name}.", namespace=ref.namespace),
            involved_object=client.V1ObjectReference(
                api_version=ref.api_version, kind=ref.kind, namespace=ref.namespace, name=ref.name,
                uid=ref.uid or None,
            ),
            reason=reason,
            message=message[:1024],
            type=event_type,
            source=client.V1EventSource(component=self.component),
            first_timestamp=stamp,
            last_timestamp=stamp,
            count=1,
            reporting_component=self.component,
            reporting_instance=self.component,
        )
        try:
            client.CoreV1Api(self.api_client).create_namespaced_event(ref.namespace, body)
        except Exception as exc:  # events are best effort; never fail a pass because of one
            log.warning("could not record event %s on %s/%s: %s", reason, ref.kind, ref.name, exc)
            return False
        return True
