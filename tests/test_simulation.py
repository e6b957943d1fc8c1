"""`picchu simulate`: rollout timelines computed by the real decision core with no cluster at all."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from picchu.release import ClusterView
from picchu.simulation import (
    Event,
    Frame,
    SimulationError,
    load_manifests,
    parse_clusters,
    parse_event,
    simulate,
    simulate_command,
)

START = datetime(2026, 3, 4, 18, 0, tzinfo=UTC)  # Wednesday 10:00 in Los Angeles

MANIFEST = """\
apiVersion: picchu.medium.engineering/v1alpha1
kind: Revision
metadata: {{name: echo-{tag}, namespace: picchu}}
spec:
  app: {{name: echo, ref: main, tag: {tag}, image: "echo:{tag}"}}
  failed: false
  targets:
  - name: production
    fleet: prod
    scale: {{min: 2, default: 2, max: 4}}
    release: {{eligible: true, schedule: {schedule}}}
"""


def write(tmp_path: Path, tag: str, schedule: str = "always") -> Path:
    path = tmp_path / f"{tag}.yaml"
    path.write_text(MANIFEST.format(tag=tag, schedule=schedule))
    return path


def timeline(frames: list[Frame], tag: str) -> list[tuple[str, int]]:
    """Distinct (state, percent) steps of one tag, in order."""
    steps: list[tuple[str, int]] = []
    for f in frames:
        if tag in f.tags and (not steps or steps[-1] != (f.tags[tag].state, f.tags[tag].percent)):
            steps.append((f.tags[tag].state, f.tags[tag].percent))
    return steps


def test_a_single_revision_is_released_at_100_percent(tmp_path: Path) -> None:
    frames = simulate(load_manifests([write(tmp_path, "v1")]), start=START, duration=timedelta(minutes=3))
    assert timeline(frames, "v1") == [
        ("deploying", 0),
        ("deployed", 0),
        ("pendingrelease", 0),
        ("releasing", 100),
        ("released", 100),
    ]
    assert frames[-1].tags["v1"].pods == {"a": (1, 1), "b": (1, 1)}


def test_a_second_revision_ramps_10_20_40_80_100_while_the_first_drops(tmp_path: Path) -> None:
    revisions = load_manifests([write(tmp_path, "v1"), write(tmp_path, "v2")])
    frames = simulate(revisions, [parse_event("3m: add v2")], start=START, duration=timedelta(minutes=8))
    v2 = [p for state, p in timeline(frames, "v2") if state in ("releasing", "released")]
    v1 = [p for state, p in timeline(frames, "v1") if state == "released"]
    assert v2[:5] == [10, 20, 40, 80, 100]
    assert v1 == [100, 90, 80, 60, 20, 0]
    assert timeline(frames, "v1")[-1] == ("retired", 0)
    assert frames[-1].tags["v1"].pods == {"a": (0, 0), "b": (0, 0)}


def test_a_revision_failing_at_minute_n_rolls_traffic_back_to_the_previous_release(tmp_path: Path) -> None:
    revisions = load_manifests([write(tmp_path, "v1"), write(tmp_path, "v2")])
    events = [parse_event("3m: add v2"), parse_event("4m45s: fail v2")]
    frames = simulate(revisions, events, start=START, duration=timedelta(minutes=8))
    before = next(f for f in frames if f.at == timedelta(minutes=4, seconds=30))
    at_failure = next(f for f in frames if f.at == timedelta(minutes=4, seconds=45))
    assert before.tags["v2"].percent == 20 and before.tags["v1"].percent == 80
    # Rollbacks never wait: v1 takes v2's traffic back at once although its ready pods were sized for 80 %
    # (the capacity gate holds ramps, not rollbacks); v2 drains in the same pass.
    assert (at_failure.tags["v2"].state, at_failure.tags["v2"].percent) == ("failing", 0)
    assert at_failure.tags["v1"].percent == 100
    assert (frames[-1].tags["v2"].state, frames[-1].tags["v2"].percent) == ("failed", 0)
    assert frames[-1].tags["v1"].percent == 100
    assert frames[-1].tags["v2"].pods == {"a": (0, 0), "b": (0, 0)}


def test_a_failure_after_the_previous_release_retired_recommissions_it(tmp_path: Path) -> None:
    revisions = load_manifests([write(tmp_path, "v1"), write(tmp_path, "v2")])
    events = [parse_event("3m: add v2"), parse_event("8m: fail v2")]
    frames = simulate(revisions, events, start=START, duration=timedelta(minutes=14))
    assert ("retired", 0) in timeline(frames, "v1")
    assert any("recommissioning v1" in r for f in frames for r in f.reasons)
    assert frames[-1].tags["v1"].percent == 100 and frames[-1].tags["v2"].state == "failed"


def test_an_unreachable_cluster_freezes_the_ramp_until_it_answers_again(tmp_path: Path) -> None:
    revisions = load_manifests([write(tmp_path, "v1"), write(tmp_path, "v2")])
    events = [parse_event("3m: add v2"), parse_event("4m: unreachable b"), parse_event("6m: reachable b")]
    frames = simulate(revisions, events, start=START, duration=timedelta(minutes=9))
    frozen = [f.tags["v2"].percent for f in frames if timedelta(minutes=4) <= f.at < timedelta(minutes=6)]
    assert len(set(frozen)) == 1
    assert any("b unreachable" in r for f in frames for r in f.reasons)
    assert frames[-1].tags["v2"].state == "released"


def test_a_failure_while_a_cluster_is_unreachable_still_rolls_back(tmp_path: Path) -> None:
    revisions = load_manifests([write(tmp_path, "v1"), write(tmp_path, "v2")])
    events = [parse_event("3m: add v2"), parse_event("4m30s: unreachable b"), parse_event("5m: fail v2")]
    frames = simulate(revisions, events, start=START, duration=timedelta(minutes=6))
    held = [f.tags["v2"].percent for f in frames if timedelta(minutes=4, seconds=30) <= f.at < timedelta(minutes=5)]
    assert held and held[0] > 0 and len(set(held)) == 1, "the ramp holds while b is unreachable"
    during = [f for f in frames if f.at >= timedelta(minutes=5)]
    assert during and all(f.tags["v2"].percent == 0 and f.tags["v1"].percent == 100 for f in during)
    assert during[-1].tags["v2"].state == "failed"
    assert any("toward safety" in r for f in frames for r in f.reasons)


def test_a_humane_schedule_waits_for_office_hours(tmp_path: Path) -> None:
    saturday = datetime(2026, 3, 7, 18, 0, tzinfo=UTC)
    revisions = load_manifests([write(tmp_path, "v1", schedule="humane")])
    frames = simulate(revisions, start=saturday, duration=timedelta(minutes=3))
    assert frames[-1].tags["v1"].state == "pendingrelease"
    assert "v1 waits for its humane release window" in frames[-1].reasons


def test_cluster_options_accept_factors_and_standby_clusters() -> None:
    assert parse_clusters("a=2, b, c:standby") == (
        ClusterView("a", scaling_factor=2.0),
        ClusterView("b"),
        ClusterView("c", live=False),
    )


@pytest.mark.parametrize("text", ["a=x", "a:hot", ""])
def test_bad_cluster_options_say_how_to_write_them(text: str) -> None:
    with pytest.raises(SimulationError, match="e.g."):
        parse_clusters(text)


def test_events_are_parsed_with_go_durations() -> None:
    assert parse_event("1h2m: fail v2") == Event(timedelta(hours=1, minutes=2), "fail", "v2")
    assert parse_event(" 90s : unreachable b ") == Event(timedelta(seconds=90), "unreachable", "b")


@pytest.mark.parametrize(
    "text,message",
    [
        ("fail v2", "<offset>: <verb> <subject>"),
        ("5m: explode v2", "unknown verb"),
        ("5x: fail v2", "not a duration"),
    ],
)
def test_bad_events_say_what_to_write(text: str, message: str) -> None:
    with pytest.raises(SimulationError, match=message):
        parse_event(text)


def test_the_command_prints_the_timeline(tmp_path: Path) -> None:
    out = io.StringIO()
    code = simulate_command(
        [write(tmp_path, "v1")], ["2m: unreachable b"], minutes=3, start="2026-03-04T18:00:00Z",
        console=Console(file=out, width=160),
    )  # fmt: skip
    assert code == 0
    text = out.getvalue()
    assert "released 100%" in text and "event: unreachable b" in text


def test_the_command_reports_bad_input_instead_of_crashing(tmp_path: Path) -> None:
    out = io.StringIO()
    code = simulate_command([write(tmp_path, "v1")], ["5m: fail v9"], console=Console(file=out, width=160),
                            start="2026-03-04T18:00:00Z")  # fmt: skip
    assert code == 2 and "no manifest has the tag 'v9'" in out.getvalue()
    out = io.StringIO()
    assert simulate_command([tmp_path / "missing.yaml"], [], console=Console(file=out, width=160)) == 2
