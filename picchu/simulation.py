"""`picchu simulate`: the rollout timeline a set of Revisions would produce, without any cluster.

It drives the real decision core (``picchu.release.decide``) pass after pass against a tiny in-memory
fleet: ReplicaSets take the replicas the plans ask for (an autoscaled one sits at its autoscaler's floor:
there is no load model), new pods become ready after a delay, the
Revision controller's part is played too (a revision stuck in ``timingout`` is failed; revisions marked
deletable by GC disappear). Nothing here talks to Kubernetes.

Event syntax (``--event``, repeatable): ``"<offset>: <verb> <subject>"`` where ``offset`` is a Go
duration from the start (``90s``, ``12m``, ``1h30m``) and the verb is one of

* ``add TAG``        the Revision ``TAG`` is created at that time (otherwise every manifest exists at start);
* ``fail TAG``       the Revision is failed (``spec.failed`` + failed-at annotation, as on an SLO alert);
* ``recover TAG``    ``spec.failed`` is cleared again;
* ``delete TAG``     the Revision is deleted;
* ``unreachable C``  cluster ``C`` stops answering: like the operator, passes then apply and persist
  nothing until it answers again;
* ``reachable C``    cluster ``C`` answers again.

Clusters (``--clusters``): comma separated ``name[=scalingFactor][:standby]``, default ``a,b``.

Neighbours: ``picchu.cli`` (the ``simulate`` command calls :func:`simulate_command`), ``picchu.release``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from picchu.api.v1alpha1 import InvalidSpec, load_revision, parse_time
from picchu.api.v1alpha1.durations import parse_duration
from picchu.api.v1alpha1.manifest import check_manifest
from picchu.api.v1alpha1.revision import Revision
from picchu.engine.calendar import build_calendar
from picchu.keys import ANNOTATION_FAILED_AT, ANNOTATION_GIT_COMMIT_TIMESTAMP
from picchu.release import (
    ClusterView,
    Decision,
    Observation,
    ReleaseCalendar,
    ReplicaCount,
    Settings,
    Snapshot,
    decide,
)

VERBS = ("add", "fail", "recover", "delete", "unreachable", "reachable")
_EVENT = re.compile(r"^\s*(?P<at>[^:\s]+)\s*:\s*(?P<verb>[a-z]+)\s+(?P<subject>\S+)\s*$")


class SimulationError(ValueError):
    """Bad simulator input; the message says what to write instead."""


@dataclass(frozen=True)
class Event:
    at: timedelta
    verb: str
    subject: str


def parse_event(text: str) -> Event:
    match = _EVENT.match(text)
    if not match:
        raise SimulationError(f"event {text!r}: write '<offset>: <verb> <subject>', e.g. '12m: fail v2'")
    verb = match["verb"]
    if verb not in VERBS:
        raise SimulationError(f"event {text!r}: unknown verb {verb!r}; use one of {', '.join(VERBS)}")
    try:
        at = parse_duration(match["at"])
    except ValueError:
        raise SimulationError(
            f"event {text!r}: {match['at']!r} is not a duration such as 90s, 12m or 1h"
        ) from None
    return Event(at=at, verb=verb, subject=match["subject"])


def parse_clusters(text: str) -> tuple[ClusterView, ...]:
    views = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, flags = item.partition(":")
        name, _, factor = name.partition("=")
        if flags not in ("", "standby"):
            raise SimulationError(f"cluster {item!r}: the only flag is ':standby', e.g. 'c:standby'")
        try:
            scaling = float(factor) if factor else 1.0
        except ValueError:
            raise SimulationError(
                f"cluster {item!r}: the scaling factor must be a number, e.g. 'a=0.5'"
            ) from None
        views.append(ClusterView(name=name, live=flags != "standby", scaling_factor=scaling))
    if not views:
        raise SimulationError("--clusters is empty: give at least one cluster name, e.g. 'a,b'")
    return tuple(views)


def release_calendar(zone: str = "America/Los_Angeles", holiday_calendar: str = "US-CA") -> ReleaseCalendar:
    """A calendar from settings-style names: ``holiday_calendar`` is ``COUNTRY[-SUBDIVISION]`` or ``""``."""
    return build_calendar(zone, holiday_calendar)


def load_manifests(paths: Sequence[Path]) -> list[Revision]:
    revisions = []
    for path in paths:
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        except yaml.YAMLError as exc:
            raise SimulationError(f"{path}: not YAML ({str(exc).splitlines()[0]}); fix the file") from None
        for doc in docs:
            if not isinstance(doc, dict):
                raise SimulationError(f"{path}: expected Revision objects, got {type(doc).__name__}")
            try:
                check_manifest(doc)  # what `kubectl apply` would refuse, before our own schema
                revisions.append(load_revision(doc))
            except InvalidSpec as exc:
                raise SimulationError(f"{path}: {exc}") from None
    return revisions


# -- the in-memory fleet ----------------------------------------------------------------------------------
@dataclass
class _ReplicaSet:
    desired: int = 0
    pods: list[datetime] = field(default_factory=list)  # ready-at times

    def resize(self, replicas: int, now: datetime, ready_delay: timedelta) -> None:
        self.desired = replicas
        self.pods.sort()
        while len(self.pods) > replicas:
            self.pods.pop()  # the youngest (least ready) pods go first
        self.pods.extend([now + ready_delay] * (replicas - len(self.pods)))


@dataclass
class _Fleet:
    clusters: tuple[ClusterView, ...]
    ready_delay: timedelta
    sets: dict[tuple[str, str], _ReplicaSet] = field(default_factory=dict)  # (cluster, tag)
    unreachable: set[str] = field(default_factory=set)

    def observe(self, now: datetime) -> Observation:
        replicas: dict[str, dict[str, ReplicaCount]] = {}
        for (cluster, tag), rs in self.sets.items():
            if cluster in self.unreachable:
                continue
            ready = sum(1 for t in rs.pods if t <= now)
            replicas.setdefault(tag, {})[cluster] = ReplicaCount(desired=rs.desired, available=ready)
        return Observation(replicas=replicas, unreachable=frozenset(self.unreachable))

    def apply(self, decision: Decision, now: datetime) -> None:
        for plan in decision.plans:
            for c in self.clusters:
                if c.name in self.unreachable or plan.tag in decision.kept.get(c.name, ()):
                    continue
                key = (c.name, plan.tag)
                if plan.delete:
                    self.sets.pop(key, None)
                elif plan.retire and key in self.sets:
                    self.sets[key].resize(0, now, self.ready_delay)
            for cs in plan.clusters if plan.sync else ():
                if cs.cluster in self.unreachable:
                    continue
                autoscaled = any(v is not None for v in (plan.autoscaler.cpu, plan.autoscaler.memory,
                                                         plan.autoscaler.requests_rate))  # fmt: skip
                replicas = cs.replicas
                if autoscaled and replicas > 0:  # an HPA keeps the ReplicaSet inside [min, max]
                    replicas = min(
                        max(replicas, cs.autoscaler_min), max(cs.autoscaler_max, cs.autoscaler_min)
                    )
                self.sets.setdefault((cs.cluster, plan.tag), _ReplicaSet()).resize(
                    replicas, now, self.ready_delay
                )

    def pods(self, tag: str, now: datetime) -> dict[str, tuple[int, int]]:
        """cluster → (ready, desired) for the tag's ReplicaSets."""
        return {
            c: (sum(1 for t in rs.pods if t <= now), rs.desired)
            for (c, g), rs in self.sets.items()
            if g == tag
        }


