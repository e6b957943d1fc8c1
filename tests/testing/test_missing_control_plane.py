"""Without the control plane binaries, CI fails loudly, a laptop skips with a hint, and `build` says what to
install."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def machine_without_go(tmp_path: Path) -> dict[str, str]:
    """An environment with an empty binary cache and no `go` on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    env = {key: value for key, value in os.environ.items()
           if key not in ("CI", "PICCHU_CONTROLPLANE_BIN", "PICCHU_BUILD_CONTROLPLANE")}
    env.update(PATH=str(bin_dir), PICCHU_CACHE_DIR=str(tmp_path / "cache"), PICCHU_REPO=str(REPO))
    return env


def _run_a_test_needing_the_control_plane(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text('pytest_plugins = ["picchu.testing.fixtures"]\n')
    (suite / "test_needs_clusters.py").write_text("def test_needs_clusters(control_plane):\n    pass\n")
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(suite)],
                          cwd=suite, env=env, capture_output=True, text=True, timeout=120)


def test_in_ci_a_missing_control_plane_fails_the_run(tmp_path, machine_without_go):
    result = _run_a_test_needing_the_control_plane(tmp_path, {**machine_without_go, "CI": "true"})

    assert result.returncode == 1, result.stdout
    assert "1 error" in result.stdout and "skipped" not in result.stdout
    assert "Install Go" in result.stdout


def test_outside_ci_a_missing_control_plane_skips_with_the_build_command(tmp_path, machine_without_go):
    result = _run_a_test_needing_the_control_plane(tmp_path, machine_without_go)

    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout
    assert "python -m picchu.testing.controlplane build" in result.stdout


def test_building_without_go_names_what_to_install(machine_without_go):
    result = subprocess.run([sys.executable, "-m", "picchu.testing.controlplane", "build"],
                            env=machine_without_go, capture_output=True, text=True, timeout=60)

    assert result.returncode == 2
    assert "Install Go >= 1.26" in result.stderr
