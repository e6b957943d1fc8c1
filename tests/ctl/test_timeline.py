"""`picchu simulate --plot`: the timeline picture is built from the simulated passes (no cluster needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from picchu.ctl.timeline import from_simulation, plot
from picchu.release import ClusterView
from picchu.simulation import load_manifests, parse_event, simulate, simulate_command
from picchu.testing.builders import revision_manifest

START = datetime(2026, 3, 4, 18, 0, tzinfo=UTC)
SLOW = {"eligible": True, "schedule": "always", "scalingStrategy": "geometric",
        "geometricScaling": {"start": 10, "factor": 2, "delay": "30s"}}


def _manifests(tmp_path: Path) -> list[Path]:
    import yaml

    paths = []
    for n, tag in enumerate(("v1", "v2")):
        path = tmp_path / f"{tag}.yaml"
        path.write_text(yaml.safe_dump(revision_manifest("echo", tag, namespace="picchu",
                                                         committed=START + timedelta(minutes=n),
                                                         target={"release": SLOW})))
        paths.append(path)
    return paths


def test_the_timeline_has_a_track_per_cluster_and_marks_the_rollback(tmp_path: Path) -> None:
    revisions = load_manifests(_manifests(tmp_path))
    events = [parse_event("3m: add v2"), parse_event("4m: fail v2")]
    frames = simulate(revisions, events, clusters=(ClusterView("a"), ClusterView("b")), start=START,
                      duration=timedelta(minutes=8), period=timedelta(seconds=5), ready_delay=timedelta(seconds=5))
    timeline = from_simulation(frames, START, ["a", "b"], "echo")
    assert [t.name for t in timeline.tracks] == ["a", "b"]
    peak_v2 = max(w.get("v2", 0) for _, w in timeline.tracks[0].samples)
    assert 0 < peak_v2 < 100
    assert timeline.tracks[0].samples[-1][1].get("v1") == 100  # traffic went back
    (rollback,) = [m for m in timeline.marks if m[1] == "v2 rolled back"]
    first_failing = next(t for t, s in timeline.states["v2"] if s in ("failing", "failed"))
    assert rollback[0] == first_failing >= START + timedelta(minutes=4)
    png = plot(timeline, tmp_path / "timeline.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_simulate_plot_writes_the_png(tmp_path: Path) -> None:
    out = tmp_path / "out" / "timeline.png"
    code = simulate_command(_manifests(tmp_path), ["2m: add v2"], minutes=6, start="2026-03-04T18:00:00Z",
                            plot=out)
    assert code == 0 and out.read_bytes()[:4] == b"\x89PNG"
