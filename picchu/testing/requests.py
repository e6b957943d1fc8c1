"""Count the requests an apiserver served, from its own `/metrics` (`apiserver_request_total`).

Why: "a pass over an unchanged world writes nothing" and "reads stay bounded" are promises about the
requests picchu sends. The apiserver's own counter is the honest measure: it sees every client.

Usage::

    counter = RequestCounter(control_plane.clusters["a"])
    before = counter.snapshot()
    ...  # let the operator work
    change = delta(before, counter.snapshot())
    change.writes(group="networking.istio.io")        # POST/PUT/PATCH/APPLY/DELETE/DELETECOLLECTION
    change.by_verb(resource="virtualservices")        # {"GET": 3, "APPLY": 1}
    change.without(*HOUSEKEEPING).total()             # everything but the apiserver's own chores

What is counted: resource requests only (`/api/...`, `/apis/...`), keyed by verb, API group, resource,
subresource and response code. Verbs are the apiserver's: GET, LIST, WATCH, POST, PUT, PATCH, APPLY
(server-side apply), DELETE, DELETECOLLECTION; a WATCH is counted when it ends, a request when its
handler returns (before the client has the last byte). Non-resource paths (`/metrics` itself, `/readyz`,
`/openapi/...`, discovery) are never counted, so scraping does not disturb the numbers. The apiserver
also counts its own internal requests (user `system:apiserver`): the startup bootstrap (namespaces, RBAC,
flow-control, a kube-system ConfigMap), a PUT of its identity Lease every ~10 s, and its informers'
WATCHes, which end and are re-opened every 30-60 min. `snapshot()` subtracts them (see below);
`HOUSEKEEPING` names the resources they touch, for counts taken without the audit log.

Clusters that run their machinery (kube-controller-manager, kube-scheduler, kwok; see
`picchu.testing.controlplane.machinery`) serve many requests nobody asked picchu for. Their components
have their own identities whose requests the apiserver audit-logs (`Cluster.machinery_audit_log`);
`snapshot()` subtracts those and the apiserver's own, so the counts are everyone else's: the operator's and
the test's own. (The
audit log cannot tell a server-side apply from another PATCH; a machinery PATCH is subtracted from `PATCH`
first, then from `APPLY`.)

Neighbours: reads a `picchu.testing.controlplane.Cluster`; used by tests and `bench/`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from picchu.testing.controlplane import Cluster
from picchu.testing.controlplane.cluster import APISERVER_USER, MACHINERY_USERS

READ_VERBS = frozenset({"GET", "LIST", "WATCH"})
WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"})
# (group, resource) pairs the apiserver writes by itself; see the module docstring.
HOUSEKEEPING: tuple[tuple[str, str], ...] = (
    ("coordination.k8s.io", "leases"),
    ("flowcontrol.apiserver.k8s.io", "flowschemas"),
    ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"),
)


@dataclass(frozen=True, order=True)
class RequestKey:
    """One label combination of `apiserver_request_total` (version and scope are summed over)."""

    verb: str
    group: str
    resource: str
    subresource: str
    code: str


class RequestCounts(Mapping[RequestKey, int]):
    """Request counts by key, with filters that sum over the keys they match."""

    def __init__(self, counts: Mapping[RequestKey, int]) -> None:
        self._counts = {key: value for key, value in counts.items() if value}

    def __getitem__(self, key: RequestKey) -> int:
        return self._counts[key]

    def __iter__(self) -> Iterator[RequestKey]:
        return iter(self._counts)

    def __len__(self) -> int:
        return len(self._counts)

    def __repr__(self) -> str:
        return f"RequestCounts({dict(sorted(self._counts.items()))})"

    def select(self, *, verbs: Iterable[str] | str | None = None, group: str | None = None,
               resource: str | None = None, subresource: str | None = None,
               codes: Iterable[str] | str | None = None) -> RequestCounts:
        """Only the keys matching every given filter (None matches anything; `subresource=""` is the
        main resource)."""
        verb_set = {verbs} if isinstance(verbs, str) else set(verbs) if verbs is not None else None
        code_set = {codes} if isinstance(codes, str) else set(codes) if codes is not None else None
        return RequestCounts({
            key: value for key, value in self._counts.items()
            if (verb_set is None or key.verb in verb_set)
            and (group is None or key.group == group)
            and (resource is None or key.resource == resource)
            and (subresource is None or key.subresource == subresource)
            and (code_set is None or key.code in code_set)
        })

    def without(self, *group_resources: tuple[str, str]) -> RequestCounts:
        """Drop the given (group, resource) pairs, e.g. `without(*HOUSEKEEPING)`."""
        dropped = set(group_resources)
        return RequestCounts({k: v for k, v in self._counts.items() if (k.group, k.resource) not in dropped})

    def total(self, *, verbs: Iterable[str] | str | None = None, group: str | None = None,
              resource: str | None = None, subresource: str | None = None,
              codes: Iterable[str] | str | None = None) -> int:
        """The number of requests matching the filters (see `select`)."""
        return sum(self.select(verbs=verbs, group=group, resource=resource, subresource=subresource,
                               codes=codes).values())

    def writes(self, *, group: str | None = None, resource: str | None = None,
               subresource: str | None = None) -> int:
        return self.total(verbs=WRITE_VERBS, group=group, resource=resource, subresource=subresource)

    def reads(self, *, group: str | None = None, resource: str | None = None,
              subresource: str | None = None) -> int:
        return self.total(verbs=READ_VERBS, group=group, resource=resource, subresource=subresource)

    def by_verb(self, *, group: str | None = None, resource: str | None = None,
                subresource: str | None = None) -> dict[str, int]:
        """`{"GET": 2, "APPLY": 1, ...}` summed over everything else."""
        out: dict[str, int] = {}
        for key, value in self.select(group=group, resource=resource, subresource=subresource).items():
            out[key.verb] = out.get(key.verb, 0) + value
        return out

    def by_resource(self, *, verbs: Iterable[str] | str | None = None) -> dict[str, int]:
        """`{"configmaps": 3, "virtualservices.networking.istio.io": 1, "replicasets.apps/status": 1}`."""
        out: dict[str, int] = {}
        for key, value in self.select(verbs=verbs).items():
            name = f"{key.resource}.{key.group}" if key.group else key.resource
            name = f"{name}/{key.subresource}" if key.subresource else name
            out[name] = out.get(name, 0) + value
        return out


def delta(before: RequestCounts, after: RequestCounts) -> RequestCounts:
    """Requests served between two snapshots of the same apiserver process.

    Counters restart from zero when the apiserver restarts; take a new `before` after a restart.
    """
    return RequestCounts({key: after[key] - before.get(key, 0) for key in after})


class RequestCounter:
    """Snapshots of one cluster's `apiserver_request_total` minus the requests of its machinery and of the
    apiserver itself (needs the system:masters token)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self._audit = _TALLIES.setdefault(cluster.machinery_audit_log, _AuditTally(cluster))

    def snapshot(self) -> RequestCounts:
        # The audit line of a request is written just after the metric counted it: read the tally on both
        # sides of the scrape and retry until no machinery request finished in between.
        for _ in range(50):
            first = self._audit.counts()
            counts = self._scrape()
            second = self._audit.counts()
            if first == second:
                break
            time.sleep(0.05)
        return _subtract(counts, second)

    def _scrape(self) -> RequestCounts:
        status, body = self.cluster.get("/metrics")
        if status != 200:
            raise RuntimeError(f"GET /metrics on cluster {self.cluster.name!r} answered {status}: {body[:200]!r}")
        return parse_request_totals(body.decode())


