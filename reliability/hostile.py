"""Hostile input: ≥ 10,000 objects the apiserver accepts, built to hurt, applied while a legitimate app ramps.

A seeded generator (same seed, same objects) writes Revisions, ReleaseManagers (with garbage statuses: unknown
and legacy state names, huge percents, unknown fields), Clusters, their credentials Secrets (kubeconfig users
that are not JSON, not objects, wrong types, an `exec` plugin that would create a file, tokens and keys that
are planted strings), ClusterSecrets, Mirrors and FaultInjectors: extreme numbers, unicode, 253-character
names, duplicate targets, empty strings, unknown fields. Only objects the apiserver accepts count (it rejects
some on purpose: the schema is part of the defence); they are sent by a bounded pool of threads.

Expected: the operator never crashes (0 exits), no traceback in its log (tracebacks are DEBUG only), errored
passes are counted (not a failure by themselves: bad input is reported, per object), the legitimate app
finishes its ramp, the `exec` plugin never runs, and the planted credentials never leak (`secrets_leak` scans
them at the end of the run). Memory is reported before and after.
"""

from __future__ import annotations

import base64
import json
import random
import shutil
import string
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import urllib3

from picchu import keys
from reliability.harness import TARGETS, Row, World

RAMP = {"eligible": True, "schedule": "always", "scalingStrategy": "linear",
        "linearScaling": {"increment": 20, "delay": "2s"}}
UNICODE = ["ünïcødé", "日本語のアプリ", "🚀🔥💥", "\u202eevil", "ZWJ\u200dzwj", "Ω≈ç√∫", "a\u0301" * 20, "\t \n"]
STATES = ["released", "releasing", "canarying", "canaryingdatadog", "canarieddatadog", "🚀", "", "deleted",
          "failed", "x" * 300, "retired", "pendingrelease", "timingout", "RELEASED"]
# Share of each kind among the generated objects (Clusters come with their credentials Secret).
MIX = {"revisions": 30, "releasemanagers": 15, "clusters": 10, "secrets": 10, "clustersecrets": 10,
       "mirrors": 10, "faultinjectors": 15}
PLANT = "leakcanary"
SYNC_PERIOD = 5.0  # thousands of objects: a production-like period, not the 1 s the other scenarios use


