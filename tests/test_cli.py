"""The command line as a new user meets it: --help that lists every setting with its default and environment
variable, --version, and mistakes answered with one sentence that names the file or setting and the fix."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import typer.main
from typer.testing import CliRunner

from picchu.cli import app

ROOT = Path(__file__).resolve().parents[1]


def picchu(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "picchu", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "250", "NO_COLOR": "1", **(env or {})}, cwd=ROOT)


def test_every_option_of_picchu_run_has_help_a_default_and_its_environment_variable() -> None:
    command = typer.main.get_command(app).commands["run"]  # type: ignore[attr-defined]
    options = [p for p in command.params if p.opts[0] != "--help"]
    assert len(options) >= 26
    for option in options:
        assert option.help, f"{option.opts[0]} has no help"
        envvars = option.envvar if isinstance(option.envvar, list) else [option.envvar]
        assert str(envvars[0]).startswith("PICCHU_"), option.opts[0]
    out = picchu("run", "--help").stdout
    for option in options:
        line = out[out.index(option.opts[0]):]
        block = line[:line.index("│ --", 3) if "│ --" in line[3:] else len(line)]
        assert "env var: PICCHU_" in block and "default:" in block, f"{option.opts[0]}: {block}"
    assert "SLACK_TOKEN" in out and "PICCHU_SENTRY_DSN" in out  # the secrets read from the environment only


def test_an_environment_variable_sets_a_flag() -> None:
    result = CliRunner().invoke(app, ["run", "--kubeconfig", "/nope.yaml"],
                                env={"PICCHU_SYNC_PERIOD_SECONDS": "0"})
    assert result.exit_code == 2 and "--sync-period-seconds 0.0: use 0.1 or more" in result.output


def test_version_and_a_top_level_help_without_implementation_notes() -> None:
    assert re.fullmatch(r"picchu \d+\.\d+\.\d+.*\n", picchu("--version").stdout)
    out = picchu("--help").stdout
    assert "run" in out and "simulate" in out
    assert "adapter" not in out and "lazily" not in out and "kopf" not in out


def test_a_missing_kubeconfig_fails_at_once_with_one_sentence_naming_the_path() -> None:
    result = picchu("run", "--kubeconfig", "/nope.yaml")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "picchu run: --kubeconfig /nope.yaml: no such file; pass the delivery cluster's kubeconfig "
        "(or PICCHU_KUBECONFIG), or leave it out to use the in-cluster service account"]


def test_a_kubeconfig_that_is_not_one_is_named_with_the_fix(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("clusters: [")
    result = picchu("run", "--kubeconfig", str(broken))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"--kubeconfig {broken} is not a usable kubeconfig" in result.stderr


def test_an_api_server_that_does_not_answer_is_one_sentence_without_a_traceback(tmp_path: Path) -> None:
    from picchu.testing.controlplane.processes import free_port

    kubeconfig = tmp_path / "down.yaml"
    kubeconfig.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "https://127.0.0.1:{free_port()}"}}}}]
users: [{{name: u, user: {{token: abc}}}}]
contexts: [{{name: x, context: {{cluster: c, user: u}}}}]
current-context: x
""")
    result = picchu("run", "--kubeconfig", str(kubeconfig))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = [ln for ln in result.stderr.splitlines() if ln.startswith("picchu run:")]
    assert "did not answer" in line and str(kubeconfig) in line and "check that it is running" in line


def test_simulate_rejects_a_template_applied_as_is_like_the_api_server_would() -> None:
    result = picchu("simulate", "examples/echo/revision.yaml.tmpl", "--minutes", "1")
    assert result.returncode == 2
    assert "metadata.name: 'echo-${TAG}' is not a valid name" in " ".join(result.stdout.split())


def test_the_drift_flags_take_durations_reach_the_applier_and_refuse_a_budget_of_nothing() -> None:
    from kubernetes import client

    from picchu.engine.assembly import build_context
    from picchu.settings import Settings

    result = CliRunner().invoke(app, ["run", "--kubeconfig", "/nope.yaml", "--drift-reads-per-second", "0"])
    assert result.exit_code == 2 and "--drift-reads-per-second 0.0: use 0.01 or more" in result.output
    result = CliRunner().invoke(app, ["run", "--kubeconfig", "/nope.yaml", "--drift-check-after", "15m"])
    assert "--drift-check-after" not in result.output  # a duration is accepted (the kubeconfig is not)
    applier = build_context(Settings(drift_check_after_seconds=60, drift_reads_per_second=3),
                            client.ApiClient()).applier
    assert applier.remember_for == 60 and applier.resurvey_every == 240
    assert applier.drift_budget is not None and applier.drift_budget.per_second == 3
