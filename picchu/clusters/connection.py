"""A connection to one target cluster, and how it is built from a Cluster and its credentials Secret (§3.5).

Neighbours: `pool.ClientPool` caches the connections built here; `transport` sends requests through them;
the applier and the observer receive them from the controller.

Invariants:
- Credentials never leave this module in text: every message that may have seen them goes through the
  connection's `Redactor`, `ClusterConnection` does not show its client in `repr`, and configuration errors
  name the Cluster/Secret field and the fix but never quote a credential.
- The kubeconfig is built in memory per cluster (the global `load_kube_config` is racy across threads).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client, config

from picchu import keys
from picchu.clusters.breaker import Breaker
from picchu.clusters.tls_context import share_tls_context

DEFAULT_NAMESPACE = "picchu"
# Kubeconfig user fields that make the client run a program or read a local file: anyone who can write a
# Secret in the delivery namespace could otherwise run commands in the operator (found by the reliability
# suite's hostile input: an `exec` user ran `touch`). Credentials must be inline.
_REFUSED_USER_FIELDS = frozenset({"exec", "auth-provider", "tokenFile", "client-certificate", "client-key"})
_STRING_USER_FIELDS = ("token", "client-certificate-data", "client-key-data", "username", "password")
_MIN_SECRET_LENGTH = 6


class ClusterConfigError(ValueError):
    """A Cluster or its credentials Secret cannot be turned into a client; the message says what to fix."""


RequestObserver = Callable[[str, str, int | None], None]


class Redactor:
    """Replaces every credential string it was given with ``<redacted>`` in any text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        words = {s for s in secrets if isinstance(s, str) and len(s) >= _MIN_SECRET_LENGTH}
        # Longest first so a secret containing another is removed whole.
        self._pattern = (re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)))
                         if words else None)

    def __call__(self, text: str) -> str:
        return self._pattern.sub("<redacted>", text) if self._pattern else text


def credential_strings(auth_info: Any) -> list[str]:
    """Every string inside a kubeconfig user object (tokens, keys, passwords, exec args) and its base64."""
    found: list[str] = []
    if isinstance(auth_info, str):
        found.append(auth_info)
        found.append(base64.b64encode(auth_info.encode()).decode())
        try:
            decoded = base64.b64decode(auth_info, validate=True).decode()
            found.append(decoded)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            pass
    elif isinstance(auth_info, Mapping):
        for value in auth_info.values():
            found.extend(credential_strings(value))
    elif isinstance(auth_info, list):
        for value in auth_info:
            found.extend(credential_strings(value))
    return found


@dataclass(frozen=True)
class ClusterConnection:
    """What the controller passes around for one target cluster.

    ``name`` is the Cluster's name, ``live`` is false for hot-standby clusters, ``api`` is the cluster's
    `kubernetes.client.ApiClient`, ``identity`` changes whenever the client is rebuilt (the applier keys its
    memory of past writes by it), ``redact`` scrubs this cluster's credentials from text, ``breaker``
    remembers that the cluster did not answer (`transport.send` then fails fast).
    """

    name: str
    live: bool
    api: client.ApiClient = field(repr=False, compare=False)
    identity: str = ""
    redact: Redactor = field(default_factory=Redactor, repr=False, compare=False)
    on_request: RequestObserver | None = field(default=None, repr=False, compare=False)
    """Told of every request (cluster, HTTP method, status or None when no answer came), for metrics."""
    breaker: Breaker = field(default_factory=Breaker, repr=False, compare=False)
    """Shared by every copy of this connection: a cluster that did not answer fails fast for a while."""

    @property
    def server(self) -> str:
        return str(self.api.configuration.host)


@dataclass(frozen=True)
class ClusterAccess:
    """Everything needed to build one cluster's client, read from a Cluster and its Secret."""

    namespace: str
    name: str
    live: bool
    server: str
    ca_data: str
    auth_info: Mapping[str, Any] = field(repr=False)
    secret_version: str

    @property
    def fingerprint(self) -> tuple[str, str, str, str]:
        return (self.secret_version, self.server, self.ca_data, json.dumps(self.auth_info, sort_keys=True))

    def kubeconfig(self) -> dict[str, Any]:
        name = f"{self.namespace}/{self.name}"
        return {
            "apiVersion": "v1", "kind": "Config", "current-context": name,
            "clusters": [{"name": name, "cluster": {"server": self.server,
                                                    "certificate-authority-data": self.ca_data}}],
            "users": [{"name": name, "user": dict(self.auth_info)}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name,
                                                    "namespace": DEFAULT_NAMESPACE}}],
        }


