"""Outages during ramps: each part of the world the operator depends on goes away, and comes back.

One app (`out`) ramps one revision per outage (linear 20 % steps, 5 s apart) under an operator that queries a real
Prometheus (`--alert-failure-policy hold`) and sends Slack and Sentry notifications to an endpoint that accepts
connections and never answers. A second operator (`--alert-failure-policy fail-closed`, app `fc`) shares the
Prometheus. Its VirtualServices are sampled throughout. Each outage is one row, with its expected outcome:

  slack/sentry hang   a whole ramp with the notification endpoint hanging   → released (notifications never
                                                                               stall a pass)
  target down         apiserver `b` stopped mid-ramp                        → ramp holds on `a` while `b` is
                                                                               down, finishes once it is back
  delivery down       delivery apiserver stopped ~10 s mid-ramp             → no crash, ramp finishes
  etcd paused         etcd SIGSTOPped ~10 s mid-ramp (every apiserver hangs) → no crash, ramp finishes
  prometheus (hold)   Prometheus killed mid-ramp                            → ramp holds, no rollback;
                                                                               released once it is back
  prometheus (fail-   the same outage, seen by the fail-closed operator     → rolled back: the previous
  closed)                                                                      release takes 100 % again

Every row also checks: no operator exit, no traceback in its log, no weight jump of more than one step.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from kubernetes import client

from picchu import keys
from picchu.testing.fleet import OperatorProcess
from picchu.testing.prometheus import SloAlerts
from reliability.harness import TARGETS, Row, World

STEP = 20
RAMP = {"eligible": True, "schedule": "always", "scalingStrategy": "linear",
        "linearScaling": {"increment": STEP, "delay": "5s"}}
APP, FC = "out", "fc"


class Hanging:
    """A TCP endpoint that accepts connections and never answers (a hung Slack or Sentry)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(connection)

    def close(self) -> None:
        self.sock.close()
        for connection in self.connections:
            connection.close()


class Sampler:
    """Reads `app`'s weights on every target cluster continuously; counts moves larger than one step."""

    def __init__(self, world: World, app: str, step: int) -> None:
        self.world, self.app, self.step = world, app, step
        self.jumps: list[str] = []
        self.samples = 0
        self.catch_ups = 0  # returns of a cluster after an outage, checked against the clusters that stayed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        last: dict[str, dict[str, int]] = {}
        away: set[str] = set()  # clusters that could not be read since their last sample
        while not self._stop.is_set():
            sampled = {cluster: self.world.weights(cluster, self.app) for cluster in TARGETS}
            for cluster, now in sampled.items():
                if now is None:
                    if cluster in last:
                        away.add(cluster)
                    continue
                self.samples += 1
                before = last.get(cluster)
                if cluster in away:
                    # Back after an outage: it catches up with the decided weights in one write (routes first),
                    # so compare it with a cluster that stayed, not with where it was before.
                    away.discard(cluster)
                    self.catch_ups += 1
                    before = next((w for c, w in sampled.items() if c != cluster and w is not None), None)
                if before is not None and self._moved_more_than_a_step(before, now):
                    self.jumps.append(f"{self.app} on {cluster}: {before} -> {now}")
                last[cluster] = now
            self._stop.wait(0.1)

    def _moved_more_than_a_step(self, before: dict[str, int], now: dict[str, int]) -> bool:
        return any(abs(now.get(t, 0) - before.get(t, 0)) > self.step for t in set(before) | set(now))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(20)


