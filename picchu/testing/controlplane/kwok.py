"""Build and cache kwok, the simulator of nodes and Pod lifecycles that stands in for kubelets.

Why: the local clusters have no kubelet; kwok (`sigs.k8s.io/kwok`) plays one for "fake" nodes, moving Pods
through the lifecycle its stages describe (scheduled → Running/Ready → deleted), so the real ReplicaSet,
garbage-collection, disruption and HPA controllers see the Pods they would see in a real cluster. Like the
rest of the control plane it is built from the Go module proxy (no release downloads).

Neighbours: `binaries` (the same cache layout and `go` helpers), `machinery` runs what is built here,
`__main__ build` builds it with the rest.

Invariants:
- The pin is the `sigs.k8s.io/kwok` line of `hack/kwok/go.mod` (a wrapper module of its own: kwok requires
  other `k8s.io/*` versions than `hack/controlplane`).
- Cached in `~/.cache/picchu/kwok/<version>/<pin digest>/bin/kwok`; the Go module and build caches live in
  `~/.cache/picchu/kwok/<version>/go/`. The stamp is written only after a successful build; concurrent
  builds wait on a file lock. `PICCHU_KWOK_BIN` may name a ready `kwok` executable; then nothing is built.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
import time
from pathlib import Path
from typing import TextIO

from picchu.testing.controlplane.binaries import (
    ControlPlaneUnavailable,
    _go_env,
    _go_run,
    _pin_digest,
    cache_root,
    go_executable,
    repo_root,
    required_version,
)

_PACKAGE = "sigs.k8s.io/kwok/cmd/kwok"
_STAMP = "build.stamp"
# What to expect (see README for what was measured).
COLD_ESTIMATE = "974 packages; 2 minutes on 2 idle cores, up to ~50 on a busy shared machine"


def kwok_module_dir() -> Path:
    return repo_root() / "hack" / "kwok"


def pinned_kwok_version(module_dir: Path | None = None) -> str:
    """The `sigs.k8s.io/kwok` version required by the wrapper module, e.g. `v0.8.0`."""
    return required_version(module_dir or kwok_module_dir(), "sigs.k8s.io/kwok")


def _version_dir(version: str) -> Path:
    return cache_root() / "kwok" / version


def _binary(version: str, module_dir: Path) -> Path:
    return _version_dir(version) / _pin_digest(module_dir)[:12] / "bin" / "kwok"


def cached_kwok() -> Path | None:
    """The kwok executable for the current pin if it was built, else None. Never builds."""
    override = os.environ.get("PICCHU_KWOK_BIN")
    if override:
        return Path(override) if Path(override).exists() else None
    module_dir = kwok_module_dir()
    if not (module_dir / "go.mod").exists():
        return None
    binary = _binary(pinned_kwok_version(module_dir), module_dir)
    stamp = binary.parent.parent / _STAMP
    if not stamp.exists() or stamp.read_text().strip() != _pin_digest(module_dir) or not binary.exists():
        return None
    return binary


def ensure_kwok(*, log: TextIO | None = None) -> Path:
    """The kwok executable, built first when the pin changed or nothing is cached (progress to `log`)."""
    found = cached_kwok()
    if found:
        return found
    if os.environ.get("PICCHU_KWOK_BIN"):
        raise ControlPlaneUnavailable(f"PICCHU_KWOK_BIN={os.environ['PICCHU_KWOK_BIN']} does not exist")
    lock_dir = cache_root() / "kwok"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a concurrent build: wait for it, then reuse its result
        return cached_kwok() or build_kwok(log=log)


def build_kwok(*, log: TextIO | None = None) -> Path:
    """`go build` kwok for the current pin into the cache (static, stripped), printing progress."""
    out = log or sys.stderr
    go = go_executable()
    module_dir = kwok_module_dir()
    if not (module_dir / "go.mod").exists():
        raise ControlPlaneUnavailable(f"Missing {module_dir / 'go.mod'}: run from a picchu source checkout")
    version = pinned_kwok_version(module_dir)
    binary = _binary(version, module_dir)
    binary.parent.mkdir(parents=True, exist_ok=True)
    stamp = binary.parent.parent / _STAMP
    stamp.unlink(missing_ok=True)
    env = _go_env(_version_dir(version))
    cold = not any(Path(env["GOCACHE"]).glob("*/*"))
    print(f"[kwok] building kwok {version} from Go modules into {binary.parent}"
          + (f" (cold build: {COLD_ESTIMATE})." if cold else "."), file=out, flush=True)
    started = time.monotonic()
    _go_run(go, module_dir, ["mod", "download"], env, "modules", out, count_lines=False, prefix="[kwok]")
    downloaded = time.monotonic()
    staging = binary.parent.parent / "bin.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    _go_run(go, module_dir, ["build", "-trimpath", "-v", "-ldflags=-s -w", "-o", str(staging) + "/", _PACKAGE],
            env, "compile", out, prefix="[kwok]")
    (staging / "kwok").replace(binary)
    shutil.rmtree(staging, ignore_errors=True)
    stamp.write_text(_pin_digest(module_dir) + "\n")
    print(f"[kwok] built kwok {version} in {time.monotonic() - started:.0f}s (modules "
          f"{downloaded - started:.0f}s, compile and link {time.monotonic() - downloaded:.0f}s)",
          file=out, flush=True)
    return binary
