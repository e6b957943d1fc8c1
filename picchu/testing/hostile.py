"""Broken objects a careless or hostile team can write into the delivery cluster, for noisy-neighbour tests.

Issue 16 measured a legitimate app's ramp going from 71 s to 606 s with ~1,200 broken objects merely present.
`hostile_manifests` writes the same mix, deterministically: Clusters whose server is a black hole, refuses,
does not resolve, or answers with "bad credentials"; credential Secrets that are missing, not JSON or not
base64; Revisions and ReleaseManagers of many apps pointing at those fleets; ClusterSecrets that copy to
them; and malformed objects the apiserver accepts but picchu must reject with a condition. `bench/noisy.py`
and `tests/e2e/test_noisy_neighbours.py` apply them next to a legitimate app and watch that app ramp.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from picchu import keys
from picchu.testing.builders import revision_manifest

# Servers that never answer usefully: a TEST-NET black hole (connect times out), a closed local port
# (refused at once), a name that does not resolve.
DEAD_SERVERS = ("https://192.0.2.1:6443", "https://127.0.0.1:1", "https://picchu-noisy.invalid:6443")
_FAKE_CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n").decode()


def hostile_manifests(count: int, *, namespace: str, committed: datetime, real_server: str = "",
                      real_ca: str = "") -> list[dict[str, Any]]:
    """About `count` broken objects (Clusters, Secrets, ClusterSecrets, Revisions, ReleaseManagers).

    `real_server`/`real_ca` (a reachable apiserver) add Clusters that answer but reject the credentials."""
    fleets = max(1, count // 100)
    clusters_per_fleet = 3
    out: list[dict[str, Any]] = []
    for f in range(fleets):
        fleet = f"noisy-{f}"
        for c in range(clusters_per_fleet):
            name = f"noisy-{f}-{c}"
            variant = (f * clusters_per_fleet + c) % 5
            ca = real_ca or _FAKE_CA
            server = real_server if variant == 4 and real_server else DEAD_SERVERS[variant % len(DEAD_SERVERS)]
            if variant == 3:
                ca = _FAKE_CA
            out.append(_cluster(name, namespace, fleet, server, ca))
            out.append(_secret(name, namespace, variant))
        out.append({"apiVersion": keys.API_VERSION, "kind": "ClusterSecrets",
                    "metadata": {"name": f"noisy-copy-{f}", "namespace": namespace},
                    "spec": {"source": {"namespace": namespace, "labelSelector": "noisy=yes"},
                             "target": {"namespace": "noisy", "labelSelector": f"{keys.LABEL_FLEET}={fleet}"}}})
    i = 0
    while len(out) < count:
        fleet = f"noisy-{i % fleets}"
        app = f"noisy{i}"
        kind = i % 4
        if kind in (0, 1):  # a well-formed Revision of an app whose fleet is broken
            out.append(revision_manifest(app, "v1", namespace=namespace, committed=committed, fleet=fleet))
        elif kind == 2:  # a Revision picchu must refuse (the apiserver accepts it)
            out.append(revision_manifest(app, "v1", namespace=namespace, committed=committed, fleet=fleet,
                                         target={"scale": {"min": 9, "default": 2, "max": 1},
                                                 "release": {"eligible": True, "schedule": "nonsense",
                                                             "scalingStrategy": "geometric",
                                                             "geometricScaling": {"start": 10, "factor": 2,
                                                                                  "delay": "forever"}}}))
        else:  # a ReleaseManager nobody's Revision matches, on a broken fleet
            out.append({"apiVersion": keys.API_VERSION, "kind": "ReleaseManager",
                        "metadata": {"name": f"{app}-production", "namespace": namespace,
                                     "labels": {keys.LABEL_FLEET: fleet}},
                        "spec": {"app": app, "fleet": fleet, "target": "production"}})
        i += 1
    return out


def _cluster(name: str, namespace: str, fleet: str, server: str, ca: str) -> dict[str, Any]:
    return {"apiVersion": keys.API_VERSION, "kind": "Cluster",
            "metadata": {"name": name, "namespace": namespace, "labels": {keys.LABEL_FLEET: fleet}},
            "spec": {"enabled": True, "config": {"server": server, "certificate-authority-data": ca},
                     "ingresses": {"public": {"dnsName": f"public.{name}.example", "gateway": "public-gateway",
                                              "defaultDomains": []},
                                   "private": {"dnsName": f"private.{name}.example", "gateway": "private-gateway",
                                               "defaultDomains": []}}}}


def _secret(name: str, namespace: str, variant: int) -> dict[str, Any]:
    data = {
        0: {keys.SECRET_AUTH_INFO_KEY: base64.b64encode(json.dumps({"token": "garbage-token"}).encode()).decode()},
        1: {keys.SECRET_AUTH_INFO_KEY: base64.b64encode(b"{not json").decode()},
        2: {"something-else": base64.b64encode(b"x").decode()},
        3: {keys.SECRET_AUTH_INFO_KEY: base64.b64encode(json.dumps({"token": "garbage-token"}).encode()).decode()},
        4: {keys.SECRET_AUTH_INFO_KEY: base64.b64encode(json.dumps({"token": "not-a-valid-token"}).encode()).decode()},
    }[variant]
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace,
                                                             "labels": {"noisy": "yes"}}, "data": data}


_PLURALS = {"Cluster": "clusters", "ClusterSecrets": "clustersecrets", "Revision": "revisions",
            "ReleaseManager": "releasemanagers"}


def create_all(api: Any, manifests: list[dict[str, Any]], workers: int = 4) -> dict[str, int]:
    """Create the objects with the Python client (kubectl apply is far slower on a loaded machine);
    returns how many of each kind the apiserver accepted (it refuses some hostile ones, as it should)."""
    from concurrent.futures import ThreadPoolExecutor

    from kubernetes import client

    custom, core = client.CustomObjectsApi(api), client.CoreV1Api(api)

    def create(manifest: dict[str, Any]) -> str | None:
        namespace = manifest["metadata"]["namespace"]
        try:
            if manifest["kind"] == "Secret":
                core.create_namespaced_secret(namespace, manifest, _request_timeout=60)
            else:
                group, version = manifest["apiVersion"].split("/")
                custom.create_namespaced_custom_object(group, version, namespace, _PLURALS[manifest["kind"]],
                                                       manifest, _request_timeout=60)
        except client.ApiException:
            return None
        return str(manifest["kind"])

    accepted: dict[str, int] = {}
    with ThreadPoolExecutor(workers) as pool:
        for kind in pool.map(create, manifests):
            if kind is not None:
                accepted[kind] = accepted.get(kind, 0) + 1
    return accepted
