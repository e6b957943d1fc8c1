"""Raw requests to one cluster's API server, with a deadline, and the discovery of where each kind lives.

Why raw requests instead of the generated per-kind APIs or `DynamicClient`: the applier is generic (plans are
data, with no per-kind writer), and `DynamicClient` discovers every API group of the cluster up front (dozens
of requests with Istio, KEDA and prometheus-operator installed). Here discovery is lazy: one GET per API
group-version actually used, cached per connection.

Neighbours: `connection.ClusterConnection` supplies the client and the credential redactor; the applier
and observer call `send` and `Discovery.locate`.

Invariants: every request carries a timeout derived from the caller's `Deadline`; no exception text leaves
this module without passing through the connection's redactor; an unreachable server raises `Unreachable`
while any HTTP answer (including 4xx/5xx) is returned as a `Response` for the caller to judge.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from picchu.clusters.connection import ClusterConnection
from picchu.clusters.desired import split_api_version

APPLY_PATCH = "application/apply-patch+yaml"
JSON_PATCH = "application/json-patch+json"
# Lists of metadata only: what pruning needs, without pulling Secret data or pod templates over the wire.
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json"
# Short: an apiserver accepts a TCP connection in milliseconds even when busy; a black-holed address would
# otherwise hold a worker for the whole budget. Each cluster's `Breaker` then makes later requests fail at once.
_CONNECT_TIMEOUT = 3.0
_SLOW_FAILURE = 1.0  # a failure that took this long opens the cluster's breaker; a refusal is fast already
_ADDRESS = re.compile(r" (object )?at 0x[0-9a-fA-F]+")  # differs on every attempt: keep messages stable


class RequestFailed(Exception):
    """One request could not do its job; the message is redacted and says why.

    ``status`` is the HTTP status when the API server answered (None when it did not).
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Unreachable(RequestFailed):
    """The API server did not answer (refused, reset, TLS failure, timeout): later requests would fail too."""


class DeadlineExceeded(Unreachable):
    """The cluster's time budget for this pass ran out before the request was sent."""


class Deadline:
    """A point in time (monotonic) after which no more requests are sent to a cluster in this pass."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        return self._end - time.monotonic()

    def request_timeout(self) -> tuple[float, float]:
        left = self.remaining()
        if left <= 0:
            raise DeadlineExceeded(f"timed out: the {self.seconds:g}s budget for this cluster ran out")
        return (min(_CONNECT_TIMEOUT, left), left)


@dataclass(frozen=True)
class Response:
    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def require(self) -> Response:
        """This response, or `RequestFailed` carrying the API server's reason when it is not a success."""
        if not self.ok:
            raise RequestFailed(self.reason(), self.status)
        return self

    def reason(self) -> str:
        """The API server's own explanation (Status.message), prefixed with the HTTP status."""
        message = self.body.get("message") if isinstance(self.body, Mapping) else None
        return f"HTTP {self.status}: {message or self.body or 'no message'}"


def send(connection: ClusterConnection, method: str, path: str, deadline: Deadline, *,
         query: Sequence[tuple[str, str]] = (), body: Any = None, content_type: str | None = None,
         accept: str = "application/json") -> Response:
    """One HTTP request to the cluster; raises `Unreachable` when there is no HTTP answer."""
    api = connection.api
    headers = {"Accept": accept}
    if content_type:
        headers["Content-Type"] = content_type
    try:
        json.dumps(body)  # a body that is not JSON fails this request only, not the cluster
        request = api.param_serialize(method, path, query_params=list(query) or None, header_params=headers,
                                      body=body, auth_settings=["BearerToken"])
    except Exception as error:
        raise RequestFailed(f"request not sent: {connection.redact(f'{type(error).__name__}: {error}')}") from None
    remembered = connection.breaker.check()
    if remembered is not None:  # it did not answer a moment ago: do not spend this pass's budget on it
        raise Unreachable(remembered)
    started = time.monotonic()
    try:
        answer = api.call_api(*request, _request_timeout=deadline.request_timeout())
        raw = answer.read()
    except DeadlineExceeded:
        connection.breaker.abandoned()
        raise
    except Exception as error:  # urllib3, ssl, socket and exec-plugin errors all mean "no answer"
        if connection.on_request is not None:
            connection.on_request(connection.name, method, None)
        detail = _ADDRESS.sub("", connection.redact(str(error))) or type(error).__name__
        reason = f"cluster {connection.name} unreachable: {type(error).__name__}: {detail}"
        if _read_timeout(error):
            connection.breaker.abandoned()  # connected but slow to answer: an overloaded apiserver is alive
        elif time.monotonic() - started >= _SLOW_FAILURE:
            connection.breaker.failed(reason)  # no connection within a timeout: spare the next requests that wait
        else:
            connection.breaker.refused_at_once()  # already fast, and retried as soon as it is back
        raise Unreachable(reason) from None
    connection.breaker.answered(credentials_rejected=answer.status == 401)
    if connection.on_request is not None:
        connection.on_request(connection.name, method, answer.status)
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = connection.redact(raw[:200].decode(errors="replace"))
    if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
        parsed["message"] = connection.redact(parsed["message"])
    return Response(answer.status, parsed)


