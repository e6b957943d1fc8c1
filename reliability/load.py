"""Load: Revisions for many apps (200 by default) applied within seconds, as a busy CI would.

One `kubectl apply` of all Revisions at once (first releases: each goes straight to 100 % once its pods are
ready), into a namespace of its own with its own operator. Expected: every app released on both target
clusters, no errored pass, no crash, no traceback; operator memory is sampled throughout and must come back
to a plateau (the last samples, taken while passes keep running over the unchanged world, within 10 % of
each other) rather than keep growing.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from picchu.testing.builders import revision_manifest
from reliability.harness import TARGETS, Row, World


def run(world: World, *, apps: int = 200, deadline_seconds: float = 600.0, seed: int = 10) -> Row:
    started = time.monotonic()
    rng = random.Random(seed)
    namespace = world.namespace("load")
    operator = world.operator(namespace)
    _await_metrics(world, operator)
    rss: list[int] = [operator.rss_bytes()]
    names = [f"l{k:03d}{rng.randrange(16**3):03x}" for k in range(apps)]
    committed = datetime.now(UTC) - timedelta(hours=1)
    manifests = [revision_manifest(app, "v1", namespace=namespace, committed=committed) for app in names]
    applied_at = time.monotonic()
    for chunk in range(0, len(manifests), 50):  # one apply per 50; a loaded apiserver needs minutes for them
        world.delivery.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(manifests[chunk:chunk + 50]),
                               timeout=600)
    apply_seconds = time.monotonic() - applied_at
    released: set[str] = set()
    notes: list[str] = []
    while len(released) < apps:
        for app in names:
            if app not in released and world.state(namespace, app, "v1") == "released" and all(
                    world.weights(c, app) == {"v1": 100} for c in TARGETS):
                released.add(app)
        rss.append(operator.rss_bytes())
        if len(released) < apps and (time.monotonic() - started > deadline_seconds or not operator.running):
            notes.append(f"{apps - len(released)} apps not released within {deadline_seconds:.0f}s"
                         if operator.running else f"operator exited with {operator.exit_code}")
            break
        time.sleep(2)
    all_released_seconds = time.monotonic() - applied_at
    plateau: list[int] = []
    if operator.running:
        for _ in range(4):  # passes over an unchanged world: memory must stop growing
            operator.wait_passes(apps, timeout=300)
            plateau.append(operator.rss_bytes())
    growth = (max(plateau) - min(plateau)) / max(1, min(plateau)) if plateau else 1.0
    errors = world.metric_sum(operator, "picchu_reconcile_errors")
    tracebacks = world.tracebacks(operator)
    crashed = not operator.running
    mib = 2**20
    numbers: dict[str, Any] = {
        "apps": apps, "apply seconds": round(apply_seconds, 1), "released": f"{len(released)}/{apps}",
        "seconds to all released": round(all_released_seconds), "errored passes": int(errors),
        "crashes": int(crashed), "tracebacks": tracebacks,
        "RSS start/peak/end MiB": f"{rss[0] // mib}/{max(rss + plateau) // mib}/{(plateau or rss)[-1] // mib}",
        "plateau spread": f"{growth:.0%}",
    }
    world.retire(operator)
    ok = len(released) == apps and not errors and not crashed and not tracebacks and growth <= 0.10
    return Row("load", ok, time.monotonic() - started, numbers, notes)


def _await_metrics(world: World, operator: Any, timeout: float = 180.0) -> None:
    """Wait until the operator serves metrics (it has started), so the first memory sample means something."""
    deadline = time.monotonic() + timeout
    while not world.metrics(operator) and time.monotonic() < deadline:
        time.sleep(0.5)
