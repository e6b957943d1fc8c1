"""Local stand-ins for Slack's Web API and Sentry's ingest API, for tests using the REAL SDKs.

Why: notification tests must exercise `slack_sdk` and `sentry_sdk` end to end (HTTP, auth headers, JSON,
gzip envelopes) and assert what a user would see (message text in a channel, de-duplication, Sentry event
tags) without the internet. Each fake is a small threaded HTTP server on a free loopback port that records
every request and keeps just enough state to answer like the real service.

* `FakeSlack`: `POST /api/chat.postMessage` appends to the channel; `GET /api/conversations.history`
  returns the newest messages first; `history_error` / `post_error` make those calls answer
  `{"ok": false, "error": ...}` as Slack does. Point `WebClient(base_url=fake.base_url)` at it.
* `FakeSentry`: `POST /api/<project>/envelope/` and `/api/<project>/store/` (gzip/deflate/br bodies) are
  parsed into `events`. Use `fake.dsn()` as the DSN.

Neighbours: `picchu.notify.slack`, `picchu.notify.sentry`; used by tests/notify and the e2e demo.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import urllib.parse
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class _Answer:
    status: int = 200
    body: Any = field(default_factory=dict)


class RecordingServer:
    """A threaded HTTP server on 127.0.0.1:<free port>; subclasses implement `answer(request)`."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                parsed = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = RecordedRequest(
                    method=self.command,
                    path=parsed.path,
                    query=dict(urllib.parse.parse_qsl(parsed.query)),
                    headers={key.lower(): value for key, value in self.headers.items()},
                    body=_decode(self.rfile.read(length), self.headers.get("Content-Encoding", "")),
                )
                with fake.lock:
                    fake.requests.append(request)
                    answer = fake.answer(request)
                payload = json.dumps(answer.body).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _handle

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def answer(self, request: RecordedRequest) -> _Answer:
        return _Answer(404, {"detail": f"no fake for {request.method} {request.path}"})

    def start(self) -> RecordingServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _decode(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "br":
        import brotli  # only if the SDK found brotli installed

        return bytes(brotli.decompress(body))
    return body


class FakeSlack(RecordingServer):
    """The two Slack Web API methods the notifier uses, with per-channel history."""

    def __init__(self) -> None:
        super().__init__()
        self.channels: dict[str, list[dict[str, Any]]] = {}  # newest first
        self.history_error = ""
        self.post_error = ""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def seed(self, channel: str, text: str) -> None:
        """Put a message in a channel as if someone had posted it earlier."""
        with self.lock:
            self.channels.setdefault(channel, []).insert(0, {"type": "message", "text": text, "ts": _ts()})

    def posted(self, channel: str) -> list[str]:
        """Texts posted through chat.postMessage to `channel`, oldest first."""
        with self.lock:
            posts = [r for r in self.requests if r.path == "/api/chat.postMessage"]
        return [body["text"] for body in map(_json, posts) if body.get("channel") == channel]

    def calls(self, method: str) -> list[RecordedRequest]:
        with self.lock:
            return [r for r in self.requests if r.path == f"/api/{method}"]

    def answer(self, request: RecordedRequest) -> _Answer:
        if request.path == "/api/chat.postMessage":
            if self.post_error:
                return _Answer(body={"ok": False, "error": self.post_error})
            body = _json(request)
            if not body.get("channel"):
                return _Answer(body={"ok": False, "error": "channel_not_found"})
            message = {
                "type": "message",
                "text": body.get("text", ""),
                "blocks": body.get("blocks"),
                "ts": _ts(),
            }
            self.channels.setdefault(body["channel"], []).insert(0, message)
            return _Answer(
                body={"ok": True, "channel": body["channel"], "ts": message["ts"], "message": message}
            )
        if request.path == "/api/conversations.history":
            if self.history_error:
                return _Answer(body={"ok": False, "error": self.history_error})
            args = {**request.query, **_json(request)}  # Slack takes arguments as query, form or JSON
            limit = int(args.get("limit", "100"))
            messages = self.channels.get(str(args.get("channel", "")), [])
            return _Answer(body={"ok": True, "messages": messages[:limit], "has_more": len(messages) > limit})
        return super().answer(request)


def _json(request: RecordedRequest) -> dict[str, Any]:
    if request.headers.get("content-type", "").startswith("application/json"):
        return dict(json.loads(request.body or b"{}"))
    return dict(urllib.parse.parse_qsl(request.body.decode()))


def _ts() -> str:
    return f"{time.time():.6f}"


class FakeSentry(RecordingServer):
    """Sentry's ingest endpoints; `events` holds every error/message event received, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []

    def dsn(self, project: str = "42", key: str = "publickey") -> str:
        return f"http://{key}@127.0.0.1:{self.port}/{project}"

    def answer(self, request: RecordedRequest) -> _Answer:
        parts = request.path.strip("/").split("/")  # api/<project>/<envelope|store>
        if (
            request.method == "POST"
            and len(parts) == 3
            and parts[0] == "api"
            and parts[2] in ("envelope", "store")
        ):
            found = parse_envelope(request.body) if parts[2] == "envelope" else [json.loads(request.body)]
            self.events.extend(found)
            return _Answer(body={"id": found[0].get("event_id", "") if found else ""})
        return super().answer(request)

    def wait_for_events(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.events) >= count:
                    return list(self.events)
            time.sleep(0.05)
        raise TimeoutError(f"expected {count} Sentry events within {timeout}s, got {len(self.events)}")


def parse_envelope(body: bytes) -> list[dict[str, Any]]:
    """The `event` items of a Sentry envelope (header line, then item header + payload pairs)."""
    events: list[dict[str, Any]] = []
    _, _, rest = body.partition(b"\n")
    while rest.strip():
        item_header_line, _, rest = rest.partition(b"\n")
        item_header = json.loads(item_header_line)
        if "length" in item_header:
            payload, rest = rest[: item_header["length"]], rest[item_header["length"] :]
            rest = rest[1:] if rest.startswith(b"\n") else rest
        else:
            payload, _, rest = rest.partition(b"\n")
        if item_header.get("type") == "event":
            events.append(json.loads(payload))
    return events


class FakeDatadog(RecordingServer):
    """Datadog's Events API v2 list endpoint (`GET /api/v2/events`), with just enough query matching for
    Picchu's canary query: `*-«app»-canary-monitor AND status:«status» AND version:«tag»`."""

    def __init__(self, api_key: str = "dd-api-key", app_key: str = "dd-app-key") -> None:
        super().__init__()
        self.api_key, self.app_key = api_key, app_key
        self.monitor_events: list[dict[str, str]] = []
        self.fail_with = 0  # an HTTP status to answer with instead (e.g. 500)

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_monitor_event(self, monitor: str, version: str, status: str = "error") -> None:
        with self.lock:
            self.monitor_events.append({"monitor": monitor, "version": version, "status": status})

    def answer(self, request: RecordedRequest) -> _Answer:
        if request.path != "/api/v2/events" or request.method != "GET":
            return super().answer(request)
        if self.fail_with:
            return _Answer(self.fail_with, {"errors": ["fake failure"]})
        if (request.headers.get("dd-api-key"), request.headers.get("dd-application-key")) != (
            self.api_key,
            self.app_key,
        ):
            return _Answer(403, {"errors": ["Forbidden"]})
        terms: dict[str, str] = {}
        for term in request.query.get("filter[query]", "").split(" AND "):
            key, _, value = term.partition(":") if ":" in term else ("monitor", ":", term.lstrip("*"))
            terms[key] = value
        limit = int(request.query.get("page[limit]", "10"))
        found = [
            event
            for event in self.monitor_events
            if event["monitor"].endswith(terms.get("monitor", ""))
            and event["status"] == terms.get("status", event["status"])
            and event["version"] == terms.get("version", event["version"])
        ][:limit]
        data = [
            {
                "id": str(number),
                "type": "event",
                "attributes": {
                    "attributes": {"monitor": {"name": event["monitor"]}, "status": event["status"]},
                    "message": f"{event['monitor']} triggered",
                    "tags": [f"version:{event['version']}"],
                },
            }
            for number, event in enumerate(found, start=1)
        ]
        return _Answer(body={"data": data, "meta": {"page": {}}})
