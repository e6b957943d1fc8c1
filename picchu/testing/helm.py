"""Build and cache a real `helm` from Go modules, and run it against a local cluster.

Why: the chart must be checked by the tool its users run (`helm lint`, `template`, `install`, `upgrade`,
`uninstall`), and helm is not installable here from Debian, PyPI or npm; the Go module proxy serves
`helm.sh/helm/v3`, so it is built like the control plane.

Neighbours: `picchu.testing.controlplane.binaries` (same cache root, same Go runner, same lock discipline);
`python -m picchu.testing.controlplane build` builds both; tests/charts use `ensure_helm()` and `Helm`.

Invariants:
- The version lives in `HELM_VERSION`; the binary is `~/.cache/picchu/helm/<version>/bin/helm`, with its Go
  module and build caches beside it (`go/mod`, `go/build`), so removing `~/.cache/picchu` really starts cold.
- A stamp is written only after `go install` succeeded; a file lock makes concurrent callers wait for one build.
- `PICCHU_HELM` may name a ready helm binary; then nothing is built.
- `Helm` runs with its own HOME/config/cache/data dirs, so a user's helm repositories never leak into tests.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from picchu.testing.controlplane.binaries import ControlPlaneUnavailable, _go_run, cache_root, go_executable

HELM_VERSION = "v3.22.0"
HELM_PACKAGE = "helm.sh/helm/v3/cmd/helm"
_STAMP = "build.stamp"
# Measured on the 2-core development machine while other builds ran (see README, "Real helm").
COLD_ESTIMATE = "2 minutes on 2 idle cores, about 8 on busy ones (4 CPU-minutes)"


def helm_dir(version: str = HELM_VERSION) -> Path:
    return cache_root() / "helm" / version


def cached_helm(version: str = HELM_VERSION) -> Path | None:
    """The built helm if its build finished, else None. Never builds."""
    override = os.environ.get("PICCHU_HELM")
    if override:
        return Path(override) if Path(override).exists() else None
    binary = helm_dir(version) / "bin" / "helm"
    stamp = helm_dir(version) / _STAMP
    if stamp.exists() and stamp.read_text().strip() == version and binary.exists():
        return binary
    return None


def ensure_helm(*, log: TextIO | None = None, version: str = HELM_VERSION) -> Path:
    """The helm binary, built first if needed (idempotent; concurrent callers wait for one build)."""
    found = cached_helm(version)
    if found:
        return found
    if os.environ.get("PICCHU_HELM"):
        raise ControlPlaneUnavailable(f"PICCHU_HELM={os.environ['PICCHU_HELM']} does not exist")
    root = helm_dir(version)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return cached_helm(version) or build_helm(log=log, version=version)


def build_helm(*, log: TextIO | None = None, version: str = HELM_VERSION) -> Path:
    """`go install helm.sh/helm/v3/cmd/helm@<version>` into the cache: static, stripped, progress printed."""
    out = log or sys.stderr
    go = go_executable()
    root = helm_dir(version)
    stamp = root / _STAMP
    stamp.unlink(missing_ok=True)
    env = {**os.environ, "CGO_ENABLED": "0", "GOTOOLCHAIN": os.environ.get("GOTOOLCHAIN", "local"),
           "GOBIN": str(root / "bin"), "GOMODCACHE": str(root / "go" / "mod"),
           "GOCACHE": str(root / "go" / "build"), "GOFLAGS": "-buildvcs=false -modcacherw"}
    cold = not any(Path(env["GOCACHE"]).glob("*/*"))
    print(f"[helm] building helm {version} from Go modules into {root / 'bin'}"
          + (f"; cold build, {COLD_ESTIMATE}. Later runs reuse it." if cold else "."), file=out, flush=True)
    started = time.monotonic()
    _go_run(go, root, ["install", "-trimpath", "-v", "-ldflags=-s -w", f"{HELM_PACKAGE}@{version}"], env,
            "compile", out, prefix="[helm]")
    stamp.write_text(version + "\n")
    print(f"[helm] built helm {version} in {time.monotonic() - started:.0f}s", file=out, flush=True)
    return root / "bin" / "helm"


class HelmError(subprocess.CalledProcessError):
    """helm failed; `str()` includes its stderr so test failures explain themselves."""

    def __str__(self) -> str:
        return f"{super().__str__()}\nstdout: {(self.stdout or '').strip()}\nstderr: {(self.stderr or '').strip()}"


@dataclass(frozen=True)
class Helm:
    """helm bound to one kubeconfig and a private home (`workdir`)."""

    binary: Path
    workdir: Path
    kubeconfig: Path | None = None

    def run(self, *args: str, check: bool = True, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
        home = self.workdir / "helm-home"
        env = {**os.environ, "HOME": str(home), "HELM_CONFIG_HOME": str(home / "config"),
               "HELM_CACHE_HOME": str(home / "cache"), "HELM_DATA_HOME": str(home / "data")}
        env.pop("HELM_NAMESPACE", None)
        if self.kubeconfig is not None:
            env["KUBECONFIG"] = str(self.kubeconfig)
        result = subprocess.run([str(self.binary), *args], env=env, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise HelmError(result.returncode, result.args, result.stdout, result.stderr)
        return result


TARGET_MANIFEST_HEADER = """\
# The identity picchu uses in a target cluster: ServiceAccount picchu-target in namespace picchu-system, bound to
# the least-privilege target role. Generated by `make rbac` from charts/picchu-target (release picchu-target);
# do not edit: change the chart. Apply with `kubectl apply -f config/rbac/target.yaml`, then put the token into
# the delivery cluster's Cluster Secret (see charts/picchu-target/templates/NOTES.txt).
"""


TARGET_MIRROR_HEADER = """\
# Only for a target cluster that is a Mirror's destination, on top of config/rbac/target.yaml: lets the same
# identity create and apply Revisions. Generated by `make rbac` (charts/picchu-target, mirrorDestination=true).
"""
TARGET_MANIFEST_VALUES = ("--set", "createNamespace=true")


def render_target_manifest(helm: Helm, chart: Path, namespace: str = "picchu-system") -> str:
    """The plain manifest of the target identity: the target chart rendered as release `picchu-target`."""
    rendered = helm.run("template", "picchu-target", str(chart), "--namespace", namespace,
                        *TARGET_MANIFEST_VALUES).stdout
    return TARGET_MANIFEST_HEADER + rendered


if __name__ == "__main__":  # `make rbac`: regenerate config/rbac/target.yaml
    import tempfile

    from picchu.testing.controlplane.binaries import repo_root

    with tempfile.TemporaryDirectory() as work:
        text = render_target_manifest(Helm(ensure_helm(), workdir=Path(work)), repo_root() / "charts" / "picchu-target")
        mirror = Helm(ensure_helm(), workdir=Path(work)).run(
            "template", "picchu-target", str(repo_root() / "charts" / "picchu-target"), "--namespace",
            "picchu-system", "--set", "mirrorDestination=true", "--show-only", "templates/mirror.yaml").stdout
    out = repo_root() / "config" / "rbac" / "target.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    (out.parent / "target-mirror.yaml").write_text(TARGET_MIRROR_HEADER + mirror)
    print(f"wrote {out} and {out.parent / 'target-mirror.yaml'}")
