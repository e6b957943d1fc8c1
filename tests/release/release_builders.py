"""Builders for release-engine tests: Revisions as users write them, status entries, observations.

They go through `load_revision` (defaults and validation applied) so tests exercise the same models the
operator reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from picchu.api.v1alpha1 import load_revision
from picchu.api.v1alpha1.release_manager import ReleaseManagerRevisionStatus
from picchu.api.v1alpha1.revision import Revision
from picchu.release import ClusterView, Observation, ReplicaCount, Settings, Snapshot

T0 = datetime(2026, 3, 4, 18, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Los Angeles
APP = "echo"
TARGET = "production"
FLEET = "prod"

SLO = {"name": "availability", "enabled": True, "objectivePercentString": "99.9"}


def revision(
    tag: str,
    *,
    git: datetime = T0,
    created: datetime | None = None,
    eligible: bool = True,
    failed: bool = False,
    release: Mapping[str, Any] | None = None,
    scale: Mapping[str, Any] | None = None,
    canary: Mapping[str, Any] | None = None,
    slos: bool = False,
    external_test: Mapping[str, Any] | None = None,
    event_driven: bool = False,
    tag_routing_header: str | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Revision:
    target: dict[str, Any] = {
        "name": TARGET,
        "fleet": FLEET,
        "scale": dict(scale) if scale is not None else {"min": 1, "default": 1, "max": 1},
        "release": {"eligible": eligible, "schedule": "always", **(release or {})},
    }
    if canary is not None:
        target["canary"] = dict(canary)
    if slos:
        target["serviceLevelObjectives"] = [SLO]
    if external_test is not None:
        target["externalTest"] = dict(external_test)
    spec: dict[str, Any] = {
        "app": {"name": APP, "ref": "main", "tag": tag, "image": f"registry/{APP}:{tag}"},
        "targets": [target],
        "failed": failed,
    }
    if event_driven:
        spec["eventDriven"] = True
    if tag_routing_header:
        spec["tagRoutingHeader"] = tag_routing_header
    meta_annotations = {"git-scm.com/committer-timestamp": git.strftime("%Y-%m-%dT%H:%M:%SZ")}
    meta_annotations.update(annotations or {})
    return load_revision(
        {
            "apiVersion": "picchu.medium.engineering/v1alpha1",
            "kind": "Revision",
            "metadata": {
                "name": f"{APP}-{tag}",
                "namespace": "picchu",
                "creationTimestamp": (created or git).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "annotations": meta_annotations,
            },
            "spec": spec,
        }
    )


def entry(
    tag: str,
    state: str,
    percent: int = 0,
    *,
    peak: int | None = None,
    eligible: bool = True,
    state_since: datetime | None = None,
    last_updated: datetime | None = None,
    current: int = 0,
    desired: int = 0,
    ttl: int | None = 432000,
    **extra: Any,
) -> ReleaseManagerRevisionStatus:
    wire: dict[str, Any] = {
        "tag": tag,
        "state": {"current": state, "target": state, "lastUpdated": state_since or T0 - timedelta(minutes=1)},
        "currentPercent": percent,
        "peakPercent": peak if peak is not None else (100 if state == "released" else percent),
        "releaseEligible": eligible,
        "lastUpdated": last_updated or T0 - timedelta(minutes=1),
        "scale": {"Current": current, "Desired": desired, "Peak": current},
        "ttl": ttl,
    }
    wire.update(extra)
    return ReleaseManagerRevisionStatus.model_validate({k: v for k, v in wire.items() if v is not None})


def ready(tags: Mapping[str, int], clusters: Iterable[str] = ("a",)) -> Observation:
    """Every cluster reports `n` desired and available pods for each tag."""
    names = list(clusters)
    return Observation(
        replicas={tag: {c: ReplicaCount(desired=n, available=n) for c in names} for tag, n in tags.items()}
    )


def snapshot(
    revisions: Iterable[Revision] = (),
    status: Iterable[ReleaseManagerRevisionStatus] = (),
    *,
    observation: Observation | None = None,
    clusters: Iterable[ClusterView] | None = None,
    now: datetime = T0,
    settings: Settings | None = None,
) -> Snapshot:
    return Snapshot(
        app=APP,
        target=TARGET,
        fleet=FLEET,
        now=now,
        revisions=tuple(revisions),
        rm_status=tuple(status),
        clusters=tuple(clusters) if clusters is not None else (ClusterView("a"),),
        observation=observation or Observation(),
        settings=settings or Settings(),
        rm_name=f"{APP}-{TARGET}",
    )
