"""Build and cache the control-plane binaries from Go modules: kube-apiserver, kube-controller-manager,
kube-scheduler, etcd and kubectl.

Why: tests, the demo and the benchmarks need a real kube-apiserver, and the project may not download
release binaries (no GitHub, no container registry); only the Go module proxy is reachable. The wrapper
module `hack/controlplane/go.mod` pins `k8s.io/kubernetes` and etcd; this module builds from it.

Neighbours: `processes` and `plane` run what is built here; `__main__` exposes `build`.

Invariants:
- The pin lives in one place: the `k8s.io/kubernetes` line of `hack/controlplane/go.mod`.
- Binaries are cached outside the repository in `~/.cache/picchu/controlplane/<k8s version>/<pin digest>/bin/`
  (`PICCHU_CACHE_DIR` moves `~/.cache/picchu`); the digest covers go.mod + go.sum, so changing the pin
  builds beside the old binaries instead of over them (checkouts of two commits never rebuild each other's).
  A stamp file is written only after every binary was built, so an interrupted build is never mistaken for
  a finished one. The Go module and build caches of a version are shared by its digests (`<version>/go/`).
- `PICCHU_CONTROLPLANE_BIN` may point at a directory with ready binaries; then nothing is built.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

BINARY_NAMES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "kubectl")

# Main packages of the wrapper module, in build order (the apiserver is the long pole).
_PACKAGES = {
    "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
    "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
    "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
    "etcd": "go.etcd.io/etcd/server/v3",
    "kubectl": "k8s.io/kubernetes/cmd/kubectl",
}
_STAMP = "build.stamp"

# What a cold build costs, measured on the 2-core development machine (printed before it starts).
COLD_DOWNLOAD_MB = 250
COLD_PACKAGES = 2700
COLD_ESTIMATE = "7 minutes on 2 idle cores, up to 20 on busy ones (about 13 CPU-minutes)"


class ControlPlaneUnavailable(RuntimeError):
    """The binaries are missing and cannot be built here; the message says what to do."""


@dataclass(frozen=True)
class Binaries:
    """Paths of one built set of control-plane binaries."""

    version: str
    bin_dir: Path

    @property
    def kube_apiserver(self) -> Path:
        return self.bin_dir / "kube-apiserver"

    @property
    def kube_controller_manager(self) -> Path:
        return self.bin_dir / "kube-controller-manager"

    @property
    def kube_scheduler(self) -> Path:
        return self.bin_dir / "kube-scheduler"

    @property
    def etcd(self) -> Path:
        return self.bin_dir / "etcd"

    @property
    def kubectl(self) -> Path:
        return self.bin_dir / "kubectl"


def repo_root() -> Path:
    """The source checkout this package lives in (`PICCHU_REPO` overrides)."""
    override = os.environ.get("PICCHU_REPO")
    return Path(override) if override else Path(__file__).resolve().parents[3]


def wrapper_module_dir() -> Path:
    return repo_root() / "hack" / "controlplane"


def cache_root() -> Path:
    """`~/.cache/picchu`, or `PICCHU_CACHE_DIR`."""
    override = os.environ.get("PICCHU_CACHE_DIR")
    return Path(override) if override else Path.home() / ".cache" / "picchu"


def required_version(module_dir: Path, module: str) -> str:
    """The version of `module` that the Go module in `module_dir` requires (its pin), e.g. `v1.36.3`."""
    go_mod = module_dir / "go.mod"
    match = re.search(rf"^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)", go_mod.read_text(), re.MULTILINE)
    if not match:
        raise ControlPlaneUnavailable(f"{go_mod} does not require {module}; cannot tell the pin")
    return match.group(1)


def pinned_kubernetes_version(module_dir: Path | None = None) -> str:
    """The `k8s.io/kubernetes` version required by the wrapper module, e.g. `v1.36.3`."""
    return required_version(module_dir or wrapper_module_dir(), "k8s.io/kubernetes")


def _pin_digest(module_dir: Path) -> str:
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum"):
        path = module_dir / name
        digest.update(name.encode() + b"\0" + (path.read_bytes() if path.exists() else b""))
    return digest.hexdigest()


def _bin_dir(version: str, module_dir: Path) -> Path:
    return cache_root() / "controlplane" / version / _pin_digest(module_dir)[:12] / "bin"


def cached_binaries() -> Binaries | None:
    """The binaries for the current pin if they are complete, else None. Never builds."""
    override = os.environ.get("PICCHU_CONTROLPLANE_BIN")
    if override:
        found = Binaries(version="external", bin_dir=Path(override))
        return found if all((found.bin_dir / n).exists() for n in BINARY_NAMES) else None
    module_dir = wrapper_module_dir()
    if not (module_dir / "go.mod").exists():
        return None
    version = pinned_kubernetes_version(module_dir)
    found = Binaries(version=version, bin_dir=_bin_dir(version, module_dir))
    stamp = found.bin_dir.parent / _STAMP
    if not stamp.exists() or stamp.read_text().strip() != _pin_digest(module_dir):
        return None
    return found if all((found.bin_dir / n).exists() for n in BINARY_NAMES) else None


def go_executable() -> str:
    """Path of `go`, or a clear error naming what to install."""
    found = shutil.which("go")
    if not found:
        raise ControlPlaneUnavailable(
            "The Go toolchain (`go`) is not on PATH. Install Go >= 1.26 (https://go.dev/dl/ or your "
            "distribution's golang package) and run `python -m picchu.testing.controlplane build`; "
            "it builds kube-apiserver, etcd and kubectl from the Go module proxy."
        )
    return found


def ensure_binaries(*, log: TextIO | None = None) -> Binaries:
    """Return the cached binaries, building them first when the pin changed or nothing is cached.

    Progress goes to `log` (a text stream; stderr by default). Idempotent: a second call is instant.
    """
    found = cached_binaries()
    if found:
        return found
    if os.environ.get("PICCHU_CONTROLPLANE_BIN"):
        raise ControlPlaneUnavailable(
            f"PICCHU_CONTROLPLANE_BIN={os.environ['PICCHU_CONTROLPLANE_BIN']} lacks one of {BINARY_NAMES}"
        )
    lock_dir = cache_root() / "controlplane"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a concurrent build of the same cache: wait for it, then reuse
        return cached_binaries() or build_binaries(log=log)


def build_binaries(*, log: TextIO | None = None) -> Binaries:
    """Build all three binaries for the current pin into the cache with one `go build`, printing progress.

    One invocation compiles the package graph the binaries share once and links them in parallel. The Go
    module and build caches live under the versioned cache directory (`go/mod`, `go/build`), so removing
    `~/.cache/picchu` really starts cold and nothing the build needs is left in `~/go` or `~/.cache/go-build`.
    """
    out = log or sys.stderr
    go = go_executable()
    module_dir = wrapper_module_dir()
    if not (module_dir / "go.mod").exists():
        raise ControlPlaneUnavailable(f"Missing {module_dir / 'go.mod'}: run from a picchu source checkout")
    version = pinned_kubernetes_version(module_dir)
    target = Binaries(version=version, bin_dir=_bin_dir(version, module_dir))
    target.bin_dir.mkdir(parents=True, exist_ok=True)
    stamp = target.bin_dir.parent / _STAMP
    stamp.unlink(missing_ok=True)
    env = _go_env(cache_root() / "controlplane" / version)
    cold = not any(Path(env["GOCACHE"]).glob("*/*"))
    print(f"[controlplane] building {', '.join(BINARY_NAMES)} (k8s {version}) from Go modules into "
          f"{target.bin_dir}.", file=out, flush=True)
    if cold:
        print(f"[controlplane] cold build: downloading ~{COLD_DOWNLOAD_MB} MB of Go modules, then compiling "
              f"~{COLD_PACKAGES} packages; {COLD_ESTIMATE} (measured, see README). Later runs reuse it.",
              file=out, flush=True)
    started = time.monotonic()
    _go_run(go, module_dir, ["mod", "download"], env, "modules", out, count_lines=False)
    downloaded = time.monotonic()
    print(f"[controlplane]   modules ready after {downloaded - started:.0f}s", file=out, flush=True)
    staging = target.bin_dir.parent / "bin.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    _go_run(go, module_dir, ["build", "-trimpath", "-v", f"-ldflags={_ldflags(version)}",
                             "-o", str(staging) + "/", *_PACKAGES.values()], env, "compile", out)
    for name, package in _PACKAGES.items():
        (staging / _go_binary_name(package)).replace(target.bin_dir / name)
    shutil.rmtree(staging, ignore_errors=True)
    stamp.write_text(_pin_digest(module_dir) + "\n")
    print(f"[controlplane] built {', '.join(BINARY_NAMES)} in {time.monotonic() - started:.0f}s "
          f"(modules {downloaded - started:.0f}s, compile and link {time.monotonic() - downloaded:.0f}s) "
          f"into {target.bin_dir}", file=out, flush=True)
    return target


def _go_env(version_dir: Path) -> dict[str, str]:
    """The build's environment: static binaries, the local toolchain, caches under `version_dir/go`."""
    return {**os.environ, "CGO_ENABLED": "0", "GOTOOLCHAIN": os.environ.get("GOTOOLCHAIN", "local"),
            "GOMODCACHE": str(version_dir / "go" / "mod"), "GOCACHE": str(version_dir / "go" / "build"),
            "GOFLAGS": "-buildvcs=false -modcacherw"}


