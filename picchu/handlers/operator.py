"""The operator process: kopf at the edge, the engine inside.

kopf only watches the delivery cluster and turns each watch event into a *wake* of a key in a `WorkQueue`;
the queues run the engine's passes in worker threads, requeue them every sync period, and back off on errors.
kopf's index handlers copy every watched object into the engine's `DeliveryStore` (kopf runs them for each
event, and runs no other handler before every kind's initial list is indexed), so passes read from memory.
No kopf state (annotations, finalizers, progress) is ever written to picchu objects: only non-persistent event
handlers are registered. This module also starts the metrics and health endpoints and, when asked, waits for
the leader Lease before doing anything.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Hashable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import kopf
from kubernetes import client

from picchu import keys, logs
from picchu.api.v1alpha1.manifest import is_object_name
from picchu.clusters.idle_connections import IDLE_SECONDS, close_idle
from picchu.clusters.observer import WatchingObserver
from picchu.engine.alert_wake import AlertWaker
from picchu.engine.assembly import build_context
from picchu.engine.context import EngineContext
from picchu.engine.dispatch import reconcile_key
from picchu.handlers import process
from picchu.handlers.metrics_endpoint import serve_metrics
from picchu.handlers.shards import Shard
from picchu.handlers.workqueue import WorkQueue
from picchu.outcome import Park
from picchu.settings import Settings

log = logging.getLogger(__name__)
KINDS = ("revisions", "releasemanagers", "clusters", "clustersecrets")
STORED = {"revisions": "Revision", "releasemanagers": "ReleaseManager", "clusters": "Cluster",
          "clustersecrets": "ClusterSecrets", "mirrors": "Mirror", "faultinjectors": "FaultInjector"}


class Health:
    """/healthz: something beat within `stale_after` seconds (the queues' event loop, or the Lease wait of a
    follower); /readyz: the operator leads and watches. Served before anything else starts."""

    def __init__(self, stale_after: float = 30.0) -> None:
        self.ready = threading.Event()
        self.stale_after = stale_after
        self._last_beat: float | None = None

    def beat(self) -> None:
        self._last_beat = time.monotonic()

    @property
    def live(self) -> bool:
        return self._last_beat is not None and time.monotonic() - self._last_beat < self.stale_after

    def serve(self, address: str) -> ThreadingHTTPServer:
        host, _, port = address.rpartition(":")
        health = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                checks = {"/healthz": lambda: health.live, "/readyz": health.ready.is_set}
                check = checks.get(self.path)
                code = 404 if check is None else 200 if check() else 503
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"ok\n" if code == 200 else b"not found\n" if code == 404 else b"not ready\n")

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer((host or "0.0.0.0", int(port)), Handler)
        threading.Thread(target=server.serve_forever, name="picchu-health", daemon=True).start()
        return server


def build_registry(ctx: EngineContext, queues: dict[str, WorkQueue], health: Health) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    changes = SpecChanges()
    group = keys.GROUP
    shard = Shard(ctx.settings.shard_index, ctx.settings.shards)  # events of other shards' apps are dropped

    store = ctx.delivery.store

    def remember(body: kopf.Body, type: str | None) -> None:
        """Runs in every event handler: kopf calls those only once every kind's initial list is indexed."""
        if store is None:
            return
        store.mark_ready()
        if type == "DELETED":
            store.remove(str(body.get("kind")), body.metadata.namespace or "", body.metadata.name or "")

    if store is not None:
        for plural in STORED:
            # Returns None: kopf keeps nothing of its own, the store keeps the object.
            kopf.index(group, "v1alpha1", plural, registry=registry, id=f"store-{plural}")(
                lambda body, **_: store.put(body))
        for plural in ("mirrors", "faultinjectors"):  # watched only to keep the store current
            kopf.on.event(group, "v1alpha1", plural, registry=registry, id=f"forget-{plural}")(
                lambda body, type, **_: remember(body, type))

    # An explicit registry has none of kopf's default login handlers: watch with the engine's credentials.
    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return connection_info(ctx.delivery.api_client)

    # A target namespace is named after its ReleaseManager: RM name -> the delivery namespaces holding one.
    # Values are replaced, never mutated, because the watch threads of the target clusters read them.
    release_managers_by_name: dict[str, frozenset[str]] = {}

    def replica_sets_changed(cluster: str, namespace: str) -> None:
        """Pods became ready (or went away) in a target cluster: its ReleaseManager's next step may be due now,
        a deploying tag may be deployed, capacity may let a ramp step through. Scheduled, never un-parked."""
        for ns in release_managers_by_name.get(namespace, ()):
            queues["releasemanagers"].add(("ReleaseManager", ns, namespace))

    if isinstance(ctx.observer, WatchingObserver):
        ctx.observer.on_change = replica_sets_changed

    def alert_fired(ns: str, name: str, app: str) -> None:
        """A rollback never waits for the period: the failing Revision runs now, even if it was parked."""
        if shard.owns_app(ns, app):
            queues["revisions"].wake(("Revision", ns, name), group=(ns, app))

    @kopf.on.startup(registry=registry)
    async def start_queues(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
        settings.posting.enabled = False  # our own EventRecorder writes the events users read
        settings.watching.server_timeout = 300
        settings.watching.client_timeout = 330
        memo.tasks = [asyncio.create_task(q.run(), name=f"queue-{n}") for n, q in queues.items()]
        memo.heartbeat = asyncio.create_task(_heartbeat(health))
        memo.sweeper = asyncio.create_task(_close_idle_connections(ctx))
        memo.alert_waker = AlertWaker(ctx, alert_fired, ctx.settings.prometheus_query_ttl_seconds).start()
        health.ready.set()

    @kopf.on.cleanup(registry=registry)
    async def stop_queues(memo: kopf.Memo, **_: Any) -> None:
        if memo.get("alert_waker") is not None:
            memo.alert_waker.stop()
        for task in [*memo.get("tasks", []), memo.get("heartbeat"), memo.get("sweeper")]:
            if task is not None:
                task.cancel()

    @kopf.on.event(group, "v1alpha1", "revisions", registry=registry)
    def revision_event(body: kopf.Body, type: str | None, **_: Any) -> None:
        remember(body, type)
        ns, name = body.metadata.namespace, body.metadata.name
        app = _app_name(body.spec.get("app"))
        if not shard.owns_app(ns or "", app or name):
            return
        changed = changes.spec_changed(body, type) or type != "MODIFIED"
        # A status or label write (often our own) reruns a healthy Revision but leaves a parked one parked.
        wake(queues["revisions"], ("Revision", ns, name), changed, group=(ns, app or name))
        if not changed:
            return  # the ReleaseManagers have nothing new to read
        for target in body.spec.get("targets") or []:
            if app and isinstance(target, dict) and target.get("name"):
                rm = f"{app}-{target['name']}"
                if is_object_name(rm):  # an invalid Revision names no ReleaseManager (its pass reports it)
                    queues["releasemanagers"].wake(("ReleaseManager", ns, rm), group=(ns, app))

    @kopf.on.event(group, "v1alpha1", "releasemanagers", registry=registry)
    def release_manager_event(body: kopf.Body, type: str | None, old: Any = None, **_: Any) -> None:
        remember(body, type)
        # Our own status writes must not retrigger a pass (Picchu's lastUpdated filter, §4.2): only creation,
        # deletion, the initial listing and spec/metadata changes (generation, deletionTimestamp) wake it.
        meta = body.metadata
        app = body.spec.get("app") if isinstance(body.spec.get("app"), str) else None
        if not shard.owns_app(meta.namespace or "", app or meta.name):
            return
        group = (meta.namespace, app or meta.name)
        known = release_managers_by_name.get(meta.name or "", frozenset())
        release_managers_by_name[meta.name or ""] = (known - {meta.namespace} if type == "DELETED"
                                                     else known | {meta.namespace or ""})
        if not changes.spec_changed(body, type) and type == "MODIFIED" and not meta.get("deletionTimestamp"):
            # Its status moved: the app's Revisions mirror it at once (their status shows the new state), and
            # those parked on it (blocked on clusters) read it again.
            queues["revisions"].add_group(group)
            queues["revisions"].wake_group(group)
            return
        queues["releasemanagers"].wake(("ReleaseManager", meta.namespace, meta.name), group=group)

    @kopf.on.event(group, "v1alpha1", "clusters", registry=registry)
    def cluster_event(body: kopf.Body, type: str | None, **_: Any) -> None:
        remember(body, type)
        meta = body.metadata
        changed = changes.spec_changed(body, type) or type != "MODIFIED"
        if shard.owns_clusters:
            wake(queues["clusters"], ("Cluster", meta.namespace, meta.name), changed)
        if type in ("ADDED", "DELETED", "MODIFIED"):  # a fleet change (or a Ready flip) wakes that fleet's apps
            for rm_key, app in ctx_release_managers(ctx, meta.namespace or "",
                                                    (meta.labels or {}).get(keys.LABEL_FLEET)):
                if shard.owns_app(meta.namespace or "", app):
                    queues["releasemanagers"].wake(rm_key, group=(meta.namespace, app))

    @kopf.on.event(group, "v1alpha1", "clustersecrets", registry=registry)
    def cluster_secrets_event(body: kopf.Body, type: str | None, **_: Any) -> None:
        remember(body, type)
        if not shard.owns_clusters:
            return
        wake(queues["clustersecrets"], ("ClusterSecrets", body.metadata.namespace, body.metadata.name),
             changes.spec_changed(body, type) or type != "MODIFIED")

    return registry


class SpecChanges:
    """Each watched object's last seen generation and labels, so status writes (ours included) can be told
    apart from spec and label changes: labels choose which Revisions a ReleaseManager reads, so the fleet label
    a Revision pass adds to a new Revision must wake its ReleaseManagers at once, not a period later. Deleted
    objects leave the memory, so it only holds live objects."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str, str], Any] = {}

    def spec_changed(self, body: kopf.Body, event_type: str | None) -> bool:
        key = (str(body.get("kind")), body.metadata.namespace or "", body.metadata.name or "")
        if event_type == "DELETED":
            self._seen.pop(key, None)
            return True
        seen = (body.metadata.get("generation"), tuple(sorted((body.metadata.get("labels") or {}).items())))
        changed = self._seen.get(key) != seen
        self._seen[key] = seen
        return changed


def wake(queue: WorkQueue, key: Hashable, changed: bool, group: Hashable | None = None) -> None:
    """A changed object resets its key's back-off and runs now; any other event only schedules it."""
    if changed:
        queue.wake(key, group=group)
    else:
        queue.add(key, group=group)


def _app_name(app: Any) -> str | None:
    name = app.get("name") if isinstance(app, dict) else None
    return name if isinstance(name, str) and name else None


def connection_info(api: client.ApiClient) -> kopf.ConnectionInfo:
    """kopf's credentials, taken from the kubernetes client configuration the engine uses."""
    cfg = api.configuration
    header = cfg.get_api_key_with_prefix("BearerToken") or cfg.get_api_key_with_prefix("authorization") or ""
    scheme, _, token = header.partition(" ") if " " in header else ("Bearer", "", header)
    return kopf.ConnectionInfo(
        server=cfg.host, ca_path=cfg.ssl_ca_cert, insecure=not cfg.verify_ssl, scheme=scheme or None,
        token=token or None, certificate_path=cfg.cert_file, private_key_path=cfg.key_file,
    )


def ctx_release_managers(ctx: EngineContext, namespace: str, fleet: str | None) -> list[tuple[Hashable, str]]:
    """(key, app) of each ReleaseManager of `fleet`."""
    if not fleet:
        return []
    try:
        rms = ctx.delivery.list("ReleaseManager", namespace, {keys.LABEL_FLEET: fleet})
    except Exception:
        return []
    found: list[tuple[Hashable, str]] = []
    for rm in rms:
        app = (rm.get("spec") or {}).get("app")
        name = rm["metadata"]["name"]
        found.append((("ReleaseManager", namespace, name), app if isinstance(app, str) and app else name))
    return found


async def _heartbeat(health: Health) -> None:
    while True:
        health.beat()
        await asyncio.sleep(5)


async def _close_idle_connections(ctx: EngineContext) -> None:
    """Close the delivery and target clients' pooled connections idle for `IDLE_SECONDS` or closed by their
    apiserver (see `clusters.idle_connections`): an operator left idle after a burst otherwise keeps them all."""
    def sweep() -> int:
        apis = [ctx.delivery.api_client, *(ctx.pool.clients() if ctx.pool is not None else ())]
        return sum(close_idle(api) for api in apis)

    while True:
        await asyncio.sleep(IDLE_SECONDS / 2)
        try:
            closed = await asyncio.to_thread(sweep)
        except Exception:  # never stop sweeping; a failure here costs memory, not correctness
            log.warning("closing idle connections failed", exc_info=True)
            continue
        if closed:
            log.debug("closed %d idle connections", closed)
            await asyncio.to_thread(process.release_free_memory)  # their memory, among the rest freed since


def build_queues(ctx: EngineContext) -> dict[str, WorkQueue]:
    def reconcile(key: Hashable) -> float | Park | None:
        return reconcile_key(ctx, key)

    s = ctx.settings
    queues = {
        "revisions": WorkQueue("revisions", reconcile, s.concurrent_revisions, metrics=ctx.metrics),
        "releasemanagers": WorkQueue("releasemanagers", reconcile, s.concurrent_release_managers,
                                     metrics=ctx.metrics),
        # Credentials Secrets are not watched: a parked Cluster is probed again within 30 s of a fix.
        "clusters": WorkQueue("clusters", reconcile, 2, max_backoff=30.0, metrics=ctx.metrics),
        "clustersecrets": WorkQueue("clustersecrets", reconcile, 1, max_backoff=60.0, metrics=ctx.metrics),
    }
    ctx.wake_release_manager = lambda ns, name: queues["releasemanagers"].wake(("ReleaseManager", ns, name))
    return queues


def run_operator(settings: Settings, api: client.ApiClient) -> None:
    """Serve health and metrics first, so a follower waiting for the Lease answers its probes (live, not ready).
    Called by `handlers.startup.run_checked`, which configured logging and checked the client."""
    health = Health()
    health.beat()
    health.serve(settings.health_addr)
    # Which process wrote what, in the apiserver's audit log: shard and pid in every request's user agent.
    api.user_agent = f"picchu/shard-{settings.shard_index}-of-{settings.shards}/pid-{os.getpid()}"
    ctx = build_context(settings, api, watching=True)
    serve_metrics(settings.metrics_addr, ctx.metrics.registry)
    leadership = None
    lease = Shard(settings.shard_index, settings.shards).lease_name(settings.leader_election_id)
    leader = ctx.metrics.leader.labels(lease)
    if settings.enable_leader_election:
        from picchu.handlers.leadership import acquire_leadership, lease_namespace

        leader.set(0)
        lease_ns = lease_namespace(settings.leader_election_namespace, settings.namespace)
        leadership = acquire_leadership(api, lease, lease_ns, waiting=health.beat)
    leader.set(1)  # without election the one process always acts
    queues = build_queues(ctx)
    registry = build_registry(ctx, queues, health)
    log.info("starting picchu", extra=logs.fields(namespace=settings.namespace or "*",
                                                  shard=f"{settings.shard_index}/{settings.shards}"))
    try:
        kopf.run(
            registry=registry,
            standalone=True,
            namespaces=[settings.namespace] if settings.namespace else (),
            clusterwide=not settings.namespace,
        )
    finally:  # kopf returns after SIGTERM/SIGINT once its watches and our queues stopped
        health.ready.clear()
        leader.set(0)
        if leadership is not None:
            leadership.release()
