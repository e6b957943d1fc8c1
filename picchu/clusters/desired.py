"""What the applier is asked to make true on one cluster: desired manifests, how to write each, what to prune.

Neighbours: `picchu.plans` renders manifests (plain dicts) and the engine wraps them in these values before
handing them to `picchu.clusters.applier`; the two packages sit on the same layer and never import each
other, so this module is the contract between them, written as plain frozen data.

Invariants:
- An object is identified by `ObjectKey` (API group, kind, namespace, name): the version is not part of
  the identity, so re-rendering an object under another version of its API does not prune it.
- `digest()` is a stable hash of the canonical JSON of a manifest and its write mode; the applier compares
  it with the digest of its last successful write to skip unchanged objects. Digests and fingerprints are
  16 bytes: the applier keeps one per object per cluster (~30,000 at 500 apps), and a collision would take
  ~2^64 of them.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from picchu import keys

WriteMode = Literal["apply", "create-only", "scale-only", "scale-owned"]
"""How an object is written.

- ``"apply"``: server-side apply with field manager ``picchu`` (conflicts forced), every pass its content changes.
- ``"create-only"``: created when absent, never modified afterwards (e.g. the service-account token Secret
  whose data the token controller fills in).
- ``"scale-only"``: a ReplicaSet whose pod template is written once, on create (with the computed replica
  count, autoscaler ``wpa`` included, spec §17 #29); afterwards only its labels, and its replicas when
  going to or from zero (desired == 0 or existing == 0), and never replicas for autoscaler ``wpa`` (§11.1).
- ``"scale-owned"``: as ``"scale-only"`` for a ReplicaSet no autoscaler scales: its replicas are written
  whenever they differ from the rendered count.
"""

WRITE_MODES: tuple[WriteMode, ...] = ("apply", "create-only", "scale-only", "scale-owned")


DIGEST_SIZE = 16


def digest_of(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=DIGEST_SIZE).digest()


def split_api_version(api_version: str) -> tuple[str, str]:
    """``"apps/v1"`` → ``("apps", "v1")``; ``"v1"`` → ``("", "v1")`` (the core group)."""
    group, _, version = api_version.rpartition("/")
    return group, version


@dataclass(frozen=True, order=True, slots=True)
class ObjectKey:
    """Identity of one object on one cluster; namespace is ``""`` for cluster-scoped kinds."""

    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, manifest: Mapping[str, Any]) -> ObjectKey:
        metadata = manifest.get("metadata") or {}
        group, _ = split_api_version(str(manifest.get("apiVersion", "")))
        # Interned: a fleet's keys repeat the same few strings (an app's namespace in each of its objects, an
        # object's name in every cluster), and the applier keeps a key per object per cluster.
        return cls(sys.intern(group), sys.intern(str(manifest.get("kind", ""))),
                   sys.intern(str(metadata.get("namespace") or "")), sys.intern(str(metadata.get("name", ""))))

    def __str__(self) -> str:
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        return f"{kind} {self.namespace}/{self.name}" if self.namespace else f"{kind} {self.name}"


@dataclass(frozen=True)
class DesiredObject:
    """One manifest (a plain dict with apiVersion, kind, metadata.name[, metadata.namespace]) and its mode."""

    manifest: Mapping[str, Any]
    mode: WriteMode = "apply"

    @property
    def key(self) -> ObjectKey:
        """Computed once per object, like `digest`: the applier's memory and a `RememberedPlan` then share it."""
        cached = self.__dict__.get("_key")
        if cached is None:
            cached = ObjectKey.of(self.manifest)
            object.__setattr__(self, "_key", cached)
        return cached

    def digest(self) -> bytes:
        """The digest of the canonical JSON of mode and manifest; computed once per object (plans are rebuilt
        every pass, never mutated)."""
        cached = self.__dict__.get("_digest")
        if cached is None:
            cached = digest_of(json.dumps([self.mode, self.manifest], sort_keys=True, separators=(",", ":"),
                                          default=str))
            object.__setattr__(self, "_digest", cached)
        return bytes(cached)

    def problems(self) -> list[str]:
        """What makes this object unwritable, each naming the field path and the fix (empty when fine)."""
        found = []
        if self.mode not in WRITE_MODES:
            found.append(f"mode: {self.mode!r} is not one of {', '.join(WRITE_MODES)}")
        for path in ("apiVersion", "kind"):
            if not isinstance(self.manifest.get(path), str) or not self.manifest.get(path):
                found.append(f"{path}: missing; every manifest needs a non-empty {path}")
        metadata = self.manifest.get("metadata")
        if not isinstance(metadata, Mapping) or not metadata.get("name"):
            found.append("metadata.name: missing; every manifest needs a name")
        if self.mode in ("scale-only", "scale-owned") and self.manifest.get("kind") != "ReplicaSet":
            found.append(f"mode: {self.mode!r} applies to ReplicaSets, not {self.manifest.get('kind')!r}")
        return found


@dataclass(frozen=True)
class LegacyOwned:
    """How to recognise an object a Go Picchu wrote (it carries no managed-by label), so that it can be pruned
    after a switch-over: by Picchu's own labels (every one of ``labels``; a ``None`` value means any value)
    or by one of Picchu's own ``names``. Nothing else is ever recognised."""

    labels: Mapping[str, str | None] = field(default_factory=dict)
    names: tuple[str, ...] = ()

    def matches(self, name: str, labels: Mapping[str, str]) -> bool:
        if self.names:
            return name in self.names
        return bool(self.labels) and all(
            key in labels and (value is None or labels[key] == value) for key, value in self.labels.items())


@dataclass(frozen=True)
class PruneScope:
    """Where to look for objects picchu wrote that are no longer desired.

    Every object of one of ``kinds`` (pairs of apiVersion, kind) in one of ``namespaces`` that carries label
    ``app.kubernetes.io/managed-by: picchu`` and every label of ``selector`` is deleted unless the plan still
    desires it. Cluster-scoped kinds ignore ``namespaces``. Objects without the managed-by label are never
    touched, whatever their other labels, unless a ``legacy`` rule recognises them as written by Go Picchu.
    """

    namespaces: tuple[str, ...]
    kinds: tuple[tuple[str, str], ...]
    selector: Mapping[str, str] = field(default_factory=dict)
    legacy: tuple[LegacyOwned, ...] = ()
    """With rules, the listing drops the managed-by condition and the applier keeps what they recognise."""

    def label_selector(self) -> str:
        labels = {**self.selector, keys.LABEL_MANAGED_BY: keys.MANAGED_BY}
        if self.legacy:
            labels.pop(keys.LABEL_MANAGED_BY)
        return ",".join(f"{name}={value}" for name, value in sorted(labels.items()))

    def fingerprint(self) -> bytes:
        """Names the scope in the applier's memory (where to list, what to select); computed once."""
        cached = self.__dict__.get("_fingerprint")
        if cached is None:
            cached = digest_of(json.dumps([sorted(self.namespaces), sorted(self.kinds), self.label_selector()]))
            object.__setattr__(self, "_fingerprint", cached)
        return bytes(cached)

    def covered(self, desired_keys: Iterable[ObjectKey]) -> bytes:
        """The digest of the desired objects of the scope's kinds: a survey is redone when it changes."""
        kinds = {(split_api_version(api_version)[0], kind) for api_version, kind in self.kinds}
        return digest_of(json.dumps(sorted(str(k) for k in desired_keys if (k.group, k.kind) in kinds)))

    def memory(self, desired_keys: Iterable[ObjectKey]) -> ScopeMemory:
        return ScopeMemory(self.fingerprint(), self.covered(desired_keys))


@dataclass(frozen=True, slots=True)
class ScopeMemory:
    """What the applier remembers of a prune scope's survey: which scope, and which desired objects it covered."""

    fingerprint: bytes
    covered: bytes


@dataclass(frozen=True)
class ClusterPlan:
    """The ordered objects to write to one cluster (written in order) and the scopes to prune afterwards."""

    objects: Sequence[DesiredObject]
    prune: Sequence[PruneScope] = ()

    def scope_memories(self) -> tuple[ScopeMemory, ...]:
        return self._scope_memories

    def share_keys(self, shared: dict[ObjectKey, ObjectKey]) -> None:
        """Make each object's key the instance of that key in ``shared``, adding those not there yet. An app's
        clusters get the same objects render after render, and the applier and `RememberedPlan` keep a key
        per object per cluster: sharing them, an app holds one instance of each key instead of one per cluster
        and render (measured at 500 apps × 3 clusters: 28,500 keys → 5,000). Call before the plan is applied,
        so the applier files the shared instances."""
        for desired in self.objects:
            object.__setattr__(desired, "_key", shared.setdefault(desired.key, desired.key))

    @cached_property
    def _scope_memories(self) -> tuple[ScopeMemory, ...]:  # asked up to four times per apply; hashes every key
        desired_keys = {d.key for d in self.objects}
        return tuple(scope.memory(desired_keys) for scope in self.prune)

    @classmethod
    def adapt(cls, plan: Any) -> ClusterPlan:
        """Accept any plan-shaped value, notably `picchu.plans.RenderedPlan` (not imported: same layer).

        It needs ``.objects`` (items with ``.manifest`` and ``.mode``, or ``.policy`` whose ``.value`` is a
        `WriteMode`) and ``.prune`` (items with ``.kinds``, ``.selector`` and ``.namespaces`` or ``.namespace``).
        """
        if isinstance(plan, ClusterPlan):
            return plan
        objects = tuple(DesiredObject(item.manifest, _mode_of(item)) for item in plan.objects)
        scopes = tuple(PruneScope(_namespaces_of(scope), tuple(tuple(k) for k in scope.kinds),
                                  dict(scope.selector or {}), _legacy_of(scope))
                       for scope in getattr(plan, "prune", ()))
        return cls(objects, scopes)

    @classmethod
    def of(cls, manifests: Sequence[Mapping[str, Any]], *, create_only: Sequence[ObjectKey] = (),
           scale_only: Sequence[ObjectKey] = (), prune: Sequence[PruneScope] = ()) -> ClusterPlan:
        """Build a plan from plain manifests plus the keys of the objects written with a special mode."""
        modes: dict[ObjectKey, WriteMode] = {key: "create-only" for key in create_only}
        modes.update({key: "scale-only" for key in scale_only})
        return cls(tuple(DesiredObject(m, modes.get(ObjectKey.of(m), "apply")) for m in manifests),
                   tuple(prune))


@dataclass(frozen=True, slots=True)
class RememberedObject:
    """What a plan's object was, without its manifest: enough to tell that it is still written, not to write it."""

    key: ObjectKey
    _digest: bytes

    def digest(self) -> bytes:
        return self._digest

    def problems(self) -> list[str]:
        return []


@dataclass(frozen=True, slots=True)
class RememberedPlan:
    """A `ClusterPlan` reduced to its object keys, digests and what the applier remembers of its prune scopes
    (a few hundred bytes, where the rendered manifests are tens of KiB, and the scopes with their legacy rules
    were ~5 KiB). `Applier.settle_unchanged` accepts it; nothing can write it. The digests are kept end to end
    in one bytes object (a `RememberedObject` each cost ~110 bytes more, ~1.4 MiB at 500 apps)."""

    keys: tuple[ObjectKey, ...]
    digests: bytes  # DIGEST_SIZE bytes per key, in the same order
    scopes: tuple[ScopeMemory, ...]

    @classmethod
    def of(cls, plan: ClusterPlan) -> RememberedPlan:
        return cls(tuple(d.key for d in plan.objects), b"".join(d.digest() for d in plan.objects),
                   plan.scope_memories())

    @property
    def objects(self) -> tuple[RememberedObject, ...]:
        return tuple(RememberedObject(key, self.digests[i * DIGEST_SIZE:(i + 1) * DIGEST_SIZE])
                     for i, key in enumerate(self.keys))

    def scope_memories(self) -> tuple[ScopeMemory, ...]:
        return self.scopes


def _mode_of(item: Any) -> WriteMode:
    mode = getattr(item, "mode", None)
    if mode is None:
        policy = getattr(item, "policy", "apply")
        mode = getattr(policy, "value", policy)
    return mode  # type: ignore[return-value]  # checked by DesiredObject.problems()


def _legacy_of(scope: Any) -> tuple[LegacyOwned, ...]:
    return tuple(LegacyOwned(dict(rule.labels or {}), tuple(rule.names or ()))
                 for rule in getattr(scope, "legacy", ()) or ())


def _namespaces_of(scope: Any) -> tuple[str, ...]:
    namespaces = getattr(scope, "namespaces", None)
    if namespaces is None:
        namespaces = (scope.namespace,)
    return tuple(namespaces)
