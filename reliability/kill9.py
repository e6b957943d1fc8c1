"""kill -9 of the operator at random points during many ramps.

Several apps (10) ramp, each one revision after another (2 each, linear 10 % steps), while a killer
SIGKILLs the operator at a random point among its passes (after 1–4 finished ReleaseManager passes of that
process, plus 0–1.5 s) and starts a new one at once. Waiting for passes, not seconds, is what bounds the scenario on a loaded machine:
every incarnation does some work before it dies, so ramps always progress (a kill before the first pass
would only measure start-up time). At most `max_kills` kills, then the last operator finishes the ramps.
A sampler reads every VirtualService continuously. Expected: no weight ever moves by more than one ramp step
between two samples taken less than one ramp delay apart (a restart must neither skip nor repeat a step; a
larger move between samples further apart is reported as unresolved, not as a jump), no Revision or
ReplicaSet is lost, and every ramp finishes. Leader election is off (one operator at a time).
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

from reliability.harness import TARGETS, Row, World

STEP = 10
DELAY = 2.0  # seconds between two steps of one ramp
RAMP = {"eligible": True, "schedule": "always", "scalingStrategy": "linear",
        "linearScaling": {"increment": STEP, "delay": f"{DELAY:g}s"}}


def run(world: World, *, apps: int = 5, ramps_per_app: int = 4, deadline_seconds: float = 900.0,
        max_kills: int = 40, seed: int = 10) -> Row:
    rng = random.Random(seed)
    started = time.monotonic()
    namespace = world.namespace("kill9")
    names = [f"k{k}{rng.randrange(16**4):04x}" for k in range(apps)]
    operator = [world.operator(namespace)]
    starts = [operator[0]]
    for app in names:
        world.revision(namespace, app, "v0", minutes=0)
    _wait(lambda: all(world.weights(c, a) == {"v0": 100} for a in names for c in TARGETS), started,
          deadline_seconds, "first releases")
    jumps: list[str] = []
    unresolved: list[str] = []
    samples = [0]
    kills = [0]
    stop = threading.Event()

    def sample() -> None:
        """A move of more than one step between two samples taken less than one ramp delay apart is a jump;
        between samples further apart (a loaded apiserver answering slowly or not at all) two legitimate steps
        may lie, so that move is only counted as unresolved."""
        last: dict[tuple[str, str], tuple[float, dict[str, int]]] = {}
        while not stop.is_set():
            for app in names:
                for cluster in TARGETS:
                    now = world.weights(cluster, app)
                    at = time.monotonic()
                    if now is None:
                        continue
                    samples[0] += 1
                    previous = last.get((app, cluster))
                    if previous is not None:
                        gap, before = at - previous[0], previous[1]
                        if any(abs(now.get(t, 0) - before.get(t, 0)) > STEP for t in set(before) | set(now)):
                            (jumps if gap < DELAY else unresolved).append(
                                f"{app} on {cluster}: {before} -> {now} ({gap:.1f}s apart)")
                    last[(app, cluster)] = (at, now)
            stop.wait(0.05)

    def kill() -> None:
        """After 1–4 passes of the current operator and 0–1.5 s more, SIGKILL it; restart it at once."""
        while not stop.is_set() and kills[0] < max_kills:
            wanted, busy_by = rng.randint(1, 4), time.monotonic() + 180
            while operator[0].passes() < wanted and time.monotonic() < busy_by and not stop.is_set():
                time.sleep(0.1)
            if stop.wait(rng.uniform(0.0, 1.5)):
                return
            operator[0].kill()
            kills[0] += 1
            operator[0] = world.operator(namespace)
            starts.append(operator[0])

    threads = [threading.Thread(target=sample, daemon=True), threading.Thread(target=kill, daemon=True)]
    for thread in threads:
        thread.start()
    finished = applied = 0
    timeout: list[str] = []
    try:
        for n in range(1, ramps_per_app + 1):
            tag = f"v{n}"
            for app in names:
                world.revision(namespace, app, tag, minutes=n, target={"release": RAMP})
            applied = n
            _wait(lambda t=tag: all(world.weights(c, a) == {t: 100} for a in names for c in TARGETS), started,
                  deadline_seconds, f"ramps to {tag}")
            finished += len(names)
    except TimeoutError as error:  # still report what was measured until then
        timeout.append(str(error))
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    expected = {f"{app}-v{n}" for app in names for n in range(applied + 1)}
    lost_revisions = sorted(expected - set(world.revisions(namespace)))
    settled = applied + 1 if not timeout else applied  # a Revision applied just before a timeout may have no RS yet
    lost_sets = [f"{app}-v{n} on {c}" for app in names for c in TARGETS for n in range(settled)
                 if f"v{n}" not in world.replicasets(c, app)]
    tracebacks = world.tracebacks(*starts)
    numbers: dict[str, Any] = {
        "ramps finished": f"{finished}/{apps * ramps_per_app}", "kill -9": kills[0], "samples": samples[0],
        "jumps > 1 step": len(jumps),
        "moves > 1 step between samples > 1 delay apart": len(unresolved),
        "Revisions lost": len(lost_revisions), "ReplicaSets lost": len(lost_sets),
        "tracebacks in logs": tracebacks,
    }
    world.retire(operator[0])
    ok = finished == apps * ramps_per_app and not jumps and not lost_revisions and not lost_sets
    return Row("kill -9 during ramps", ok, time.monotonic() - started, numbers,
               [*timeout, *jumps[:5], *unresolved[:3], *lost_revisions[:5], *lost_sets[:5]])


def _wait(predicate: Any, started: float, budget: float, what: str) -> None:
    while not predicate():
        if time.monotonic() - started > budget:
            raise TimeoutError(f"{what} not done within {budget:.0f}s")
        time.sleep(0.5)