# -- the timeline ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TagFrame:
    state: str
    percent: int
    pods: dict[str, tuple[int, int]]  # cluster → (ready, desired)


@dataclass(frozen=True)
class Frame:
    at: timedelta
    tags: dict[str, TagFrame]
    reasons: tuple[str, ...]
    events: tuple[str, ...]


def simulate(
    revisions: Sequence[Revision],
    events: Sequence[Event] = (),
    *,
    clusters: tuple[ClusterView, ...] = (ClusterView("a"), ClusterView("b")),
    target: str | None = None,
    start: datetime,
    duration: timedelta = timedelta(minutes=30),
    period: timedelta = timedelta(seconds=15),
    ready_delay: timedelta = timedelta(seconds=20),
    settings: Settings | None = None,
) -> list[Frame]:
    """Run passes every ``period`` from ``start`` for ``duration``; one :class:`Frame` per pass."""
    if not revisions:
        raise SimulationError("no Revision to simulate: pass at least one manifest")
    target = target or revisions[0].spec.targets[0].name
    first_target = next((t for r in revisions if (t := r.target(target)) is not None), None)
    if first_target is None:
        raise SimulationError(
            f"no Revision has a target named {target!r}; use --target with one of its targets"
        )
    if period <= timedelta(0):
        raise SimulationError("the pass period must be positive, e.g. 15 seconds")
    settings = settings or Settings(calendar=release_calendar())
    arrivals = {e.subject: e.at for e in events if e.verb == "add"}
    pool = {
        r.tag: _with_git_time(r, start + arrivals.get(r.tag, timedelta(0)), n)
        for n, r in enumerate(revisions)
    }
    for e in events:
        if e.verb in ("add", "fail", "recover", "delete") and e.subject not in pool:
            raise SimulationError(f"event '{e.verb} {e.subject}': no manifest has the tag {e.subject!r}")
        if e.verb in ("unreachable", "reachable") and e.subject not in {c.name for c in clusters}:
            raise SimulationError(
                f"event '{e.verb} {e.subject}': no cluster named {e.subject!r} in --clusters"
            )
    present = {tag for tag in pool if tag not in arrivals}
    fleet = _Fleet(clusters=clusters, ready_delay=ready_delay)
    status: tuple[Any, ...] = ()
    applied: dict[str, dict[str, int]] = {}
    pending = sorted(events, key=lambda e: e.at)
    frames: list[Frame] = []
    steps = int(duration / period)
    for n in range(steps + 1):
        at = period * n
        now = start + at
        fired = []
        while pending and pending[0].at <= at:
            e = pending.pop(0)
            fired.append(f"{e.verb} {e.subject}")
            _apply_event(e, pool, present, fleet, now)
        snapshot = Snapshot(
            app=revisions[0].app, target=target, fleet=first_target.fleet, now=now,
            revisions=tuple(pool[t] for t in pool if t in present and pool[t].target(target) is not None),
            rm_status=status, clusters=clusters, observation=fleet.observe(now), settings=settings,
            applied=applied,
        )  # fmt: skip
        decision = decide(snapshot)
        if decision.delete_release_manager:
            frames.append(Frame(at, {}, decision.reasons, tuple(fired)))
            break
        reasons = decision.reasons
        if not decision.held:  # like the engine: applied to every reachable cluster, recorded per cluster
            fleet.apply(decision, now)
            status = decision.rm_status
            present -= set(decision.deletable_tags)
            weights = decision.weights()
            applied = {c.name: (applied.get(c.name, weights) if c.name in fleet.unreachable else weights)
                       for c in clusters}  # fmt: skip
        for entry in status:  # the Revision controller's part (spec §6.6, §6.4)
            if entry.state.current == "timingout" and entry.tag in present:
                pool[entry.tag] = _failed(pool[entry.tag], now, True)
        tags = {e.tag: TagFrame(e.state.current, e.current_percent, fleet.pods(e.tag, now)) for e in status}
        frames.append(Frame(at, tags, reasons, tuple(fired)))
    return frames