def run(world: World, *, deadline_seconds: float = 300.0) -> list[Row]:
    """All outages in sequence; `deadline_seconds` bounds each one."""
    hanging = Hanging()
    alerts = SloAlerts(alert="availability").start()
    rows: list[Row] = []
    try:
        namespace, fc_namespace = world.namespace("outage"), world.namespace("outfc")
        prometheus = ("--prometheus-query-address", alerts.url, "--prometheus-query-ttl", "1")
        env = {"SLACK_TOKEN": "xoxb-hanging", "PICCHU_SLACK_BASE_URL": f"http://127.0.0.1:{hanging.port}/api/",
               "PICCHU_SENTRY_DSN": f"http://publickey@127.0.0.1:{hanging.port}/42"}
        world.secrets.add("xoxb-hanging")
        hold = world.operator(namespace, *prometheus, "--alert-failure-policy", "hold", "--slack-channel", "C1",
                              env=env)
        fail_closed = world.operator(fc_namespace, *prometheus, "--alert-failure-policy", "fail-closed")
        world.revision(namespace, APP, "v0", minutes=0)
        world.revision(fc_namespace, FC, "v0", minutes=0)
        _wait(lambda: _released(world, namespace, APP, "v0") and _released(world, fc_namespace, FC, "v0"),
              deadline_seconds, "both apps' first release")
        sampler = Sampler(world, APP, STEP)
        ctx = _Context(world, namespace, fc_namespace, hold, fail_closed, alerts, hanging, sampler, deadline_seconds)
        for tag, (name, outage) in enumerate(_OUTAGES.items(), start=1):
            started, jumps_before, catch_ups_before = time.monotonic(), len(sampler.jumps), sampler.catch_ups
            tracebacks_before = world.tracebacks(hold, fail_closed)
            try:
                ok, numbers, notes = outage(ctx, f"v{tag}")
            except Exception as error:  # a failed outage is a failed row; the next ones still run
                ok, numbers, notes = False, {}, [f"{type(error).__name__}: {error}"]
                _recover(ctx)
            jumps = sampler.jumps[jumps_before:]
            tracebacks = world.tracebacks(hold, fail_closed) - tracebacks_before
            numbers.update({"operator exits": int(not hold.running) + int(not fail_closed.running),
                            "tracebacks": tracebacks, "jumps > 1 step": len(jumps),
                            "clusters caught up after an outage": sampler.catch_ups - catch_ups_before})
            ok = ok and hold.running and fail_closed.running and not jumps and not numbers["tracebacks"]
            sources = world.traceback_sources(hold, fail_closed) if numbers["tracebacks"] else []
            rows.append(Row(f"outage: {name}", ok, time.monotonic() - started, numbers,
                            [*notes, *jumps[:3], *sources]))
            if not (hold.running and fail_closed.running):
                break
        sampler.stop()
        world.retire(hold, fail_closed)
    finally:
        alerts.stop()
        hanging.close()
    return rows


class _Context:
    def __init__(self, world: World, namespace: str, fc_namespace: str, hold: OperatorProcess,
                 fail_closed: OperatorProcess, alerts: SloAlerts, hanging: Hanging, sampler: Sampler,
                 budget: float) -> None:
        self.world, self.namespace, self.fc_namespace = world, namespace, fc_namespace
        self.hold, self.fail_closed, self.alerts, self.hanging = hold, fail_closed, alerts, hanging
        self.sampler, self.budget = sampler, budget

    def ramp(self, tag: str, minutes: int) -> None:
        """Apply `tag` for the app and wait until it has traffic (but is not yet released)."""
        self.world.revision(self.namespace, APP, tag, minutes=minutes, target={"release": RAMP})
        _wait(lambda: (self.world.weights("a", APP) or {}).get(tag, 0) >= STEP, self.budget, f"{tag} ramping")

    def released(self, tag: str) -> bool:
        return _released(self.world, self.namespace, APP, tag)


Outcome = tuple[bool, dict[str, Any], list[str]]


def _slack_sentry(ctx: _Context, tag: str) -> Outcome:
    before = len(ctx.hanging.connections)
    ctx.ramp(tag, 1)
    _wait(lambda: ctx.released(tag), ctx.budget, f"{tag} released with Slack and Sentry hanging")
    _wait(lambda: len(ctx.hanging.connections) > before, 60, "a notification attempt")
    return True, {"released": True, "hung connections": len(ctx.hanging.connections) - before}, []


def _target_down(ctx: _Context, tag: str) -> Outcome:
    ctx.ramp(tag, 2)
    b = ctx.world.plane.clusters["b"]
    b.stop_apiserver()
    try:
        ctx.hold.wait_passes(2)  # a pass that began before the outage may still step
        held = ctx.world.weights("a", APP)
        ctx.hold.wait_passes(4)
        still = ctx.world.weights("a", APP)
        holds = held == still and (held or {}).get(tag, 0) < 100
        state = ctx.world.state(ctx.namespace, APP, tag)
    finally:
        b.start_apiserver()
    _wait(lambda: ctx.released(tag), ctx.budget, f"{tag} released once b is back")
    numbers = {"held on a while b down": f"{held}" if holds else f"no: {held} -> {still}", "state": state,
               "released after": True}
    return holds and state == "releasing", numbers, []


