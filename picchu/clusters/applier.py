"""The one generic applier: makes each target cluster hold the objects of its `ClusterPlan`, concurrently.

Why: plans are data (architecture principle 2); writing them is one mechanism, server-side apply with field
manager ``picchu``, instead of Picchu's per-kind read-modify-write (§11.1). Neighbours: `desired` (the input),
`transport` (requests and discovery), `fanout` (one thread and one time budget per cluster); the engine
calls `Applier.apply` and turns the per-cluster results into conditions and events.

Invariants:
- Each object is written only when its rendered content differs from the last content successfully
  written to that cluster through the same client, so a pass over an unchanged world sends no request at
  all. Before such a write one GET reads the live object: one labelled ``picchu.medium.engineering/ignore``
  is not written (whoever created it), and one written by someone else (a Go Picchu) that already holds
  the rendered content is adopted as it is, without a write (`adoption`). Memory of a write is dropped when the write fails, when the cluster's client is
  rebuilt, and distrusted after ``remember_for`` seconds (so hand edits and deletions are healed eventually):
  then one GET checks the object, and it is written again only when it no longer holds the content this
  applier wrote (a steady fleet is re-read, never rewritten). Each memory's lifetime is shortened by a random
  quarter at most, so apps created together are not all re-read in the same pass. With a `DriftBudget`, a
  fleet whose checks (and prune re-listings) would need more reads than the budget gives has all its
  lifetimes stretched alike, so each object is still checked once per (longer) lifetime, in turn; and a
  check that comes due in a burst waits, its memory still trusted, until the budget has room. Idle reads per
  period so stay below the budget however many apps there are; a changed object never waits.
- Only objects labelled ``app.kubernetes.io/managed-by: picchu``, or recognised by a scope's `LegacyOwned`
  rules as written by a Go Picchu (its own labels and names), are ever pruned; pruning lists the scope
  only on the first pass, when the set of desired objects in the scope changed, or when that memory expired.
  That listing happens after the writes (each write already reads its live object first), and objects it
  finds labelled ``picchu.medium.engineering/ignore`` are then neither pruned nor read again for writing
  until a later listing finds the label gone (§11.1).
- ``scale-only`` ReplicaSets follow §11.1 / §17 #29 (see `desired.WriteMode`); the "existing == 0" check is
  a JSON-patch ``test`` operation, so it needs no read either.
- Results are data: every object ends up applied, unchanged, pruned or failed (with a redacted reason); a
  failing cluster never affects another one.
"""

from __future__ import annotations

import json
import logging
import random
import struct
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from picchu import keys
from picchu.clusters import adoption
from picchu.clusters.connection import ClusterConnection
from picchu.clusters.desired import (
    ClusterPlan,
    DesiredObject,
    LegacyOwned,
    ObjectKey,
    RememberedPlan,
    digest_of,
)
from picchu.clusters.drift_budget import DriftBudget
from picchu.clusters.fanout import Outcome, fan_out
from picchu.clusters.per_cluster import PerCluster
from picchu.clusters.transport import (
    APPLY_PATCH,
    JSON_PATCH,
    METADATA_ONLY,
    Deadline,
    Discovery,
    Location,
    NotInstalled,
    RequestFailed,
    Response,
    Unreachable,
    send,
)

_WRITE_QUERY = (("fieldManager", keys.FIELD_MANAGER),)
_Outcome = Literal["applied", "unchanged", "ignored"]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Failure:
    """An object (or, with ``key`` None, the whole cluster) that could not be written, and why."""

    key: ObjectKey | None
    reason: str

    def __str__(self) -> str:
        return f"{self.key}: {self.reason}" if self.key else self.reason


@dataclass(frozen=True)
class ClusterApplyResult:
    cluster: str
    applied: tuple[ObjectKey, ...] = ()
    unchanged: tuple[ObjectKey, ...] = ()
    pruned: tuple[ObjectKey, ...] = ()
    failed: tuple[Failure, ...] = ()
    ignored: tuple[ObjectKey, ...] = ()
    """Rendered, but the live object is labelled `picchu.medium.engineering/ignore`: left untouched."""

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass
class _Tally:
    applied: list[ObjectKey] = field(default_factory=list)
    unchanged: list[ObjectKey] = field(default_factory=list)
    pruned: list[ObjectKey] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    ignored: list[ObjectKey] = field(default_factory=list)

    def result(self, cluster: str) -> ClusterApplyResult:
        return ClusterApplyResult(cluster, tuple(self.applied), tuple(self.unchanged), tuple(self.pruned),
                                  tuple(self.failed), tuple(self.ignored))