def _with_git_time(revision: Revision, when: datetime, index: int) -> Revision:
    """Manifests without a git timestamp are ordered by arrival, then by their position on the command line."""
    if parse_time(revision.annotations.get(ANNOTATION_GIT_COMMIT_TIMESTAMP)) is not None:
        return revision
    stamp = (when + timedelta(seconds=index)).strftime("%Y-%m-%dT%H:%M:%SZ")
    metadata = dict(revision.metadata)
    metadata["annotations"] = {**revision.annotations, ANNOTATION_GIT_COMMIT_TIMESTAMP: stamp}
    metadata.setdefault("creationTimestamp", stamp)
    return revision.model_copy(update={"metadata": metadata})


def _failed(revision: Revision, now: datetime, failed: bool) -> Revision:
    metadata = dict(revision.metadata)
    annotations = dict(revision.annotations)
    if failed:
        annotations.setdefault(ANNOTATION_FAILED_AT, now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    metadata["annotations"] = annotations
    spec = revision.spec.model_copy(update={"failed": failed})
    return revision.model_copy(update={"metadata": metadata, "spec": spec})


def _apply_event(
    e: Event, pool: dict[str, Revision], present: set[str], fleet: _Fleet, now: datetime
) -> None:
    if e.verb == "add":
        present.add(e.subject)
    elif e.verb == "delete":
        present.discard(e.subject)
    elif e.verb in ("fail", "recover"):
        pool[e.subject] = _failed(pool[e.subject], now, e.verb == "fail")
    elif e.verb == "unreachable":
        fleet.unreachable.add(e.subject)
    else:
        fleet.unreachable.discard(e.subject)


# -- printing -----------------------------------------------------------------------------------------------
def _clock(at: timedelta) -> str:
    seconds = int(at.total_seconds())
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def render(frames: Sequence[Frame], every_pass: bool = False) -> Table:
    tags: list[str] = []
    for f in frames:
        tags.extend(t for t in f.tags if t not in tags)
    table = Table(title="picchu simulate: rollout timeline")
    table.add_column("time")
    for tag in tags:
        table.add_column(tag)
    table.add_column("pods ready/desired per cluster")
    table.add_column("notes")
    previous: tuple[Any, ...] | None = None
    for f in frames:
        key = tuple((t, f.tags[t].state, f.tags[t].percent) for t in tags if t in f.tags)
        if not every_pass and key == previous and not f.events:
            continue
        previous = key
        cells = [f"{f.tags[t].state} {f.tags[t].percent}%" if t in f.tags else "" for t in tags]
        pods = "; ".join(
            f"{t} " + " ".join(f"{c}:{r}/{d}" for c, (r, d) in sorted(f.tags[t].pods.items()))
            for t in tags
            if t in f.tags and f.tags[t].pods
        )
        notes = "; ".join([*(f"event: {e}" for e in f.events), *f.reasons])
        table.add_row(_clock(f.at), *cells, pods, notes)
    return table


def simulate_command(
    manifests: list[Path],
    events: list[str],
    *,
    clusters: str = "a,b",
    target: str | None = None,
    minutes: float = 30.0,
    period: float = 15.0,
    pod_ready_seconds: float = 20.0,
    start: str | None = None,
    every_pass: bool = False,
    timezone: str = "America/Los_Angeles",
    holiday_calendar: str = "US-CA",
    humane_releases_enabled: bool = True,
    console: Console | None = None,
    plot: Path | None = None,
) -> int:
    """Parse the command's arguments, simulate, print the timeline. Returns the exit code (2 = bad input)."""
    out = console or Console()
    try:
        begin = parse_time(start) if start else datetime.now(UTC)  # noqa: TID251 - the CLI's "now"
        if begin is None:
            raise SimulationError(f"--start {start!r}: write an RFC3339 time such as 2026-03-04T18:00:00Z")
        settings = Settings(release_calendar(timezone, holiday_calendar), humane_releases_enabled)
        frames = simulate(
            load_manifests(manifests), [parse_event(e) for e in events], clusters=parse_clusters(clusters),
            target=target, start=begin, duration=timedelta(minutes=minutes), period=timedelta(seconds=period),
            ready_delay=timedelta(seconds=pod_ready_seconds), settings=settings,
        )  # fmt: skip
    except (SimulationError, ValueError, OSError) as error:
        out.print(f"[red]picchu simulate: {error}[/red]")
        return 2
    out.print(render(frames, every_pass))
    if plot is not None:
        from picchu.ctl.timeline import from_simulation
        from picchu.ctl.timeline import plot as draw

        names = [c.name for c in parse_clusters(clusters)]
        title = f"picchu simulate: {load_manifests(manifests)[0].app}"
        try:
            draw(from_simulation(frames, begin, names, title), plot)
        except (ValueError, OSError) as error:
            out.print(f"[red]picchu simulate: cannot write {plot}: {error}[/red]")
            return 2
        out.print(f"timeline written to {plot}")
    return 0
