"""The release engine: the pure decision core of the operator (spec §8–§10, §14, fixed per §17).

One ReleaseManager pass is ``observe (I/O) → decide (here, pure) → apply (I/O) → report (one status
write)``. The engine, ``picchu render``, ``picchu simulate`` and the tests all call the same function::

    decision = decide(snapshot)

Contract
--------
:class:`Snapshot` (input, frozen): ``app``, ``target``, ``fleet``, ``now`` (aware UTC), ``revisions``
(defaulted :class:`~picchu.api.v1alpha1.revision.Revision` objects having a target named ``target``),
``rm_status`` (``ReleaseManagerRevisionStatus`` entries as read), ``clusters`` (:class:`ClusterView`:
name, live = enabled ∧ ¬hotStandby, scaling_factor, disable_event_driven; disabled clusters are left
out), ``observation`` (:class:`Observation`: ``replicas[tag][cluster] = ReplicaCount(desired,
available)`` summed over the ReplicaSets labelled with the tag, plus ``unreachable`` cluster names),
``settings`` (:class:`Settings`: ``calendar`` — a :class:`ReleaseCalendar` built outside the core, e.g.
``ReleaseCalendar(zone=ZoneInfo("America/Los_Angeles"), holidays=holidays.US(subdiv="CA"))`` —
and ``humane_releases_enabled``), ``rm_name``, ``hold_traffic`` (a reason to hold ramps, e.g. unreadable
alerts), ``applied`` (release weights last applied per cluster); ``namespace`` is derived (``«app»-«target»``).

:class:`Decision` (output, frozen):

* ``rm_status`` — the new ``status.revisions`` (oldest first, deleted entries dropped, recommissioning of
  spec §7.3 applied). **Persist it only if every plan of this Decision applied**; otherwise hold the pass
  (that is how a state transition whose action failed is not taken, spec §9.2).
* ``plans`` — one :class:`TagPlan` per tag: ``previous_state``/``state``, the handler's actions
  (``sync`` = SyncRevision + ScaleRevision, ``retire``, ``delete``, ``sync_canary_rules``,
  ``delete_canary_rules``, ``delete_tagged_service_levels``), ``routable``, ``current_percent``, and for
  every tag with a spec that is not retired/deleted this pass its size: ``share`` (per-cluster ReplicaSet
  replicas and autoscaler min/max before cluster factors), ``clusters`` (the same × each cluster's factor,
  0 for event-driven revisions on ``disableEventDriven`` clusters; standby clusters included) and
  ``autoscaler`` (CPU/memory/requests-rate targets × targetScale, computed on copies). A tag is sized for
  the larger of its handler's state and its new state and of its old and new percent.
* ``routes`` + ``sync_app`` — the weighted destinations (tag, weight, tag_routing_header, traffic_policy),
  newest first; run SyncApp only when ``sync_app`` is true (spec §10.4 precondition, and holds).
* ``kept`` — per cluster, tags whose objects stay untouched there this pass (that cluster still routed
  traffic to them when last applied: no retire, delete or prune under traffic).
* ``deletable_tags`` (GC: label those Revisions deletable), ``delete_release_manager`` (no Revision left),
  ``entered`` (state changes), ``latencies`` (histogram samples to observe once, spec §15), ``reasons``
  (human-readable explanations and holds), ``held`` (nothing to do this pass).

Holds ("unknown is an outcome"): no live cluster → ``held``; a live cluster unreachable → no readiness
verdict, no timeout, no ramp; an unknown state name → that entry is kept untouched and ramps are held.
Traffic only moves toward safety while the world is partly unknown (``safety``): failing tags still shed
what they would shed with the whole world known, to healthy tags with ready pods. One observation per pass, taken before deciding (Picchu observed twice).

Deliberate deviations from Picchu (spec §17; each module's docstring has the details):

* #4 ``pendingReleaseStartTimestamp`` is set; #15 test states obey only ``externalTest.timeout`` and a
  tested-but-ineligible revision waits (retires once expired) instead of timing out; #24 release windows
  use the Los Angeles date and a maintained holiday calendar (observed days block); #26 GC spares the
  newest revision; #33/§9.8 legacy Datadog canary states are mapped, unknown states reported and held;
  §17.2/§17.3: no assertion or division can crash (``p > remaining`` is clamped, no live cluster holds,
  a missing ``scale.min`` counts as 0); #3 autoscaler targets are computed on copies.
* Never route to a tag without ready pods: a tag whose live clusters report no available pod never gains
  weight, not even the leftover (which goes to the next candidate with pods, within ``release.max``).
* The capacity gate never waits for more pods than the revision's own plan provisions (Picchu could stall
  a rollback half-way); every tag is sized for the larger of its handler's and its new state.
* #34 kept: a first canary with no released predecessor receives all traffic (nothing else can serve).

Modules: ``snapshot`` (types), ``facts`` (incarnations, §8.3 facts), ``states`` (the 18 handlers),
``ramp`` (linear/geometric), ``capacity`` (replicas, capacity gate), ``traffic`` (weights), ``schedule``
(release windows), ``gc`` (what to delete), ``safety`` (moves while partly unknown), ``status`` (entries, latencies, recommissioning), ``decide``.
"""

from picchu.release.decide import decide
from picchu.release.schedule import ReleaseCalendar
from picchu.release.snapshot import (
    AutoscalerTargets,
    ClusterScale,
    ClusterView,
    Decision,
    LatencyObservation,
    Observation,
    ReplicaCount,
    Route,
    Settings,
    Snapshot,
    TagPlan,
)

__all__ = [
    "AutoscalerTargets",
    "ClusterScale",
    "ClusterView",
    "Decision",
    "LatencyObservation",
    "Observation",
    "ReleaseCalendar",
    "ReplicaCount",
    "Route",
    "Settings",
    "Snapshot",
    "TagPlan",
    "decide",
]
