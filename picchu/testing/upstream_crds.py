"""Install the real CRDs of the projects picchu writes to (Istio, KEDA, prometheus-operator, Sloth, ...).

Why: rendered manifests must be accepted by the real apiserver with the real upstream schemas, so a
VirtualService that violates Istio's schema is rejected in tests exactly as in production.

Where they come from: `hack/controlplane/upstream-crds.yaml` pins, per project, a published Go module,
its version and the CRD files inside it. Files are fetched with `go mod download -json module@version`
and cached under `~/.cache/picchu/crds/<module>@<version>/`; once cached, Go is no longer needed.
Nothing is hand-written or copied into the repository.

Neighbours: takes a `picchu.testing.controlplane.Cluster`; `picchu.testing.fixtures` installs these into
every cluster. `install_crds_from_dir` installs picchu's own generated CRDs (`config/crd/`) the same way.

Invariants: CRDs are server-side applied (field manager `picchu-testing`, conflicts forced), and the
install functions return only after every CRD reports the `Established` condition.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from picchu.testing.controlplane import Cluster, ControlPlane, ControlPlaneUnavailable
from picchu.testing.controlplane.binaries import cache_root, go_executable, repo_root

FIELD_MANAGER = "picchu-testing"


@dataclass(frozen=True)
class UpstreamSource:
    """One pinned module and the CRD files taken from it."""

    module: str
    version: str
    paths: tuple[str, ...]
    crds: tuple[str, ...] = ()  # keep only these CRD names; empty keeps all

    @property
    def cache_dir(self) -> Path:
        return cache_root() / "crds" / f"{self.module.replace('/', '_')}@{self.version}"


def pins_file() -> Path:
    return repo_root() / "hack" / "controlplane" / "upstream-crds.yaml"


def load_pins(path: Path | None = None) -> list[UpstreamSource]:
    data = yaml.safe_load((path or pins_file()).read_text())
    return [UpstreamSource(module=entry["module"], version=entry["version"], paths=tuple(entry["paths"]),
                           crds=tuple(entry.get("crds") or ())) for entry in data["sources"]]


def fetch(source: UpstreamSource) -> list[Path]:
    """The cached copies of the source's files, downloading the module first if one is missing."""
    wanted = [source.cache_dir / p for p in source.paths]
    if all(path.exists() for path in wanted):
        return wanted
    module_dir = _download_module(source.module, source.version)
    for relative, cached in zip(source.paths, wanted, strict=True):
        original = module_dir / relative
        if not original.exists():
            raise ControlPlaneUnavailable(f"{source.module}@{source.version} has no file {relative}; "
                                          f"fix {pins_file()}")
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(cached.name + ".partial")
        shutil.copyfile(original, partial)
        partial.replace(cached)
    return wanted


def _download_module(module: str, version: str) -> Path:
    go = go_executable()
    env = {**os.environ, "GOTOOLCHAIN": os.environ.get("GOTOOLCHAIN", "local"), "GOFLAGS": "-mod=mod -modcacherw",
           "GOMODCACHE": str(cache_root() / "crds" / "go-mod")}  # under the cache: removing it starts cold
    with tempfile.TemporaryDirectory() as outside_any_module:
        result = subprocess.run([go, "mod", "download", "-json", f"{module}@{version}"], cwd=outside_any_module,
                                env=env, capture_output=True, text=True, timeout=600)
    try:
        info = json.loads(result.stdout)
    except json.JSONDecodeError:
        info = {"Error": result.stderr.strip() or f"exit {result.returncode}"}
    if info.get("Error") or not info.get("Dir"):
        raise ControlPlaneUnavailable(f"`go mod download {module}@{version}` failed: {info.get('Error')}")
    return Path(info["Dir"])


def upstream_crd_documents(pins: Sequence[UpstreamSource] | None = None) -> list[dict[str, Any]]:
    """Every pinned upstream CRD as a dict (filtered by each source's `crds` list)."""
    documents: list[dict[str, Any]] = []
    for source in pins if pins is not None else load_pins():
        for path in fetch(source):
            for document in _crds_in(path):
                if not source.crds or document["metadata"]["name"] in source.crds:
                    documents.append(document)
    return documents


def install_upstream_crds(cluster: Cluster, *, timeout: float = 120.0) -> list[str]:
    """Apply all pinned upstream CRDs to the cluster; returns their names once all are Established."""
    return install_crd_documents(cluster, upstream_crd_documents(), timeout=timeout)