def run(world: World, *, count: int = 10_000, concurrency: int = 16, seed: int = 10,
        flood_budget: float = 900.0, deadline_seconds: float = 1500.0) -> Row:
    """Send `count` accepted objects (at most `flood_budget` seconds of sending), all within `deadline_seconds`."""
    started = time.monotonic()
    rng = random.Random(seed)
    namespace = world.namespace("hostile")
    operator = world.operator(namespace, sync_period=SYNC_PERIOD)
    world.revision(namespace, "legit", "v0", minutes=0)
    _wait(lambda: world.state(namespace, "legit", "v0") == "released", started, deadline_seconds, "legit v0")
    operator.wait_passes(3)
    rss_before = operator.rss_bytes()
    world.revision(namespace, "legit", "v1", minutes=1, target={"release": RAMP})
    _wait(lambda: (world.weights("a", "legit") or {}).get("v1", 0) >= 10, started, deadline_seconds,
          "legit v1 ramping")
    canary = Path(tempfile.mkdtemp(prefix="picchu-rel-exec-")) / "exec-plugin-ran"
    generator = Generator(rng, namespace, canary)
    sender = _Sender(world, concurrency)
    accepted: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    lock = threading.Lock()
    crashes = [0]
    stop = threading.Event()

    def watch_process() -> None:
        """Count operator exits (a crash) and start it again, so the run continues and the count is honest."""
        while not stop.wait(1.0):
            if not operator_box[0].running:
                crashes[0] += 1
                operator_box[0] = world.operator(namespace, sync_period=SYNC_PERIOD)

    operator_box = [operator]
    watcher = threading.Thread(target=watch_process, daemon=True)
    watcher.start()

    def send(kind: str, body: dict[str, Any], status: dict[str, Any] | None) -> None:
        code = sender.create(namespace, kind, body)
        if code == 201 and status is not None:
            sender.patch_status(namespace, kind, body["metadata"]["name"], status)
        with lock:
            if code == 201:
                accepted[kind] += 1
            else:
                rejected[f"{kind} {code}"] += 1

    flood_started = time.monotonic()
    attempts = 0
    notes: list[str] = []
    with ThreadPoolExecutor(concurrency) as pool:
        while sum(accepted.values()) < count and attempts < count * 2:
            if time.monotonic() - flood_started > flood_budget:
                notes.append(f"sending stopped after its {flood_budget:.0f}s budget")
                break
            batch = [generator.next() for _ in range(min(500, count - sum(accepted.values())))]
            attempts += len(batch)
            list(pool.map(lambda item: send(*item), batch))
    flood_seconds = time.monotonic() - flood_started
    sender.close()
    try:
        _wait(lambda: world.state(namespace, "legit", "v1") == "released"
              and all(world.weights(c, "legit") == {"v1": 100} for c in TARGETS), started, deadline_seconds,
              "legit v1 released")
        operator_box[0].wait_passes(5, timeout=300)
    except (TimeoutError, AssertionError) as error:
        notes.append(str(error))
    stop.set()
    watcher.join(5)
    current = operator_box[0]
    rss_after = current.rss_bytes()
    world.secrets.update(generator.planted)
    errors = sum(world.metric_sum(o, "picchu_reconcile_errors") for o in (current,))
    passes = sum(world.metric_sum(o, "picchu_reconcile_passes") for o in (current,))
    tracebacks = world.tracebacks(*operator_box, operator)
    released = world.state(namespace, "legit", "v1") == "released"
    numbers: dict[str, Any] = {
        "objects accepted": sum(accepted.values()), "rejected by the apiserver": sum(rejected.values()),
        "flood seconds": round(flood_seconds), "crashes": crashes[0], "tracebacks": tracebacks,
        "passes": int(passes), "errored passes": int(errors), "legit app released": released,
        "exec plugin ran": canary.exists(),
        "RSS before/after MiB": f"{rss_before // 2**20}/{rss_after // 2**20}",
    }
    notes += world.traceback_sources(*operator_box, operator)
    notes += ["failed passes: " + "; ".join(world.failed_passes(*operator_box, operator))] if errors else []
    notes.append("accepted: " + ", ".join(f"{k} {v}" for k, v in sorted(accepted.items())))
    if rejected:
        notes.append("rejected: " + ", ".join(f"{k} {v}" for k, v in sorted(rejected.items())))
    world.retire(current, operator)
    shutil.rmtree(canary.parent, ignore_errors=True)
    ok = (sum(accepted.values()) >= count and crashes[0] == 0 and tracebacks == 0 and released
          and not canary.exists())
    return Row("hostile input", ok, time.monotonic() - started, numbers, notes)