def _digest(value: Any) -> bytes:
    return digest_of(json.dumps(value, sort_keys=True, default=str))


_WHEN = struct.Struct("d")


def _memory(digest: bytes, when: float) -> bytes:
    return digest + _WHEN.pack(when)


def _digest_in(memory: bytes) -> bytes:
    return memory[:-_WHEN.size]


def _made_at(memory: bytes) -> float:
    return float(_WHEN.unpack_from(memory, len(memory) - _WHEN.size)[0])


class Applier:
    """Writes plans to clusters; keeps (in memory) what it last wrote where. Thread-safe; share one.

    ``timeout`` is each cluster's time budget per `apply` call; ``remember_for`` bounds how long a
    successful write is trusted before the object is read again (and rewritten only if it drifted);
    ``resurvey_every`` (default four times that) how long a prune scope's listing is trusted while the desired
    set stays the same. A changed desired set is surveyed at once; the timed re-list only finds strays labelled
    as ours (or newly marked ignore), and one LIST per kind per app was most of an idle fleet's reads.
    ``drift_budget`` (None: unlimited) caps those expiry reads for the whole process.
    """

    def __init__(self, *, timeout: float = 30.0, remember_for: float = 900.0, resurvey_every: float | None = None,
                 drift_budget: DriftBudget | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout = timeout
        self.remember_for = remember_for
        self.resurvey_every = 4 * remember_for if resurvey_every is None else resurvey_every
        self.drift_budget = drift_budget
        self._reads_per_listing = 1  # LISTs of the last prune survey: what re-listing a scope costs the budget
        # Memories whose check came due while the budget had no room: the sweep keeps them (their apps are
        # alive), however long they wait. Replaced whole at each sweep; adding to a set is atomic.
        self._waiting: set[tuple[str, Any]] = set()
        # Memories of writes and surveys are `_memory(digest, when)`: one bytes object, not a tuple of a
        # bytes and a float (57 bytes instead of 145, for each of ~15,000 objects at 500 apps).
        self._written: PerCluster[ObjectKey, bytes] = PerCluster()
        self._labels: PerCluster[ObjectKey, bytes] = PerCluster()
        self._pruned: PerCluster[bytes, bytes] = PerCluster()  # by scope fingerprint
        self._ignored: PerCluster[bytes, frozenset[ObjectKey]] = PerCluster()  # only scopes with ignored objects
        self._identity: dict[str, str] = {}
        self._discovery = Discovery()
        # Serialises only the rare whole-memory work (sweeping, switching a cluster's client). A pass reads and
        # writes single entries without it: one dict read, store or pop is atomic, values are replaced whole,
        # never mutated, and whole-memory work iterates over a copy (`dict.copy` is atomic too). Losing an entry
        # to a race (a sweep popping an entry just rewritten) only costs one more request next pass: a read, or
        # an apply that changes nothing. Taking a lock per object was a convoy: when 500 new apps arrived at
        # once at an operator slowed 2-3x (tracemalloc on), ~300 cluster threads queued on it (each hand-over
        # waits for the GIL behind every runnable thread), every pass ran out of its 30 s budget, and nothing
        # was released after 16 minutes.
        self._lock = threading.Lock()
        self._clock = clock
        self._swept = clock()

    def apply(self, targets: Iterable[tuple[ClusterConnection, Any]], *, timeout: float | None = None,
              log_fields: Mapping[str, Any] | None = None) -> dict[str, ClusterApplyResult]:
        """Write each plan to its cluster, all clusters at once; one result per cluster name. `log_fields`
        (e.g. app and target) go on the per-cluster log line, beside `cluster`.

        A plan is a `ClusterPlan` or anything `ClusterPlan.adapt` accepts (e.g. `picchu.plans.RenderedPlan`).
        """
        plans = {connection.name: (connection, ClusterPlan.adapt(plan)) for connection, plan in targets}
        self._sweep()
        budget = self.timeout if timeout is None else timeout
        # A cluster whose plan needs no request (the steady state) is settled here, without a thread.
        outcomes = {name: Outcome(name, value=self._apply_one(c, plan, Deadline(budget)))
                    for name, (c, plan) in plans.items() if self._sends_nothing(c, plan)}
        outcomes.update(fan_out([c for name, (c, _) in plans.items() if name not in outcomes],
                                lambda c, deadline: self._apply_one(c, plans[c.name][1], deadline), budget))
        results = {}
        for name, outcome in outcomes.items():
            if outcome.value is not None:
                results[name] = outcome.value
            else:
                reason = outcome.error.reason if outcome.error else "no result"
                results[name] = ClusterApplyResult(name, failed=(Failure(None, reason),))
            _log_result(results[name], log_fields or {})
        return results

    def settle_unchanged(self, connection: ClusterConnection, plan: RememberedPlan) -> ClusterApplyResult | None:
        """The result `apply` would give for a plan known only by its keys and digests, when applying it needs
        no request at all (same client, no prune survey due, every object remembered as written with that
        content); None otherwise, and then the caller renders the plan and applies it. Never writes."""
        if not self._sends_nothing(connection, plan):
            return None
        ignored = self._ignored_keys(connection, plan)
        return ClusterApplyResult(connection.name,
                                  unchanged=tuple(key for key in plan.keys if key not in ignored),
                                  ignored=tuple(key for key in plan.keys if key in ignored))

    def forget(self, cluster: str | None = None) -> None:
        """Distrust past writes (to one cluster, or all): the next pass re-applies and re-prunes everything."""
        with self._lock:
            identities = set(self._identity.values()) if cluster is None else {self._identity.get(cluster)}
            self._drop(identities)

    def forget_objects(self, connection: ClusterConnection, keys: Iterable[ObjectKey]) -> None:
        """Distrust the memory of writing these objects to this cluster: someone else removed them (the
        observer did not find them), so the next apply reads and writes them again instead of waiting for the
        memory to expire."""
        for key in keys:
            self._forget_object(connection.identity, key)

    def _sweep(self) -> None:
        """Forget memories older than twice their lifetime (at most once per ``remember_for``), so memory stays
        bounded by what was written recently, even for apps whose namespace was deleted without a plan; one
        that is merely expired is kept, so the next pass can check the object instead of rewriting it, and so
        is one a pass asked about since the last sweep while its check waited for the drift budget."""
        now = self._clock()
        if now - self._swept < self.remember_for:
            return  # every pass asks; checked again under the lock, so only one thread sweeps
        with self._lock:
            if now - self._swept < self.remember_for:
                return
            self._swept = now
            waiting, self._waiting = self._waiting, set()
            stores: tuple[tuple[PerCluster[Any, bytes], float], ...] = (
                (self._written, self._lifetime(self._written)), (self._pruned, self._lifetime(self._pruned)))
            for store, lifetime in stores:
                for identity, key, memory in store.items():
                    if now - _made_at(memory) >= 2 * lifetime and (identity, key) not in waiting:
                        store.pop(identity, key)
                        self._labels.pop(identity, key)

    def _drop(self, identities: set[str] | set[str | None]) -> None:
        stores: tuple[PerCluster[Any, Any], ...] = (self._written, self._labels, self._pruned, self._ignored)
        for store in stores:
            store.drop(identities)

    def _adopt(self, connection: ClusterConnection) -> None:
        if self._identity.get(connection.name) == connection.identity:
            return  # the steady state, without the lock
        with self._lock:
            previous = self._identity.get(connection.name)
            if previous == connection.identity:
                return
            self._identity[connection.name] = connection.identity
            self._drop({previous})
        if previous is not None:
            self._discovery.forget(previous)

    def _remembered(self, store: PerCluster[Any, bytes], identity: str, key: Any, digest: bytes, *,
                    check_costs: int = 0) -> bool:
        """Whether this memory of `digest` stands in for requests: it is fresh, or its check is due but the
        drift budget has no room yet. `check_costs`: the reads the check makes, paid from the budget when it
        goes ahead; 0 only asks whether it could (deciding whether a pass needs a thread at all)."""
        memory = store.get(identity, key)  # dict reads, atomic: see `_lock`
        if memory is None or _digest_in(memory) != digest:
            return False
        lifetime = self._lifetime(store)
        if self._clock() - _made_at(memory) < lifetime:
            return True
        if self.drift_budget is None:
            return False
        goes_ahead = self.drift_budget.spend(check_costs) if check_costs else self.drift_budget.has_room()
        if not goes_ahead:
            self._waiting.add((identity, key))
        return not goes_ahead

    def _lifetime(self, store: PerCluster[Any, bytes]) -> float:
        """How long a memory in `store` is trusted: ``remember_for`` (or ``resurvey_every``), stretched by the
        factor that keeps checking every memory once per lifetime within 80 % of the drift budget (the jitter
        shortens lifetimes by an eighth on average; the rest absorbs bursts)."""
        lifetime = self.resurvey_every if store is self._pruned else self.remember_for
        if self.drift_budget is None:
            return lifetime
        reads_per_second = (len(self._written) / max(self.remember_for, 1e-9)
                            + len(self._pruned) * self._reads_per_listing / max(self.resurvey_every, 1e-9))
        return lifetime * max(1.0, 1.25 * reads_per_second / self.drift_budget.per_second)

    def _sends_nothing(self, connection: ClusterConnection, plan: ClusterPlan | RememberedPlan) -> bool:
        """True when applying the plan needs no request: same client as before, no prune survey due, and every
        writable object remembered as written with this content (or ignored)."""
        if self._identity.get(connection.name) != connection.identity:
            return False
        identity = connection.identity
        if any(not self._remembered(self._pruned, identity, scope.fingerprint, scope.covered)
               for scope in plan.scope_memories()):
            return False
        ignored = self._ignored_keys(connection, plan)
        return all(d.key in ignored or d.problems() or
                   self._remembered(self._written, identity, d.key, d.digest()) for d in plan.objects)

    def _apply_one(self, connection: ClusterConnection, plan: ClusterPlan,
                   deadline: Deadline) -> ClusterApplyResult:
        self._adopt(connection)
        tally = _Tally()
        unreachable: str | None = None
        ignored = self._ignored_keys(connection, plan)
        identity = connection.identity
        for desired in plan.objects:
            key = desired.key
            problems = desired.problems()
            if problems:
                tally.failed.append(Failure(key, "; ".join(problems)))
                continue
            digest = desired.digest()
            if key in ignored:
                tally.ignored.append(key)
                continue
            if self._remembered(self._written, identity, key, digest, check_costs=1):
                tally.unchanged.append(key)
                continue
            wrote_this_before = _digest_in(self._written.get(identity, key) or b"") == digest
            try:
                if unreachable:
                    raise Unreachable(unreachable)
                outcome = self._write(connection, desired, deadline, verify=wrote_this_before)
            except RequestFailed as error:
                unreachable = str(error) if isinstance(error, Unreachable) else unreachable
                self._forget_object(identity, key)
                tally.failed.append(Failure(key, connection.redact(str(error))))
                continue
            if outcome != "ignored":  # an ignored object is looked at again next pass: the label may be gone
                self._written.set(identity, key, _memory(digest, self._stamp(self._lifetime(self._written))))
            {"applied": tally.applied, "unchanged": tally.unchanged, "ignored": tally.ignored}[outcome].append(key)
        if unreachable is None:
            self._prune(connection, plan, deadline, tally)
        return tally.result(connection.name)

    def _prune(self, connection: ClusterConnection, plan: ClusterPlan, deadline: Deadline, tally: _Tally) -> None:
        """Survey the due prune scopes and delete what is ours there but no longer desired. Runs after the
        writes, so a new revision's objects do not wait for a listing of every kind (one LIST per kind, ~20 in
        an app's namespace, was most of the time from a new Revision to its ReplicaSets)."""
        try:
            surveys = self._survey(connection, plan, deadline, tally)
        except Unreachable as error:
            tally.failed.append(Failure(None, f"prune: {connection.redact(str(error))}"))
            return
        found_ignored = {key for survey in surveys for key in survey.ignored}
        if found_ignored:  # e.g. a create-only object that was already there: it is ignored, not unchanged
            tally.ignored += [key for key in tally.unchanged if key in found_ignored]
            tally.unchanged = [key for key in tally.unchanged if key not in found_ignored]
        self._delete_undesired(connection, surveys, {d.key for d in plan.objects}, deadline, tally)

    def _forget_object(self, identity: str, key: ObjectKey) -> None:
        self._written.pop(identity, key)
        self._labels.pop(identity, key)

    # -- writing ---------------------------------------------------------------------------------------

    def _locate(self, connection: ClusterConnection, desired: DesiredObject, deadline: Deadline) -> Location:
        manifest = desired.manifest
        location = self._discovery.locate(connection, manifest["apiVersion"], manifest["kind"], deadline)
        if location.namespaced and not desired.key.namespace:
            raise RequestFailed(f"metadata.namespace: missing; {manifest['kind']} is namespaced, "
                                "render it with a namespace")
        return location

    def _stamp(self, lifetime: float) -> float:
        """When a memory counts as made: now, minus up to a quarter of its lifetime (spreads the re-reads)."""
        return self._clock() - random.uniform(0, 0.25 * lifetime)

    def _write(self, connection: ClusterConnection, desired: DesiredObject, deadline: Deadline, *,
               verify: bool = False) -> _Outcome:
        """Send what this object's mode requires, after one look at the live object (a create-only object
        needs none: a POST never changes an existing one). ``verify``: this exact content was applied here
        before and only the memory of it expired, so a live object that still holds it needs no write."""
        location = self._locate(connection, desired, deadline)
        key = desired.key
        if desired.mode == "create-only":
            return "applied" if self._create(connection, desired, location, deadline) else "unchanged"
        live = self._read(connection, location, key, deadline)
        if adoption.is_ignored(live):
            return "ignored"
        if desired.mode == "apply":
            if live is not None and (verify or not adoption.applied_by_us(live)) and adoption.already_as_desired(
                    desired.manifest, live):
                # Written by someone else (a Go Picchu) exactly as we would: no churn. Or applied by us with
                # this very content: no field we stopped rendering can linger, so nothing needs sending.
                return "unchanged"
            response = send(connection, "PATCH", location.item(key.namespace, key.name), deadline,
                            query=(*_WRITE_QUERY, ("force", "true")), body=desired.manifest,
                            content_type=APPLY_PATCH)
            _require(response)
            return "applied"
        if live is None:
            self._forget_object(connection.identity, key)
            return "applied" if self._create(connection, desired, location, deadline) else "unchanged"
        owned = desired.mode == "scale-owned"
        if adoption.labels_as_desired(desired.manifest, live) and not _replicas_due(desired.manifest, live, owned):
            self._labels.set(connection.identity, key, _digest(_labels_of(desired.manifest)))
            return "unchanged"
        if owned:
            return "applied" if self._set_owned_replicas(connection, desired, location, live, deadline) \
                else "unchanged"
        return "applied" if self._rescale(connection, desired, location, deadline) else "unchanged"

    def _set_owned_replicas(self, connection: ClusterConnection, desired: DesiredObject, location: Location,
                            live: Mapping[str, Any], deadline: Deadline) -> bool:
        """A ReplicaSet no autoscaler scales: labels and replicas as rendered, in one patch."""
        labels = _labels_of(desired.manifest)
        ops: list[dict[str, Any]] = []
        if not adoption.labels_as_desired(desired.manifest, live):
            ops.append({"op": "add", "path": "/metadata/labels", "value": labels})
        if _replicas_due(desired.manifest, live, owned=True):
            ops.append(_set_replicas(int(desired.manifest["spec"]["replicas"])))
        wrote = self._patch(connection, location.item(desired.key.namespace, desired.key.name), ops, deadline)
        self._labels.set(connection.identity, desired.key, _digest(labels))
        return wrote

    def _read(self, connection: ClusterConnection, location: Location, key: ObjectKey,
              deadline: Deadline) -> dict[str, Any] | None:
        response = send(connection, "GET", location.item(key.namespace, key.name), deadline)
        if response.status == 404:
            return None
        _require(response)
        return response.body if isinstance(response.body, dict) else None

    def _create(self, connection: ClusterConnection, desired: DesiredObject, location: Location,
                deadline: Deadline) -> bool:
        """POST the object; True if created, False if it already existed."""
        if self._written.get(connection.identity, desired.key) is not None:
            return False
        response = send(connection, "POST", location.collection(desired.key.namespace), deadline,
                        query=_WRITE_QUERY, body=desired.manifest)
        if response.status == 409:
            return False
        _require(response)
        self._labels.set(connection.identity, desired.key, _digest(_labels_of(desired.manifest)))
        return True

    def _rescale(self, connection: ClusterConnection, desired: DesiredObject, location: Location,
                 deadline: Deadline) -> bool:
        """Update an existing scale-only ReplicaSet: labels when changed, replicas only to/from zero."""
        path = location.item(desired.key.namespace, desired.key.name)
        labels = _labels_of(desired.manifest)
        label_ops = []
        if self._labels.get(connection.identity, desired.key) != _digest(labels):
            label_ops = [{"op": "add", "path": "/metadata/labels", "value": labels}]
        annotations = (desired.manifest.get("metadata") or {}).get("annotations") or {}
        replicas = (desired.manifest.get("spec") or {}).get("replicas")
        autoscaled_by_wpa = annotations.get(keys.ANNOTATION_AUTOSCALER) == keys.AUTOSCALER_WPA
        wrote = False
        if autoscaled_by_wpa or not isinstance(replicas, int) or replicas > 0:
            wrote = self._patch(connection, path, label_ops, deadline)
        if not autoscaled_by_wpa and isinstance(replicas, int):
            if replicas == 0:
                wrote = self._patch(connection, path, [*label_ops, _set_replicas(0)], deadline)
            else:
                # Only revive a ReplicaSet scaled to zero; otherwise its autoscaler owns the count.
                revive = [{"op": "test", "path": "/spec/replicas", "value": 0}, _set_replicas(replicas)]
                response = _send_json_patch(connection, path, revive, deadline)
                if not _failed_test(response):
                    _require(response)
                    wrote = True
        self._labels.set(connection.identity, desired.key, _digest(labels))
        return wrote

    def _patch(self, connection: ClusterConnection, path: str, ops: list[dict[str, Any]],
               deadline: Deadline) -> bool:
        if not ops:
            return False
        _require(_send_json_patch(connection, path, ops, deadline))
        return True

    # -- pruning ---------------------------------------------------------------------------------------

    def _survey(self, connection: ClusterConnection, plan: ClusterPlan, deadline: Deadline,
                tally: _Tally) -> list[_Survey]:
        """List the prune scopes that are due (first pass, desired set changed, or memory expired).

        Objects a human marked `picchu.medium.engineering/ignore` are remembered, so that later passes leave
        them alone without reading them (§11.1).
        """
        desired_keys = {d.key for d in plan.objects}
        surveys = []
        for scope in plan.prune:
            memory = scope.memory(desired_keys)
            listings = self._reads_per_listing = len(scope.kinds) * len(scope.namespaces)
            if self._remembered(self._pruned, connection.identity, memory.fingerprint, memory.covered,
                                check_costs=listings):
                continue
            survey = _Survey(memory.fingerprint, memory.covered, legacy=tuple(scope.legacy))
            for api_version, kind in scope.kinds:
                try:
                    location = self._discovery.locate(connection, api_version, kind, deadline)
                except NotInstalled:
                    continue  # nothing of a kind the cluster does not serve can exist there
                for namespace in scope.namespaces if location.namespaced else ("",):
                    try:
                        listing = send(connection, "GET", location.collection(namespace), deadline,
                                       query=(("labelSelector", scope.label_selector()),), accept=METADATA_ONLY)
                        _require(listing)
                    except Unreachable:
                        raise
                    except RequestFailed as error:
                        tally.failed.append(Failure(None, f"prune {kind} in {namespace or 'cluster'}: {error}"))
                        survey.complete = False
                        continue
                    survey.add(location, api_version, kind, listing.body.get("items") or [])
            if survey.ignored:
                self._ignored.set(connection.identity, memory.fingerprint, frozenset(survey.ignored))
            else:
                self._ignored.pop(connection.identity, memory.fingerprint)
            surveys.append(survey)
        return surveys

    def _ignored_keys(self, connection: ClusterConnection, plan: ClusterPlan | RememberedPlan) -> set[ObjectKey]:
        return {key for scope in plan.scope_memories()  # dict reads, atomic: see `_lock`
                for key in self._ignored.get(connection.identity, scope.fingerprint) or ()}

    def _delete_undesired(self, connection: ClusterConnection, surveys: list[_Survey],
                          desired_keys: set[ObjectKey], deadline: Deadline, tally: _Tally) -> None:
        for survey in surveys:
            for key, location, uid in survey.owned:
                if key in desired_keys or key in survey.ignored:
                    continue
                body = {"propagationPolicy": "Background", "preconditions": {"uid": uid}}
                try:
                    response = send(connection, "DELETE", location.item(key.namespace, key.name), deadline,
                                    body=body, content_type="application/json")
                    if response.status not in (404, 409):  # gone already / replaced by a new object meanwhile
                        _require(response)
                        tally.pruned.append(key)
                except RequestFailed as error:
                    tally.failed.append(Failure(key, f"prune: {connection.redact(str(error))}"))
                    survey.complete = False
                self._forget_object(connection.identity, key)
            if survey.complete:
                self._pruned.set(connection.identity, survey.fingerprint,
                                 _memory(survey.digest, self._stamp(self._lifetime(self._pruned))))


@dataclass
class _Survey:
    """What one due prune scope holds on one cluster: objects picchu owns there, and the ignored ones."""

    fingerprint: bytes  # of the scope: its memory's key
    digest: bytes
    complete: bool = True
    owned: list[tuple[ObjectKey, Location, str]] = field(default_factory=list)
    ignored: set[ObjectKey] = field(default_factory=set)
    legacy: tuple[LegacyOwned, ...] = ()

    def add(self, location: Location, api_version: str, kind: str, items: list[dict[str, Any]]) -> None:
        for item in items:
            metadata = item.get("metadata") or {}
            labels = metadata.get("labels") or {}
            if labels.get(keys.LABEL_MANAGED_BY) != keys.MANAGED_BY and not any(
                    legacy.matches(str(metadata.get("name", "")), labels) for legacy in self.legacy):
                continue  # never touch what picchu does not own (nor a Go Picchu wrote, by its labels and names)
            key = ObjectKey.of({"apiVersion": api_version, "kind": kind, "metadata": metadata})
            if keys.LABEL_IGNORE in labels:
                self.ignored.add(key)
            else:
                self.owned.append((key, location, str(metadata.get("uid", ""))))


def _log_result(result: ClusterApplyResult, log_fields: Mapping[str, Any]) -> None:
    if result.applied or result.pruned or result.failed:
        log.log(logging.WARNING if result.failed else logging.INFO,
                "cluster %s: %d applied, %d unchanged, %d pruned, %d failed%s", result.cluster,
                len(result.applied), len(result.unchanged), len(result.pruned), len(result.failed),
                f" (first: {result.failed[0]})" if result.failed else "",
                extra={**log_fields, "cluster": result.cluster})


def _labels_of(manifest: Mapping[str, Any]) -> dict[str, str]:
    return dict((manifest.get("metadata") or {}).get("labels") or {})


def _replicas_due(manifest: Mapping[str, Any], live: Mapping[str, Any], owned: bool = False) -> bool:
    """The scale-only rule (§11.1) would write replicas: to zero, or reviving from zero (never for wpa);
    for a ReplicaSet whose count picchu owns (no autoscaler), whenever it differs."""
    annotations = (manifest.get("metadata") or {}).get("annotations") or {}
    if annotations.get(keys.ANNOTATION_AUTOSCALER) == keys.AUTOSCALER_WPA:
        return False
    replicas = (manifest.get("spec") or {}).get("replicas")
    current = (live.get("spec") or {}).get("replicas", 1)
    if not isinstance(replicas, int):
        return False
    if owned:
        return bool(replicas != current)
    return bool((replicas == 0) != (current == 0))


def _set_replicas(count: int) -> dict[str, Any]:
    return {"op": "add", "path": "/spec/replicas", "value": count}


def _send_json_patch(connection: ClusterConnection, path: str, ops: list[dict[str, Any]],
                     deadline: Deadline) -> Response:
    return send(connection, "PATCH", path, deadline, query=_WRITE_QUERY, body=ops, content_type=JSON_PATCH)


def _failed_test(response: Response) -> bool:
    """A JSON-patch ``test`` operation did not match.

    The API server answers 422 "the server rejected our request due to an error in our request" with no
    causes; a patched object failing validation also answers 422 but names the object ("... is invalid")
    and lists the causes, so the two are told apart.
    """
    if response.status != 422 or not isinstance(response.body, Mapping):
        return False
    details = response.body.get("details") or {}
    return not details.get("causes") and "is invalid" not in str(response.body.get("message", ""))


def _require(response: Response) -> None:
    response.require()