def _go_binary_name(package: str) -> str:
    """The file `go build -o DIR/` writes for a main package: its last element, skipping a `/vN` suffix."""
    parts = package.split("/")
    return parts[-2] if re.fullmatch(r"v\d+", parts[-1]) else parts[-1]


def _ldflags(version: str) -> str:
    """Stamp the Kubernetes version the way Kubernetes' own build does (else it says v0.0.0-master)."""
    major, minor = version.lstrip("v").split(".")[:2]
    flags = ["-s", "-w"]  # no symbol table or DWARF: smaller binaries, faster links
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {package}.gitVersion={version}", f"-X {package}.gitMajor={major}",
                  f"-X {package}.gitMinor={minor}", f"-X {package}.gitTreeState=clean"]
    return " ".join(flags)


def _go_run(go: str, module_dir: Path, args: list[str], env: dict[str, str], what: str, out: TextIO,
            *, count_lines: bool = True, prefix: str = "[controlplane]") -> None:
    """Run one `go` command in `module_dir`; every 20 s say how far it is (packages compiled)."""
    command = [go, *args]
    process = subprocess.Popen(command, cwd=module_dir, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    done = threading.Event()
    started = time.monotonic()

    def heartbeat() -> None:
        while not done.wait(20):
            progress = f"{len(lines)} packages compiled, " if count_lines else ""
            print(f"{prefix}   {what}: {progress}{time.monotonic() - started:.0f}s", file=out, flush=True)

    ticker = threading.Thread(target=heartbeat, daemon=True)
    ticker.start()
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip())
        code = process.wait()
    finally:
        done.set()
        if process.poll() is None:
            process.kill()
    if code != 0:
        tail = "\n".join(lines[-25:])
        raise ControlPlaneUnavailable(f"`{' '.join(command)}` failed in {module_dir} (exit {code}):\n{tail}")