def _field(obj: Mapping[str, Any], *path: str) -> Any:
    value: Any = obj
    for part in path:
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def read_access(cluster: Mapping[str, Any], secret: Mapping[str, Any] | None) -> ClusterAccess:
    """Read a Cluster (wire dict) and its same-named Secret from the delivery cluster.

    Pass pydantic models as ``model.model_dump(by_alias=True, mode="json")``. Raises `ClusterConfigError`.
    """
    namespace = str(_field(cluster, "metadata", "namespace") or "")
    name = str(_field(cluster, "metadata", "name") or "")
    where = f"Cluster {namespace}/{name}"
    if not name:
        raise ClusterConfigError("Cluster metadata.name: missing; a Cluster needs a name")
    server = _field(cluster, "spec", "config", "server")
    if not isinstance(server, str) or not server:
        raise ClusterConfigError(f"{where} spec.config.server: missing; set it to the API server URL")
    ca_data = _field(cluster, "spec", "config", "certificate-authority-data")
    if not isinstance(ca_data, str) or not ca_data:
        raise ClusterConfigError(f"{where} spec.config.certificate-authority-data: missing; set it to the "
                                 "base64-encoded CA bundle of the API server")
    try:
        base64.b64decode(ca_data, validate=True)
    except (binascii.Error, ValueError):
        raise ClusterConfigError(f"{where} spec.config.certificate-authority-data: not valid base64; "
                                 "encode the PEM CA bundle with base64") from None
    if secret is None:
        raise ClusterConfigError(f"Secret {namespace}/{name}: missing; create it next to the Cluster with key "
                                 f"{keys.SECRET_AUTH_INFO_KEY} holding a JSON kubeconfig user object")
    auth_info = _auth_info(secret, f"Secret {namespace}/{name}")
    version = str(_field(secret, "metadata", "resourceVersion") or "")
    live = not bool(_field(cluster, "spec", "hotStandby"))
    return ClusterAccess(namespace, name, live, server, ca_data, auth_info, version)


def _auth_info(secret: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    key = keys.SECRET_AUTH_INFO_KEY
    path = f"{where} data.{key}"
    encoded = _field(secret, "data", key)
    if encoded is None and isinstance(_field(secret, "stringData", key), str):
        raw = _field(secret, "stringData", key).encode()
    elif isinstance(encoded, str):
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ClusterConfigError(f"{path}: not valid base64; store the JSON user object base64-encoded "
                                     "(kubectl create secret does it for you)") from None
    else:
        raise ClusterConfigError(f"{path}: missing; put a JSON kubeconfig user object there, e.g. "
                                 '{"token": "..."}')
    try:
        parsed = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ClusterConfigError(f"{path}: not valid JSON; it must be a JSON kubeconfig user object such as "
                                 '{"token": "..."}') from None
    if not isinstance(parsed, dict) or not parsed:
        raise ClusterConfigError(f"{path}: must be a non-empty JSON object (a kubeconfig user), such as "
                                 '{"token": "..."}')
    refused = sorted(set(parsed) & _REFUSED_USER_FIELDS)
    if refused:
        raise ClusterConfigError(f"{path}: {', '.join(refused)} not accepted: they would run a command or read a "
                                 "file inside the operator; use token, or client-certificate-data and "
                                 "client-key-data")
    wrong = sorted(k for k in _STRING_USER_FIELDS if k in parsed and not isinstance(parsed[k], str))
    if wrong:
        raise ClusterConfigError(f"{path}: {', '.join(wrong)} must be a string")
    return parsed


def build_connection(access: ClusterAccess, *, identity: str, pool_size: int,
                     on_request: RequestObserver | None = None) -> ClusterConnection:
    """Build an independent client for one cluster; raises `ClusterConfigError` with credentials redacted."""
    redact = Redactor(credential_strings(dict(access.auth_info)))
    configuration = client.Configuration()
    configuration.connection_pool_maxsize = pool_size  # urllib3 drops connections beyond it
    # No silent retries: urllib3 would resend a slow GET up to three times with a fresh full timeout each time,
    # so one observe could cost four LISTs and four budgets on an apiserver that is already slow. A failed
    # request fails its pass; the next pass is the retry, within the pass's own deadline.
    configuration.retries = False
    configuration.debug = False
    try:
        api = config.new_client_from_config_dict(access.kubeconfig(), persist_config=False,
                                                 client_configuration=configuration)
    except Exception as error:  # the loader raises many types; all mean "bad credentials config"
        message = redact(str(error)) or type(error).__name__
        raise ClusterConfigError(f"Cluster {access.namespace}/{access.name}: cannot build a client from "
                                 f"spec.config and Secret data.{keys.SECRET_AUTH_INFO_KEY}: {message}") from None
    # The loader re-runs its whole config step before every request so that expiring credentials (exec,
    # auth-provider) get renewed. Those are refused above; a static token never expires, and that step was
    # ~14 % of the operator's CPU while 500 apps rolled out.
    api.configuration.refresh_api_key_hook = None
    share_tls_context(api)
    return ClusterConnection(access.name, access.live, api, identity, redact, on_request)
