"""`PrometheusServer`: a real Prometheus (Debian's `prometheus` package) for tests and the demo.

Why: alert verdicts, rule files and the HOLD/FAIL_CLOSED semantics must be checked against the real
thing, not a fake HTTP answer. Each server gets a free loopback port, its own temporary config and data dir
(so it never collides with a packaged service on :9090), runs with `--web.enable-lifecycle` so tests can add
rules and `reload()`, and is stopped by PID. The child is asked to die with the thread that started it
(Linux PR_SET_PDEATHSIG) so a crashed test run leaves no orphan.

Rules: pass `rule_files=[path, ...]` or add text later with `add_rules(name, text)` (written into the
server's rules dir, which the config globs, then reloaded).

`require_prometheus()` is the test gate: under CI=true a missing binary FAILS, elsewhere it skips with a
message saying what to install. Neighbours: `metrics_exporter.MetricsExporter` (a scrape target).
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from picchu.testing.controlplane.processes import free_port

INSTALL_HINT = "install it with `apt-get update && apt-get install -y prometheus` (Debian package)"


class PrometheusNotInstalled(RuntimeError):
    pass


def prometheus_binary() -> str:
    """The path of the `prometheus` binary, or PrometheusNotInstalled saying how to install it."""
    found = shutil.which("prometheus") or (
        "/usr/bin/prometheus" if os.path.exists("/usr/bin/prometheus") else None
    )
    if not found:
        raise PrometheusNotInstalled(f"the prometheus binary is missing: {INSTALL_HINT}")
    return found


def require_prometheus() -> str:
    """For tests: the binary path; if missing, pytest.fail under CI=true, else pytest.skip."""
    import pytest

    try:
        return prometheus_binary()
    except PrometheusNotInstalled as missing:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{missing} (CI=true: tests needing Prometheus must not be skipped)")
        pytest.skip(str(missing))
        raise  # unreachable: skip raises


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class PrometheusServer:
    """A Prometheus on 127.0.0.1:<free port>; use as a context manager.

    >>> with MetricsExporter() as app, PrometheusServer(scrape_targets=[app.target]) as prom:  # doctest: +SKIP
    ...     prom.add_rules("slo", error_rule("echo_availability"))
    ...     app.set(app="echo", tag="v1", value=1)
    ...     prom.wait_for_alert("echo_availability", app="echo", tag="v1")
    """

    def __init__(
        self,
        rule_files: Iterable[str | Path] = (),
        scrape_targets: Iterable[str] = (),
        evaluation_interval: str = "1s",
        scrape_interval: str = "1s",
        startup_timeout: float = 120.0,
    ):
        self.rule_files = [Path(path).resolve() for path in rule_files]
        self.scrape_targets = list(scrape_targets)
        self.evaluation_interval = evaluation_interval
        self.scrape_interval = scrape_interval
        self.startup_timeout = startup_timeout
        self.port = 0
        self.workdir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def rules_dir(self) -> Path:
        assert self.workdir is not None, "start the server first"
        return self.workdir / "rules"

    def start(self) -> PrometheusServer:
        binary = prometheus_binary()
        self.workdir = Path(tempfile.mkdtemp(prefix="picchu-prometheus-"))
        self.rules_dir.mkdir()
        self._write_config()
        for _attempt in range(3):  # the free port may be taken between probe and bind
            self.port = free_port()
            self._launch(binary)
            if self._wait_ready():
                return self
            self._terminate()
        logs = self.logs()
        self.stop()
        raise RuntimeError(f"prometheus did not become ready in {self.startup_timeout}s:\n{logs[-3000:]}")

    def kill(self) -> None:
        """Stop the process at once (SIGKILL), keeping port, config and data for `restart()`: an outage."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None

    def restart(self) -> PrometheusServer:
        """Start again on the same port with the same config and data (after `kill()`)."""
        assert self.workdir is not None, "start the server first"
        self._terminate()
        self._launch(prometheus_binary())
        if not self._wait_ready():
            raise RuntimeError(f"prometheus did not come back on port {self.port}:\n{self.logs()[-3000:]}")
        return self

    def _launch(self, binary: str) -> None:
        assert self.workdir is not None
        log = open(self.workdir / "prometheus.log", "ab")  # noqa: SIM115 - owned by the child
        self._process = subprocess.Popen(
            [
                binary,
                f"--config.file={self.workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-lifecycle",
                "--log.level=warn",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        log.close()

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as answer:
                    if answer.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        return False

    def _write_config(self) -> None:
        assert self.workdir is not None
        config = {
            "global": {
                "scrape_interval": self.scrape_interval,
                "evaluation_interval": self.evaluation_interval,
            },
            "rule_files": [str(path) for path in self.rule_files] + [str(self.rules_dir / "*.yml")],
            "scrape_configs": [
                {"job_name": "picchu-test", "static_configs": [{"targets": self.scrape_targets}]}
            ],
        }
        # JSON is valid YAML: no YAML dependency for the harness.
        (self.workdir / "prometheus.yml").write_text(json.dumps(config, indent=2))

    def reload(self) -> None:
        """POST /-/reload; raises with Prometheus's message if the new config or rules are rejected."""
        request = urllib.request.Request(f"{self.url}/-/reload", method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10):
                pass
        except urllib.error.HTTPError as rejected:
            raise RuntimeError(
                f"prometheus rejected the reload: {rejected.read().decode(errors='replace')}"
            ) from None

    def add_rules(self, name: str, text: str) -> Path:
        """Write a rule file (YAML text) into the rules dir and reload."""
        path = self.rules_dir / f"{name}.yml"
        path.write_text(text)
        self.reload()
        return path

    def set_scrape_targets(self, targets: Iterable[str]) -> None:
        self.scrape_targets = list(targets)
        self._write_config()
        self.reload()

    def query(self, promql: str) -> list[Any]:
        """An instant query's `result` list (raises on an HTTP or query error)."""
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
        with urllib.request.urlopen(url, timeout=10) as answer:
            return list(json.load(answer)["data"]["result"])

    def firing_alerts(self, alertname: str, **labels: str) -> list[Mapping[str, str]]:
        selector = ",".join(
            [f'alertname="{alertname}"', 'alertstate="firing"'] + [f'{k}="{v}"' for k, v in labels.items()]
        )
        return [sample["metric"] for sample in self.query(f"ALERTS{{{selector}}}")]

    def wait_for_alert(
        self, alertname: str, timeout: float = 120.0, firing: bool = True, **labels: str
    ) -> None:
        """Block until the alert fires (or, with firing=False, until it no longer fires)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if bool(self.firing_alerts(alertname, **labels)) == firing:
                return
            time.sleep(0.25)
        state = "fire" if firing else "stop firing"
        raise TimeoutError(
            f"alert {alertname}{labels} did not {state} within {timeout}s:\n{self.logs()[-2000:]}"
        )

    def metric_value(self, name: str, **labels: str) -> float:
        """A value from Prometheus's own /metrics (e.g. how many queries it has answered)."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as answer:
            text = answer.read().decode()
        wanted = [f'{k}="{v}"' for k, v in labels.items()]
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name + "{") or line.startswith(name + " "):
                if all(label in line for label in wanted):
                    total += float(line.rsplit(" ", 1)[1])
        return total

    def logs(self) -> str:
        if self.workdir is None or not (self.workdir / "prometheus.log").exists():
            return ""
        return (self.workdir / "prometheus.log").read_text(errors="replace")

    def pause(self) -> None:
        """Freeze the process (SIGSTOP): it accepts connections but never answers, like a hung server."""
        assert self._process is not None, "start the server first"
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None, "start the server first"
        self._process.send_signal(signal.SIGCONT)

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        process.send_signal(signal.SIGCONT)  # a paused process handles SIGTERM only once continued
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def stop(self) -> None:
        """Stop the process (by PID) and delete its config and data."""
        self._terminate()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SloAlerts:
    """A real Prometheus scraping a `MetricsExporter`, with one alerting rule: make an alert fire on demand.

    For e2e tests and the demo: point the operator's `--prometheus-query-address` at `.url`, then
    `fire("echo", "v2")` to make `alert` fire for that app/tag (labels app, tag, slo="true", and
    canary="true" when `canary=True`), `clear(...)` to stop it. Both wait until Prometheus agrees.
    """

    def __init__(self, alert: str = "echo_availability", canary: bool = False, wait_timeout: float = 120.0):
        from picchu.testing.metrics_exporter import MetricsExporter, error_rule

        self.alert = alert
        self.wait_timeout = wait_timeout
        self.exporter = MetricsExporter()
        self._rule = error_rule(alert, canary=canary)
        self.server: PrometheusServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None, "start first"
        return self.server.url

    def start(self) -> SloAlerts:
        self.exporter.start()
        try:
            self.server = PrometheusServer(scrape_targets=[self.exporter.target]).start()
            self.server.add_rules("slo-alerts", self._rule)
        except BaseException:
            self.stop()
            raise
        return self

    def fire(self, app: str, tag: str, wait: bool = True) -> None:
        self.exporter.set(1.0, app=app, tag=tag)
        if wait and self.server is not None:
            self.server.wait_for_alert(self.alert, timeout=self.wait_timeout, app=app, tag=tag)

    def clear(self, app: str, tag: str, wait: bool = True) -> None:
        self.exporter.set(0.0, app=app, tag=tag)
        if wait and self.server is not None:
            self.server.wait_for_alert(self.alert, timeout=self.wait_timeout, firing=False, app=app, tag=tag)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        self.exporter.stop()

    def __enter__(self) -> SloAlerts:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
