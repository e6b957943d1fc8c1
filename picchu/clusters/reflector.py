"""List once, then watch: one collection of one cluster mirrored in memory, re-listed only when it must be.

Why: reading a cluster per pass costs one request per app per cluster per period; a watch costs one long
request per cluster per kind, whatever the number of apps, and tells us of changes within milliseconds.
This is the client-go reflector in miniature: LIST (one consistent snapshot and its resourceVersion), then
WATCH from that resourceVersion with bookmarks (so an idle stream still advances it and a reconnect rarely
finds it expired), reconnect from the last resourceVersion when the server ends the stream, and LIST again
only on 410 Gone (the version expired) or after an error.

Neighbours: `observer.WatchingObserver` keeps one per target cluster for ReplicaSets; the engine's
`watched.DeliveryStore` keeps one per delivery namespace for Secrets. Requests go through the connection's
`ApiClient` (its credentials, TLS and pool) exactly like `transport.send`.

Invariants: while `healthy` is false (never listed, or the last LIST/WATCH failed and no LIST succeeded
since), readers must treat the cluster as unknown: `items` raises `NotSynced`. Error text is redacted.
Objects are kept as the projection `project` returns (small, immutable by convention), keyed by
namespace/name.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from kubernetes import client

log = logging.getLogger(__name__)
Projection = Callable[[Mapping[str, Any]], Any]
ChangeHook = Callable[[str], None]  # told the namespace where something changed
_CONNECT_TIMEOUT = 5.0


class NotSynced(Exception):
    """The collection is not known right now (never listed, or its watch is down); the message says why."""


class _Gone(Exception):
    """The watched resourceVersion expired (410): only a new LIST can continue."""


def _identity(obj: Any) -> Any:
    return obj


class Reflector:
    """Mirror of the objects at ``path`` (a collection URL, e.g. ``/apis/apps/v1/replicasets``) matching
    ``label_selector``; runs in a daemon thread after `start`."""

    def __init__(self, api: client.ApiClient, path: str, *, name: str, label_selector: str = "",
                 project: Projection = _identity, on_change: ChangeHook | None = None,
                 watch_seconds: int = 240, request_timeout: float = 10.0,
                 redact: Callable[[str], str] = str, backoff: Sequence[float] = (0.5, 1, 2, 4, 8)) -> None:
        self.api, self.path, self.name = api, path, name
        self.label_selector = label_selector
        self.project, self.on_change, self.redact = project, on_change, redact
        self.watch_seconds, self.request_timeout, self.backoff = watch_seconds, request_timeout, tuple(backoff)
        self._objects: dict[str, dict[str, Any]] = {}  # namespace -> name -> projection
        self._healthy = False
        self._problem = "not listed yet"
        self._attempted = False
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._wake = threading.Event()  # ends a back-off wait early: stop, or `retry_now`
        self._thread: threading.Thread | None = None
        self._response: Any = None
        self.lists = 0  # LISTs sent (a test and the bench read it)

    # --- readers -----------------------------------------------------------------------------
    @property
    def healthy(self) -> bool:
        with self._cond:
            return self._healthy

    def wait_attempted(self, timeout: float) -> bool:
        """Wait until the first LIST succeeded or failed (so a first reader gets an answer, not a guess)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._attempted, timeout=max(0.0, timeout))

    def items(self, namespace: str | None = None) -> list[Any]:
        """The projections of every object (of ``namespace`` only, when given); raises `NotSynced`."""
        with self._cond:
            if not self._healthy:
                raise NotSynced(self._problem)
            if namespace is not None:
                return list(self._objects.get(namespace, {}).values())
            return [v for names in self._objects.values() for v in names.values()]

    def get(self, namespace: str, name: str) -> Any:
        """One object's projection, or None when it does not exist; raises `NotSynced`."""
        with self._cond:
            if not self._healthy:
                raise NotSynced(self._problem)
            return self._objects.get(namespace, {}).get(name)

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Reflector:
        self._thread = threading.Thread(target=self._run, name=f"reflector-{self.name}", daemon=True)
        self._thread.start()
        return self

    def retry_now(self) -> None:
        """The cluster answered someone else: if the loop is backing off after a failure, LIST again now."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        response = self._response
        if response is not None:  # unblock a read waiting on an idle stream
            try:
                response.release_conn()
            except Exception:  # noqa: S110 (best effort: the thread ends at its next read anyway)
                pass

    # --- the loop ----------------------------------------------------------------------------
    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                version = self._list()
                failures = 0
                while not self._stop.is_set():
                    version = self._watch(version)
            except _Gone:
                continue  # re-list at once; the store stays readable meanwhile (it is only slightly old)
            except Exception as error:
                if self._stop.is_set():
                    break
                problem = self.redact(f"{type(error).__name__}: {error}")[:300]
                self._set_down(f"{self.name} unreachable, its watch is down: {problem}")
                delay = self.backoff[min(failures, len(self.backoff) - 1)] if self.backoff else 1.0
                failures += 1
                self._wake.wait(delay)
                self._wake.clear()

    def _set_down(self, problem: str) -> None:
        with self._cond:
            if self._healthy:
                log.warning("%s", problem)
            self._healthy, self._problem, self._attempted = False, problem, True
            self._cond.notify_all()

    def _request(self, query: list[tuple[str, str]], read_timeout: float) -> Any:
        if self.label_selector:
            query.append(("labelSelector", self.label_selector))
        request = self.api.param_serialize("GET", self.path, query_params=query,
                                           header_params={"Accept": "application/json"},
                                           auth_settings=["BearerToken"])
        answer = self.api.call_api(*request, _request_timeout=(_CONNECT_TIMEOUT, read_timeout))
        return answer

    def _list(self) -> str:
        answer = self._request([], self.request_timeout)
        raw = answer.read()
        self.lists += 1
        if answer.status == 410:
            raise _Gone()
        if not 200 <= answer.status < 300:
            raise RuntimeError(f"LIST {self.path} answered HTTP {answer.status}: {raw[:200]!r}")
        body = json.loads(raw)
        objects: dict[str, dict[str, Any]] = {}
        for item in body.get("items") or []:
            meta = item.get("metadata") or {}
            objects.setdefault(meta.get("namespace") or "", {})[meta.get("name") or ""] = self.project(item)
        with self._cond:
            old, self._objects = self._objects, objects
            self._healthy, self._problem, self._attempted = True, "", True
            self._cond.notify_all()
        if self.on_change is not None:
            for namespace in set(old) | set(objects):
                if old.get(namespace) != objects.get(namespace):
                    self.on_change(namespace)
        return str((body.get("metadata") or {}).get("resourceVersion") or "")

    def _watch(self, version: str) -> str:
        query = [("watch", "1"), ("allowWatchBookmarks", "true"), ("timeoutSeconds", str(self.watch_seconds))]
        if version:
            query.append(("resourceVersion", version))
        answer = self._request(query, self.watch_seconds + 30.0)
        if answer.status == 410:
            answer.read()
            raise _Gone()
        if not 200 <= answer.status < 300:
            raise RuntimeError(f"WATCH {self.path} answered HTTP {answer.status}: {answer.read()[:200]!r}")
        self._response = answer.response
        try:
            for event in _events(answer.response):
                version = self._apply(event, version)
                if self._stop.is_set():
                    break
        finally:
            self._response = None
            answer.response.release_conn()
        return version

    def _apply(self, event: Mapping[str, Any], version: str) -> str:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise _Gone()
            raise RuntimeError(f"watch error: {obj.get('message') or obj}")
        meta = obj.get("metadata") or {}
        version = str(meta.get("resourceVersion") or version)
        if kind == "BOOKMARK":
            return version
        namespace, name = meta.get("namespace") or "", meta.get("name") or ""
        value = None if kind == "DELETED" else self.project(obj)
        with self._cond:
            names = self._objects.setdefault(namespace, {})
            if value is None:
                names.pop(name, None)
                if not names:
                    del self._objects[namespace]
            else:
                names[name] = value
        if self.on_change is not None:
            self.on_change(namespace)
        return version


def _events(response: Any) -> Iterator[dict[str, Any]]:
    """The JSON events of a watch stream, one per line, however the chunks split them."""
    buffer = b""
    for chunk in response.stream(64 * 1024, decode_content=True):
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                yield json.loads(line)