_AUDIT_VERBS = {"get": "GET", "list": "LIST", "watch": "WATCH", "create": "POST", "update": "PUT",
                "patch": "PATCH", "delete": "DELETE", "deletecollection": "DELETE"}  # /metrics: by HTTP method


class _AuditTally:
    """The machinery's request counts since the cluster's apiserver (re)started, read incrementally from its
    audit log (JSON lines); restarts when the process or the file does."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.path = cluster.machinery_audit_log
        self._inode: int | None = None
        self._launch_offset = -1
        self._offset = 0
        self._counts: dict[RequestKey, int] = {}

    def counts(self) -> dict[RequestKey, int]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._inode, self._offset, self._counts = None, 0, {}
            return {}
        launched = self.cluster.audit_offset_at_launch
        if stat.st_ino != self._inode or stat.st_size < self._offset or launched != self._launch_offset:
            self._inode, self._launch_offset, self._counts = stat.st_ino, launched, {}
            self._offset = launched if launched <= stat.st_size else 0
        with open(self.path, "rb") as log:
            log.seek(self._offset)
            data = log.read()
        complete = data[: data.rfind(b"\n") + 1]  # a line being written is read next time
        self._offset += len(complete)
        for line in complete.splitlines():
            key = _audit_key(line)
            if key is not None:
                self._counts[key] = self._counts.get(key, 0) + 1
        return dict(self._counts)


_SUBTRACTED_USERS = frozenset({*MACHINERY_USERS, APISERVER_USER})
_TALLIES: dict[Path, _AuditTally] = {}  # one per log: a long log is parsed once, not by every counter


def _audit_key(line: bytes) -> RequestKey | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if (event.get("user") or {}).get("username") not in _SUBTRACTED_USERS:
        return None  # the log also holds ServiceAccounts' requests (the operator's): those count
    ref = event.get("objectRef") or {}
    verb = _AUDIT_VERBS.get(event.get("verb", ""))
    if event.get("stage") != "ResponseComplete" or not ref.get("resource") or verb is None:
        return None
    return RequestKey(verb=verb, group=ref.get("apiGroup", ""), resource=ref["resource"],
                      subresource=ref.get("subresource", ""),
                      code=str((event.get("responseStatus") or {}).get("code", "")))


def _subtract(counts: RequestCounts, machinery: Mapping[RequestKey, int]) -> RequestCounts:
    """`counts` without the machinery's requests (a PATCH may have been an APPLY; see the docstring)."""
    left = dict(counts)
    for key, value in machinery.items():
        candidates = [key]
        if key.verb == "PATCH":
            candidates.append(RequestKey("APPLY", key.group, key.resource, key.subresource, key.code))
        for candidate in candidates:
            taken = min(value, left.get(candidate, 0))
            if taken:
                left[candidate] -= taken
                value -= taken
    return RequestCounts(left)


_REQUEST_LINES = ("apiserver_request_total{", "# TYPE apiserver_request_total ", "# HELP apiserver_request_total ")


def parse_request_totals(metrics_text: str) -> RequestCounts:
    """Resource-request counts from Prometheus text exposition of an apiserver's `/metrics`.

    Only the `apiserver_request_total` lines are parsed: the whole exposition is ~2.7 MB of histograms, which
    took the parser 6 s per scrape on the loaded machine (0.15 s for the lines kept)."""
    counts: dict[RequestKey, int] = {}
    kept = "".join(line for line in metrics_text.splitlines(keepends=True) if line.startswith(_REQUEST_LINES))
    for family in text_string_to_metric_families(kept):
        if family.name != "apiserver_request":
            continue
        for sample in family.samples:
            labels = sample.labels
            if sample.name != "apiserver_request_total" or not labels.get("resource"):
                continue
            key = RequestKey(verb=labels.get("verb", ""), group=labels.get("group", ""),
                             resource=labels["resource"], subresource=labels.get("subresource", ""),
                             code=labels.get("code", ""))
            counts[key] = counts.get(key, 0) + int(sample.value)
    return RequestCounts(counts)
