"""Timeline pictures (`picchu simulate --plot`, `picchu history --plot`): traffic percent per tag over time,
one panel per cluster, a band per tag coloured by state, and the rollback moments marked.

Why a picture: a ramp with holds, a canary and a rollback is read at a glance on a plot and not in a table.
Both commands build the same :class:`Timeline` (from simulated passes, or from a ReleaseManager's Events)
and :func:`plot` draws it with matplotlib's non-interactive Agg backend (no display needed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

STATE_COLOURS = {
    "created": "#d9d9d9", "deploying": "#bdbdbd", "deployed": "#969696",
    "pendingtest": "#c7e9c0", "testing": "#a1d99b", "tested": "#74c476",
    "canarying": "#fdae6b", "canaried": "#fd8d3c", "pendingrelease": "#bcbddc",
    "releasing": "#6baed6", "released": "#2171b5",
    "retiring": "#e5e5e5", "retired": "#f0f0f0", "deleting": "#e5e5e5", "deleted": "#f7f7f7",
    "failing": "#fb6a4a", "failed": "#cb181d", "timingout": "#ef3b2c",
}  # fmt: skip
ROLLBACK_STATES = frozenset({"failing", "failed"})


@dataclass
class Track:
    """Route weights in one cluster: ``samples`` = (time, {tag: percent}) at each change."""

    name: str
    samples: list[tuple[datetime, dict[str, int]]] = field(default_factory=list)


@dataclass
class Timeline:
    title: str
    tracks: list[Track]
    states: dict[str, list[tuple[datetime, str]]]
    """Per tag, (time, state) at each state change."""
    marks: list[tuple[datetime, str]] = field(default_factory=list)
    """Moments to mark with a vertical line (rollbacks, unreachable clusters, steering)."""
    end: datetime | None = None


def rollback_marks(states: dict[str, list[tuple[datetime, str]]]) -> list[tuple[datetime, str]]:
    """The first moment each tag entered failing/failed after having been somewhere else."""
    marks = []
    for tag, changes in states.items():
        first = next((t for t, s in changes if s in ROLLBACK_STATES), None)
        if first is not None:
            marks.append((first, f"{tag} rolled back"))
    return marks


def from_simulation(frames: Sequence[object], start: datetime, clusters: Sequence[str], title: str) -> Timeline:
    """A simulator run: weights per cluster (a cluster that is unreachable keeps its last weights)."""
    tracks = {c: Track(c) for c in clusters}
    states: dict[str, list[tuple[datetime, str]]] = {}
    marks: list[tuple[datetime, str]] = []
    unreachable: set[str] = set()
    moment = start
    for frame in frames:
        moment = start + frame.at  # type: ignore[attr-defined]
        for event in frame.events:  # type: ignore[attr-defined]
            verb, _, subject = event.partition(" ")
            if verb == "unreachable":
                unreachable.add(subject)
                marks.append((moment, f"{subject} unreachable"))
            elif verb == "reachable":
                unreachable.discard(subject)
            elif verb in ("fail", "add", "recover", "delete"):
                marks.append((moment, event))
        weights = {tag: tf.percent for tag, tf in frame.tags.items()}  # type: ignore[attr-defined]
        for name, track in tracks.items():
            if name in unreachable and track.samples:
                continue
            if not track.samples or track.samples[-1][1] != weights:
                track.samples.append((moment, weights))
        for tag, tf in frame.tags.items():  # type: ignore[attr-defined]
            changes = states.setdefault(tag, [])
            if not changes or changes[-1][1] != tf.state:
                changes.append((moment, tf.state))
    marks = [m for m in marks if not m[1].startswith("fail ")] + rollback_marks(states)
    return Timeline(title, list(tracks.values()), states, marks, end=moment)


def _merge(marks: Sequence[tuple[datetime, str]], within: timedelta) -> list[tuple[datetime, str]]:
    """Marks closer than ``within`` share one line and one label (e.g. "abort v3 · v3 rolled back")."""
    merged: list[tuple[datetime, str]] = []
    for moment, label in sorted(marks):
        if merged and moment - merged[-1][0] <= within:
            merged[-1] = (merged[-1][0], f"{merged[-1][1]} · {label}")
        else:
            merged.append((moment, label))
    return merged


def plot(timeline: Timeline, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    tags = list(timeline.states) or sorted({t for tr in timeline.tracks for _, w in tr.samples for t in w})
    palette = plt.get_cmap("tab10")
    colour = {tag: palette(i % 10) for i, tag in enumerate(tags)}
    times = [t for tr in timeline.tracks for t, _ in tr.samples] + [t for ch in timeline.states.values() for t, _ in ch]
    if not times:
        raise ValueError("nothing to plot: no traffic or state change was recorded")
    begin = min(times)
    end = timeline.end or max(times)
    if end <= begin:
        end = begin + timedelta(minutes=1)
    rows = len(timeline.tracks)
    fig, axes = plt.subplots(rows + 1, 1, sharex=True, figsize=(11, 2.3 * rows + 0.5 + 0.35 * len(tags) + 1.2),
                             gridspec_kw={"height_ratios": [3] * rows + [max(1, 0.45 * len(tags))]})
    for ax, track in zip(axes[:-1], timeline.tracks, strict=True):
        for tag in tags:
            xs, ys = [], []
            for t, weights in track.samples:
                xs.append(t)
                ys.append(weights.get(tag, 0))
            if not xs or not any(ys):
                continue
            xs.append(end)
            ys.append(ys[-1])
            ax.step(xs, ys, where="post", color=colour[tag], linewidth=2, label=tag)
        ax.set_ylim(-3, 105)
        ax.set_ylabel(f"cluster {track.name}\ntraffic %")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, title="tag")
    band = axes[-1]
    for row, tag in enumerate(tags):
        changes = timeline.states.get(tag, [])
        for k, (t, state) in enumerate(changes):
            stop = changes[k + 1][0] if k + 1 < len(changes) else end
            start = float(mdates.date2num(t))  # type: ignore[no-untyped-call]
            width = float(mdates.date2num(stop)) - start  # type: ignore[no-untyped-call]
            band.broken_barh([(start, width)], (row - 0.4, 0.8),
                             facecolors=STATE_COLOURS.get(state, "#ffffff"), edgecolor="white")
    band.set_yticks(range(len(tags)), labels=tags)
    band.set_ylim(-0.6, len(tags) - 0.4)
    band.invert_yaxis()
    band.set_ylabel("state")
    seen = [s for s in STATE_COLOURS if any(s == st for ch in timeline.states.values() for _, st in ch)]
    band.legend(handles=[Patch(facecolor=STATE_COLOURS[s], label=s) for s in seen], loc="upper left",
                bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize="small", title="state")
    for moment, label in _merge(timeline.marks, (end - begin) / 60):
        rollback = "rolled back" in label
        for ax in axes:
            ax.axvline(moment, color="#cb181d" if rollback else "#777777", linestyle="--", linewidth=1.2)
        x = float(mdates.date2num(moment))  # type: ignore[no-untyped-call]
        axes[0].annotate(label, (x, 103), xytext=(3, 0), textcoords="offset points",
                         fontsize="small", va="top", color="#cb181d" if rollback else "#555555",
                         bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})
    axes[-1].set_xlim(begin, end)
    short = end - begin < timedelta(hours=1)
    axes[-1].xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S" if short else "%H:%M"))  # type: ignore[no-untyped-call]
    axes[-1].set_xlabel("time (UTC)")
    fig.suptitle(timeline.title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
