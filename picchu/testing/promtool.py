"""Run Prometheus' `promtool` on generated rules: `check rules` (validity) and `test rules` (behaviour).

Why: the PromQL picchu generates (SLO recordings, canary alerts) is only proven correct by Prometheus
itself. promtool comes from Debian's `prometheus` package (`apt-get install -y prometheus`).

Invariant: with `CI=true` a missing promtool FAILS the calling test; elsewhere it is skipped with the
install command. Rule files are written as YAML into a directory the caller owns (e.g. pytest's tmp_path).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

_INSTALL_HINT = "install it with `apt-get update && apt-get install -y prometheus`"


def promtool_binary() -> str:
    """Path of promtool; fails (CI) or skips (elsewhere) the current test when it is missing."""
    import pytest

    found = os.environ.get("PROMTOOL") or shutil.which("promtool")
    if found and os.access(found, os.X_OK):
        return found
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(f"CI needs promtool and it is missing: {_INSTALL_HINT}", pytrace=False)
    pytest.skip(f"promtool not found: {_INSTALL_HINT}")


def write_rule_file(directory: Path, name: str, groups: Sequence[Mapping[str, Any]]) -> Path:
    """A Prometheus rule file (`groups:` as in a PrometheusRule spec)."""
    path = directory / name
    path.write_text(yaml.safe_dump({"groups": list(groups)}, sort_keys=False))
    return path


def check_rules(*rule_files: Path) -> subprocess.CompletedProcess[str]:
    """`promtool check rules FILE...` (returncode 0 ⇔ every rule is valid)."""
    return _run("check", "rules", *map(str, rule_files))


def test_rules(directory: Path, rule_files: Sequence[Path], tests: Sequence[Mapping[str, Any]],
               evaluation_interval: str = "1m") -> subprocess.CompletedProcess[str]:  # fmt: skip
    """`promtool test rules` with a unit-test file built from `tests` (returncode 0 ⇔ all pass)."""
    spec = {
        "rule_files": [str(path) for path in rule_files],
        "evaluation_interval": evaluation_interval,
        "tests": list(tests),
    }
    path = directory / "rules.test.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return _run("test", "rules", str(path))


test_rules.__test__ = False  # type: ignore[attr-defined]  # not a pytest test despite its name


def _run(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool_binary(), *arguments], capture_output=True, text=True, timeout=120, check=False)