def _delivery_down(ctx: _Context, tag: str) -> Outcome:
    ctx.ramp(tag, 3)
    delivery = ctx.world.plane.clusters["delivery"]
    delivery.stop_apiserver()
    time.sleep(10)
    delivery.start_apiserver()
    _wait(lambda: ctx.released(tag), ctx.budget, f"{tag} released after the delivery outage")
    return True, {"down seconds": 10, "released after": True}, []


def _etcd_paused(ctx: _Context, tag: str) -> Outcome:
    ctx.ramp(tag, 4)
    pid = ctx.world.plane.pids()["etcd"]
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(10)
    finally:
        os.kill(pid, signal.SIGCONT)
    _wait(lambda: ctx.released(tag), ctx.budget, f"{tag} released after etcd resumed")
    return True, {"paused seconds": 10, "released after": True}, []


def _prometheus(ctx: _Context, tag: str) -> Outcome:
    """Both policies see the same outage: `hold` holds, `fail-closed` rolls back."""
    world = ctx.world
    world.revision(ctx.fc_namespace, FC, tag, minutes=5, target={"release": RAMP})
    ctx.ramp(tag, 5)
    _wait(lambda: (world.weights("a", FC) or {}).get(tag, 0) >= STEP, ctx.budget, f"{FC} {tag} ramping")
    server = ctx.alerts.server
    assert server is not None
    server.kill()
    try:
        _wait(lambda: _alerts_reason(world, ctx.namespace, APP, tag) == "AlertSourceUnavailable", ctx.budget,
              "the hold operator says its alerts cannot be read")
        ctx.hold.wait_passes(1)
        held = world.weights("a", APP)
        ctx.hold.wait_passes(4)
        still = world.weights("a", APP)
        holds = held == still and (held or {}).get(tag, 0) < 100 and world.state(ctx.namespace, APP, tag) == \
            "releasing"
        _wait(lambda: all(world.weights(c, FC) == {"v0": 100} for c in TARGETS), ctx.budget,
              "fail-closed: v0 back at 100 % on every cluster")
        fc_state = world.state(ctx.fc_namespace, FC, tag)
    finally:
        server.restart()
    _wait(lambda: ctx.released(tag), ctx.budget, f"{tag} released once Prometheus is back")
    numbers = {"hold: held": f"{held}" if holds else f"no: {held} -> {still}",
               "fail-closed: state": fc_state, "fail-closed: weights": "v0 100 % on a, b",
               "hold: released after": True}
    return holds and fc_state in ("failing", "failed"), numbers, []


_OUTAGES: dict[str, Callable[[_Context, str], Outcome]] = {
    "slack/sentry hang": _slack_sentry,
    "target apiserver down": _target_down,
    "delivery apiserver down": _delivery_down,
    "etcd paused": _etcd_paused,
    "prometheus down (hold, fail-closed)": _prometheus,
}


def _recover(ctx: _Context) -> None:
    """After a failed outage, bring everything back so the next one starts from a whole world."""
    for cluster in ctx.world.plane.clusters.values():
        if not cluster.running:
            cluster.start_apiserver()
    pid = ctx.world.plane.pids().get("etcd")
    if pid:
        os.kill(pid, signal.SIGCONT)
    if ctx.alerts.server is not None and ctx.alerts.server.pid is None:
        ctx.alerts.server.restart()


def _released(world: World, namespace: str, app: str, tag: str) -> bool:
    return world.state(namespace, app, tag) == "released" and all(
        world.weights(c, app) == {tag: 100} for c in TARGETS)


def _alerts_reason(world: World, namespace: str, app: str, tag: str) -> str | None:
    try:
        revision = client.CustomObjectsApi(world.apis["delivery"]).get_namespaced_custom_object(
            keys.GROUP, keys.VERSION, namespace, "revisions", f"{app}-{tag}", _request_timeout=15)
    except Exception:
        return None
    found = next((c for c in (revision.get("status") or {}).get("conditions") or [] if c["type"] == "AlertsClear"),
                 None)
    return found["reason"] if found else None


def _wait(predicate: Callable[[], bool], budget: float, what: str) -> None:
    deadline = time.monotonic() + budget
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {budget:.0f}s")
        time.sleep(0.5)
