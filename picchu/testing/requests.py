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
also counts its own internal requests: in this control plane (no kube-controller-manager) those are
the startup bootstrap (namespaces, RBAC, flow-control, a kube-system ConfigMap) and, while idle, a PUT
of its identity Lease in kube-system every ~10 s. `HOUSEKEEPING` names them; filter by the resources
your code touches or use `without(*HOUSEKEEPING)`.

Neighbours: reads a `picchu.testing.controlplane.Cluster`; used by tests and `bench/`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from picchu.testing.controlplane import Cluster

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
    """Snapshots of one cluster's `apiserver_request_total` (needs the system:masters token)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def snapshot(self) -> RequestCounts:
        status, body = self.cluster.get("/metrics")
        if status != 200:
            raise RuntimeError(f"GET /metrics on cluster {self.cluster.name!r} answered {status}: {body[:200]!r}")
        return parse_request_totals(body.decode())


def parse_request_totals(metrics_text: str) -> RequestCounts:
    """Resource-request counts from Prometheus text exposition of an apiserver's `/metrics`."""
    counts: dict[RequestKey, int] = {}
    for family in text_string_to_metric_families(metrics_text):
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