def _read_timeout(error: BaseException) -> bool:
    """The server accepted the connection but did not answer in time (urllib3's ReadTimeoutError)."""
    text = f"{type(error).__name__} {error}"
    return "ReadTimeout" in text or "Read timed out" in text


@dataclass(frozen=True)
class Location:
    """Where a kind lives: its URL path prefix, plural resource name and whether it is namespaced."""

    base: str
    plural: str
    namespaced: bool

    def collection(self, namespace: str) -> str:
        scope = f"/namespaces/{quote(namespace, safe='')}" if self.namespaced and namespace else ""
        return f"{self.base}{scope}/{self.plural}"

    def item(self, namespace: str, name: str) -> str:
        # Quoted: a rendered name such as "../../secrets" must never address another path.
        return f"{self.collection(namespace)}/{quote(name, safe='')}"


class NotInstalled(RequestFailed):
    """The cluster does not serve this apiVersion/kind (its CRD is not installed)."""


class Discovery:
    """Lazy, per-connection cache of `Location`s, filled with one GET per API group-version.

    Missing group-versions are not cached, so a CRD installed later is found on the next pass.
    Every object of every pass looks here, so it takes no lock: a dict read or store is atomic, a listing is
    replaced whole, and two threads discovering the same group-version at once only repeat one GET. (With a
    lock, ~90 cluster threads of a 500-app rollout queued on it, each waiting for the GIL to hand over.)
    """

    def __init__(self) -> None:
        self._found: dict[tuple[str, str], dict[str, Location]] = {}

    def locate(self, connection: ClusterConnection, api_version: str, kind: str,
               deadline: Deadline) -> Location:
        cache_key = (connection.identity, api_version)
        kinds = self._found.get(cache_key)
        if kinds is None or kind not in kinds:  # a cached listing may predate a CRD's installation
            kinds = self._discover(connection, api_version, deadline)
            self._found[cache_key] = kinds
        location = kinds.get(kind)
        if location is None:
            raise NotInstalled(f"kind {kind} is not served by {api_version} on cluster {connection.name}")
        return location

    def _discover(self, connection: ClusterConnection, api_version: str,
                  deadline: Deadline) -> dict[str, Location]:
        group, version = split_api_version(api_version)
        base = f"/apis/{group}/{version}" if group else f"/api/{version}"
        response = send(connection, "GET", base, deadline)
        if response.status == 404:
            raise NotInstalled(f"{api_version} is not served on cluster {connection.name} (CRD not installed?)")
        if not response.ok:
            raise RequestFailed(f"discovery of {api_version} on cluster {connection.name} failed: "
                                f"{response.reason()}", response.status)
        kinds: dict[str, Location] = {}
        for resource in response.body.get("resources", []):
            if "/" not in resource.get("name", ""):  # skip subresources such as replicasets/scale
                kinds[resource["kind"]] = Location(base, resource["name"], bool(resource.get("namespaced")))
        return kinds

    def forget(self, identity: str) -> None:
        """Drop what was learned through one connection (its client was rebuilt)."""
        for cache_key in [k for k in self._found.copy() if k[0] == identity]:
            self._found.pop(cache_key, None)