def install_crds_from_dir(cluster: Cluster, path: Path | str, *, timeout: float = 120.0) -> list[str]:
    """Apply every CRD in `path/*.yaml` / `*.yml` / `*.json` (e.g. picchu's `config/crd/`)."""
    files = sorted(p for p in Path(path).iterdir() if p.suffix in (".yaml", ".yml", ".json"))
    return install_crd_documents(cluster, [doc for f in files for doc in _crds_in(f)], timeout=timeout)


class CrdInstallError(RuntimeError):
    """The apiserver rejected a CRD or did not establish it; the message is the apiserver's."""


def install_crd_documents(cluster: Cluster, documents: Iterable[dict[str, Any]], *,
                          timeout: float = 120.0) -> list[str]:
    """Server-side apply CRD documents, then wait until each is Established; returns their names.

    Uses the apiserver directly (one apply PATCH per CRD) rather than kubectl: same request, several
    times faster than `kubectl apply --server-side` + `kubectl wait`.
    """
    crds = list(documents)
    names = [crd["metadata"]["name"] for crd in crds]
    rejected = []
    for name, crd in zip(names, crds, strict=True):
        status, body = cluster.request(
            "PATCH", f"{_CRDS_PATH}/{name}?fieldManager={FIELD_MANAGER}&force=true",
            body=json.dumps(crd).encode(), content_type="application/apply-patch+yaml", timeout=timeout)
        if status not in (200, 201):
            rejected.append(f"{name}: {_status_message(status, body)}")
    if rejected:
        raise CrdInstallError(f"cluster {cluster.name!r} rejected CRDs:\n" + "\n".join(rejected))
    _wait_established(cluster, names, timeout)
    _wait_served(cluster, crds, timeout)
    return names


_CRDS_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def _wait_established(cluster: Cluster, names: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = set(names)
    while pending:
        status, body = cluster.get(_CRDS_PATH, timeout=timeout)
        if status == 200:
            for item in json.loads(body)["items"]:
                conditions = item.get("status", {}).get("conditions") or []
                if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                    pending.discard(item["metadata"]["name"])
        if not pending:
            return
        if time.monotonic() > deadline:
            raise CrdInstallError(f"CRDs not Established in cluster {cluster.name!r} after {timeout:.0f}s: "
                                  f"{sorted(pending)}")
        time.sleep(0.1)


def _wait_served(cluster: Cluster, crds: list[dict[str, Any]], timeout: float) -> None:
    """Wait until every CRD's resources answer a LIST: `Established` comes before the storage is ready, and
    a request in between gets `429 storage is (re)initializing`, which a test would take for a failure."""
    deadline = time.monotonic() + timeout
    paths = {f"/apis/{crd['spec']['group']}/{version['name']}/{crd['spec']['names']['plural']}?limit=1"
             for crd in crds for version in crd["spec"]["versions"] if version.get("served", True)}
    while paths:
        paths = {path for path in paths if cluster.get(path, timeout=timeout)[0] != 200}
        if not paths:
            return
        if time.monotonic() > deadline:
            raise CrdInstallError(f"CRD resources not served in cluster {cluster.name!r} after {timeout:.0f}s: "
                                  f"{sorted(paths)}")
        time.sleep(0.1)


def _status_message(status: int, body: bytes) -> str:
    try:
        return f"{status} {json.loads(body).get('message', '')}"
    except (ValueError, AttributeError):
        return f"{status} {body[:500].decode(errors='replace')}"


def install_test_environment_crds(control_plane: ControlPlane, *, delivery: str = "delivery",
                                  picchu_crd_dir: Path | None = None) -> None:
    """The standard setup: upstream CRDs in every cluster, picchu's CRDs (if generated) in `delivery`."""
    crd_dir = picchu_crd_dir or repo_root() / "config" / "crd"
    upstream = upstream_crd_documents()

    def prepare(cluster: Cluster) -> None:
        install_crd_documents(cluster, upstream)
        if cluster.name == delivery and crd_dir.is_dir():
            try:
                install_crds_from_dir(cluster, crd_dir)
            except CrdInstallError as error:
                raise CrdInstallError(f"picchu's own CRDs in {crd_dir} are invalid; fix their generator. "
                                      f"{error}") from None

    with ThreadPoolExecutor(max_workers=max(1, len(control_plane.clusters))) as pool:
        list(pool.map(prepare, control_plane.clusters.values()))


def _crds_in(path: Path) -> list[dict[str, Any]]:
    text = path.read_text()
    documents = [json.loads(text)] if path.suffix == ".json" else list(yaml.safe_load_all(text))
    found: list[dict[str, Any]] = []
    for document in documents:
        if isinstance(document, dict) and document.get("kind") == "List":
            documents.extend(document.get("items", []))
        elif isinstance(document, dict) and document.get("kind") == "CustomResourceDefinition":
            document.pop("status", None)
            found.append(document)
    return found
