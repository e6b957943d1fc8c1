"""Install the real CRDs of the projects picchu writes to (Istio, KEDA, prometheus-operator, Sloth, ...).

Why: rendered manifests must be accepted by the real apiserver with the real upstream schemas, so a
VirtualService that violates Istio's schema is rejected in tests exactly as in production.

Where they come from: `hack/controlplane/upstream-crds.yaml` pins, per project, a published Go module,
its version and the CRD files inside it. Files are fetched with `go mod download -json module@version`
and cached under `~/.cache/picchu/crds/<module>@<version>/`; once cached, Go is no longer needed.
Nothing is hand-written or copied into the repository.

Neighbours: takes a `picchu.testing.controlplane.Cluster`; `picchu.testing.fixtures` installs these into
every cluster. `install_crds_from_dir` installs picchu's own generated CRDs (`config/crd/`) the same way.

Invariants: CRDs are applied with `kubectl apply --server-side` (field manager `picchu-testing`), and
the install functions return only after every CRD reports the `Established` condition.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from picchu.testing.controlplane import Cluster, ControlPlane, ControlPlaneUnavailable, KubectlError
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
    env = {**os.environ, "GOTOOLCHAIN": os.environ.get("GOTOOLCHAIN", "local"), "GOFLAGS": "-mod=mod"}
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


def install_crd_documents(cluster: Cluster, documents: Iterable[dict[str, Any]], *,
                          timeout: float = 120.0) -> list[str]:
    """Server-side apply CRD documents with kubectl, then wait until each is Established."""
    crds = list(documents)
    if not crds:
        return []
    names = [crd["metadata"]["name"] for crd in crds]
    # JSON, not YAML: Go's YAML 1.1 parser would read values such as `y` or `no` as booleans.
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir=cluster.workdir, delete=False) as manifest:
        json.dump({"apiVersion": "v1", "kind": "List", "items": crds}, manifest)
    try:
        cluster.kubectl("apply", "--server-side", "--force-conflicts", f"--field-manager={FIELD_MANAGER}",
                        "-f", manifest.name, timeout=timeout)
    finally:
        os.unlink(manifest.name)
    cluster.kubectl("wait", "--for=condition=Established", f"--timeout={int(timeout)}s",
                    *(f"customresourcedefinition/{name}" for name in names), timeout=timeout + 10)
    return names


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
            except KubectlError as error:
                raise KubectlError(error.returncode, error.cmd, error.stdout,
                                   f"picchu's own CRDs in {crd_dir} were rejected by the apiserver of "
                                   f"cluster {cluster.name!r}; fix their generator:\n{error.stderr}") from None

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