class Generator:
    """Seeded hostile manifests, one kind after another in proportion to `MIX`; `planted` collects every
    credential string handed out (the secrets scan looks for each)."""

    def __init__(self, rng: random.Random, namespace: str, canary: Path) -> None:
        self.rng = rng
        self.namespace = namespace
        self.canary = canary
        self.planted: set[str] = set()
        self.n = 0
        self.clusters: list[str] = []
        self.kinds = [k for k, share in MIX.items() for _ in range(share)]
        self.makers: dict[str, Callable[[], tuple[dict[str, Any], dict[str, Any] | None]]] = {
            "revisions": self.revision, "releasemanagers": self.release_manager, "clusters": self.cluster,
            "secrets": self.secret, "clustersecrets": self.cluster_secret, "mirrors": self.mirror,
            "faultinjectors": self.fault_injector,
        }

    def next(self) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
        self.n += 1
        kind = self.rng.choice(self.kinds)
        body, status = self.makers[kind]()
        return kind, body, status

    # -- values ---------------------------------------------------------------------------------------------
    def name(self) -> str:
        """A unique DNS-subdomain name: often the full 253 characters, sometimes dotted, sometimes tiny."""
        base = f"h{self.n:05d}"
        roll = self.rng.random()
        if roll < 0.25:
            label = "".join(self.rng.choice(string.ascii_lowercase + string.digits) for _ in range(62))
            return (base + "-" + ".".join([label] * 4))[:253].rstrip(".-")
        if roll < 0.35:
            return f"{base}.with.dots"
        return base + "-" + "".join(self.rng.choice("abcdef0123456789-") for _ in range(self.rng.randrange(0, 40))
                                    ).rstrip("-")

    def text(self) -> str:
        roll = self.rng.random()
        if roll < 0.3:
            return self.rng.choice(UNICODE)
        if roll < 0.4:
            return ""
        if roll < 0.5:
            return "x" * self.rng.choice((253, 254, 1000, 4000))
        return "".join(self.rng.choice(string.printable) for _ in range(self.rng.randrange(1, 30)))

    def number(self) -> int:
        return self.rng.choice((0, 1, -1, 2**31 - 1, 2**31, 2**53, 2**63 - 1, 10**6, 7))

    def plant(self) -> str:
        value = f"{PLANT}{self.rng.getrandbits(96):024x}"
        self.planted.add(value)
        return value

    def meta(self, name: str | None = None) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name or self.name(), "namespace": self.namespace}
        if self.rng.random() < 0.3:
            meta["annotations"] = {"hostile.example/text": self.text(), keys.ANNOTATION_GIT_COMMIT_TIMESTAMP:
                                   self.rng.choice(("not a date", "9999-12-31T23:59:59Z", "", "1970-01-01T00:00:00Z",
                                                    "2026-13-45T99:99:99Z"))}
        return meta

    # -- kinds ----------------------------------------------------------------------------------------------
    def revision(self) -> tuple[dict[str, Any], None]:
        rng = self.rng
        app = rng.choice((f"happ{self.n}", self.text() or "e", "x" * 253, f"dup{self.n % 7}"))
        fleet = "production" if rng.random() < 0.005 else rng.choice(("nowhere", self.text(), "", "x" * 300))
        target: dict[str, Any] = {
            "name": rng.choice(("production", self.text() or "t", "x" * 300)),
            "fleet": fleet,
            "scale": {"min": rng.choice((0, 1, 2**31 - 1)), "default": self.number() % 2**31,
                      "max": rng.choice((0, 1, 2**31 - 1))},
            "release": rng.choice((
                {"eligible": True, "schedule": "always", "scalingStrategy": "geometric",
                 "geometricScaling": {"start": rng.choice((0, 1, 100)), "factor": rng.choice((0, 1, 2**31 - 1)),
                                      "delay": rng.choice(("0s", "1ns", "99999h"))}},
                {"eligible": rng.random() < 0.5, "schedule": rng.choice(("always", "humane", "inhumane")),
                 "scalingStrategy": "linear", "linearScaling": {"increment": rng.choice((0, 1, 100)),
                                                                "delay": "1s"}},
                {"eligible": True, "max": rng.choice((0, 100)), "ttl": self.number()},
            )),
            "ports": rng.choice((
                [{"name": "http", "mode": "private", "port": 80, "containerPort": 8080}] * 2,
                [{"name": self.text() or "p", "mode": "public", "port": 65535, "containerPort": 1}],
                [],
            )),
            "acceptanceTarget": rng.random() < 0.5,
            "unknownField": self.text(),
        }
        targets = [target, dict(target)] if rng.random() < 0.3 else [target]  # duplicate targets
        spec: dict[str, Any] = {"app": {"name": app, "ref": self.text(), "tag": self.text() or "v",
                                        "image": self.text() or "img"},
                                "failed": rng.random() < 0.2, "targets": targets, "ignoreSLOs": rng.random() < 0.5,
                                "somethingNew": {"nested": [self.number(), self.text()]}}
        return {"apiVersion": keys.API_VERSION, "kind": "Revision", "metadata": self.meta(), "spec": spec}, None

    def release_manager(self) -> tuple[dict[str, Any], dict[str, Any]]:
        rng = self.rng
        spec = {"fleet": rng.choice(("production", "nowhere", self.text())), "app": rng.choice(
            (f"rmapp{self.n}", self.text(), "x" * 253)), "target": rng.choice(("production", self.text())),
            "variants": [{"name": self.text(), "enabled": True}] * rng.randrange(0, 3)}
        entries = [{"tag": rng.choice((self.text(), "v1", "v1")),
                    "state": {"current": rng.choice(STATES), "target": rng.choice(STATES),
                              "lastUpdated": "2026-01-01T00:00:00Z", "extra": self.text()},
                    "currentPercent": rng.choice((0, 50, 100, 101, 2**31 - 1)),
                    "peakPercent": rng.choice((0, 100, 2**31 - 1)),
                    "releaseEligible": rng.random() < 0.5, "unknownEntryField": self.text()}
                   for _ in range(rng.randrange(0, 6))]
        status = {"revisions": entries, "lastUpdated": "2026-01-01T00:00:00Z", "unknownStatusField": self.text()}
        return {"apiVersion": keys.API_VERSION, "kind": "ReleaseManager", "metadata": self.meta(),
                "spec": spec}, status

    def cluster(self) -> tuple[dict[str, Any], None]:
        rng = self.rng
        name = self.name()
        self.clusters.append(name)
        meta = self.meta(name)
        meta["labels"] = {keys.LABEL_FLEET: rng.choice(("nowhere", "hostile", "x" * 63, "a.b_c-d"))}
        spec = {"enabled": rng.random() < 0.7, "hotStandby": rng.random() < 0.2,
                "config": {"server": rng.choice(("https://127.0.0.1:9", "not a url", "https://ünï.example",
                                                 "", "http://[::1", "https://127.0.0.1:0/" + "x" * 300)),
                           "certificate-authority-data": base64.b64encode(rng.randbytes(rng.choice((0, 16, 2000))
                                                                          )).decode()},
                "scalingFactorString": rng.choice(("1e308", "0.000001", "", "7", "1.0")),
                "ingresses": {k: {"dnsName": self.text(), "gateway": self.text(),
                                  "defaultDomains": [self.text() for _ in range(rng.randrange(0, 4))]}
                              for k in ("public", "private")},
                "devRouteTagTemplate": "{{" + self.text(), "unknown": self.number()}
        return {"apiVersion": keys.API_VERSION, "kind": "Cluster", "metadata": meta, "spec": spec}, None

    def secret(self) -> tuple[dict[str, Any], None]:
        """A credentials Secret, named after a generated Cluster when there is one, with a garbage user."""
        rng = self.rng
        name = self.clusters.pop() if self.clusters else self.name()
        token = self.plant()
        key = self.plant()
        user = rng.choice((
            f'{{"token": "{token}", oops',
            json.dumps([token]),
            json.dumps({"token": {"nested": token}}),
            json.dumps({"token": token, "username": self.text(), "password": key}),
            json.dumps({"client-certificate-data": base64.b64encode(token.encode()).decode(),
                        "client-key-data": base64.b64encode(key.encode()).decode()}),
            json.dumps({"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "touch",
                                 "args": [str(self.canary)], "env": [{"name": "T", "value": token}]}}),
            json.dumps({"auth-provider": {"name": "oidc", "config": {"id-token": token}}}),
            json.dumps({"tokenFile": "/etc/shadow", "token": token}),
            token,
            json.dumps(None),
        ))
        self.planted.update(base64.b64encode(v.encode()).decode() for v in (token, key))
        data = {keys.SECRET_AUTH_INFO_KEY: user}
        if rng.random() < 0.2:
            data["unexpected-key"] = self.text() or "x"
        return {"apiVersion": "v1", "kind": "Secret", "metadata": self.meta(name), "stringData": data}, None

    def cluster_secret(self) -> tuple[dict[str, Any], None]:
        rng = self.rng
        spec = {"source": {"namespace": rng.choice((self.namespace, self.text(), "kube-system")),
                           "labelSelector": rng.choice(("a in (b", "!!!", "x=y", "", self.text())),
                           "fieldSelector": rng.choice(("metadata.name=nothing", "bogus==", ""))},
                "target": {"namespace": rng.choice((self.text(), "x" * 300, "default")),
                           "labelSelector": rng.choice(("a in (b", "fleet=nowhere", "")),
                           "labels": {"hostile.example/l": self.text()},
                           "annotations": {"a": self.text()}}}
        return {"apiVersion": keys.API_VERSION, "kind": "ClusterSecrets", "metadata": self.meta(), "spec": spec}, None

    def mirror(self) -> tuple[dict[str, Any], None]:
        rng = self.rng
        spec = {"clusterName": rng.choice((self.text(), "nonexistent", f"h{rng.randrange(max(1, self.n)):05d}")),
                "additionalConfigSelectors": [{"namespace": self.text(), "labelSelector": {"matchLabels": {
                    "x": self.text()}, "weird": [1, 2]}, "appLabelName": self.text(), "tagLabelName": self.text()}
                    for _ in range(rng.randrange(0, 3))]}
        return {"apiVersion": keys.API_VERSION, "kind": "Mirror", "metadata": self.meta(), "spec": spec}, None

    def fault_injector(self) -> tuple[dict[str, Any], None]:
        rng = self.rng
        faults = [{"portSelector": {"number": rng.choice((0, 80, 2**31 - 1))},
                   "fault": rng.choice(({"delay": {"fixedDelay": self.text(), "percentage": {"value": 1e308}}},
                                        {"abort": {"httpStatus": -1}}, {"nonsense": [self.text()]}, {}))}
                  for _ in range(rng.randrange(0, 20))]
        return {"apiVersion": keys.API_VERSION, "kind": "FaultInjector", "metadata": self.meta(),
                "spec": {"httpPortFaults": faults}}, None


