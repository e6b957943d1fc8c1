"""Credentials never leak: the token and key strings of every Cluster credentials Secret are searched for in
everything picchu wrote during the whole run (operator logs, Events, statuses of every kind, metrics).

Besides the real fleet, this scenario registers clusters whose credentials are planted strings and that fail
in every way a credential can be involved in: a token the apiserver rejects (401), a token for a server that
does not answer, a client certificate/key pair that is not PEM, and an `auth-info` that is not even JSON but
quotes the secret. An app targets that broken fleet so every error path runs with the planted strings at hand.
Run it last: it also scans what the other scenarios' operators wrote.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time

from picchu import keys
from picchu.testing.fleet import cluster_manifests, kubectl_apply
from reliability.harness import Row, World

PLANT = "leakcanary"
_PLANTED = re.compile(r"leakcanary[0-9a-f]*|bGVha2NhbmFy[A-Za-z0-9+/=]*")  # the prefix, plain and base64


def _planted() -> str:
    return f"{PLANT}{secrets.token_hex(12)}"


def find_leaks(texts: dict[str, str], values: set[str]) -> list[str]:
    """Where any of `values` occurs in `texts`. Planted strings (thousands after the hostile scenario) are found
    through their common prefix in one regex pass per text; the others are searched one by one."""
    planted = {v for v in values if v.startswith(PLANT) or v.startswith("bGVha2NhbmFy")}
    others = values - planted
    hits = []
    for where, text in texts.items():
        hits += [f"{where}: {value[:14]}…" for value in others if value in text]
        for match in _PLANTED.finditer(text):
            hits += [f"{where}: {value[:14]}…" for value in planted if value in match.group()]
    return hits


def run(world: World, *, seconds: float = 25.0, release_budget: float = 300.0) -> Row:
    started = time.monotonic()
    namespace = world.namespace("secrets")
    a = world.plane.clusters["a"]
    broken = []
    auth_infos = {
        "rejected": {"token": _planted()},  # a real apiserver, a wrong token
        "silent": {"token": _planted()},  # nobody listens
        "badkey": {"client-certificate-data": base64.b64encode(_planted().encode()).decode(),
                   "client-key-data": base64.b64encode(_planted().encode()).decode()},
    }
    for name, user in auth_infos.items():
        cluster, secret = cluster_manifests(a, "broken", namespace=namespace)
        cluster["metadata"]["name"] = secret["metadata"]["name"] = f"x{name}"
        if name == "silent":
            cluster["spec"]["config"]["server"] = "https://127.0.0.1:9"
        secret["stringData"][keys.SECRET_AUTH_INFO_KEY] = json.dumps(user)
        broken += [cluster, secret]
        for value in user.values():
            world.secrets.add(value)
            if name == "badkey":
                world.secrets.add(base64.b64decode(value).decode())
    garbage = _planted()
    world.secrets.add(garbage)
    cluster, secret = cluster_manifests(a, "broken", namespace=namespace)
    cluster["metadata"]["name"] = secret["metadata"]["name"] = "xgarbage"
    secret["stringData"][keys.SECRET_AUTH_INFO_KEY] = f'{{"token": "{garbage}", oops'
    broken += [cluster, secret]
    kubectl_apply(world.delivery, broken)
    operator = world.operator(namespace)
    world.revision(namespace, "sec", "v1", minutes=0, fleet="broken")
    world.revision(namespace, "legit", "v1", minutes=0)
    at_least, at_most = time.monotonic() + seconds, time.monotonic() + release_budget
    while time.monotonic() < at_most and world.state(namespace, "legit", "v1") != "released":
        time.sleep(0.5)
    time.sleep(max(0.0, at_least - time.monotonic()))  # the broken fleet's passes fail for at least `seconds`
    texts = world.written_text()
    texts["metrics"] = "\n".join([world.metrics(operator), *world.retired_metrics])
    hits = find_leaks(texts, world.secrets)
    scanned = sum(len(t) for t in texts.values())
    numbers = {"secret strings": len(world.secrets), "bytes scanned": scanned, "sources": len(texts),
               "hits": len(hits), "legit app released": world.state(namespace, "legit", "v1") == "released"}
    return Row("secrets never leaked", not hits and numbers["legit app released"] is True,
               time.monotonic() - started, numbers, hits[:10])