class _Sender:
    """Raw HTTP to the delivery apiserver (urllib3, keep-alive, one connection per thread): the generated
    client's model round-trips cost more CPU than the apiserver's own work, and the flood must be fast."""

    def __init__(self, world: World, concurrency: int) -> None:
        cluster = world.delivery
        self.server = cluster.server
        self.http = urllib3.PoolManager(maxsize=concurrency, ssl_context=cluster.ssl_context(), retries=False,
                                        timeout=urllib3.Timeout(total=60))
        self.auth = {"Authorization": f"Bearer {cluster.token}"}

    def _path(self, namespace: str, kind: str) -> str:
        if kind == "secrets":
            return f"{self.server}/api/v1/namespaces/{namespace}/secrets"
        return f"{self.server}/apis/{keys.GROUP}/{keys.VERSION}/namespaces/{namespace}/{kind}"

    def create(self, namespace: str, kind: str, body: dict[str, Any]) -> int:
        try:
            answer = self.http.request("POST", self._path(namespace, kind), body=json.dumps(body).encode(),
                                       headers={**self.auth, "Content-Type": "application/json"})
        except urllib3.exceptions.HTTPError as error:
            return -1 if not isinstance(error, urllib3.exceptions.TimeoutError) else 408
        return int(answer.status)

    def patch_status(self, namespace: str, kind: str, name: str, status: dict[str, Any]) -> int:
        try:
            answer = self.http.request("PATCH", f"{self._path(namespace, kind)}/{name}/status",
                                       body=json.dumps({"status": status}).encode(),
                                       headers={**self.auth, "Content-Type": "application/merge-patch+json"})
        except urllib3.exceptions.HTTPError:
            return -1
        return int(answer.status)

    def close(self) -> None:
        self.http.clear()


def _wait(predicate: Callable[[], bool], started: float, budget: float, what: str) -> None:
    while not predicate():
        if time.monotonic() - started > budget:
            raise TimeoutError(f"{what} not done within {budget:.0f}s")
        time.sleep(0.5)
