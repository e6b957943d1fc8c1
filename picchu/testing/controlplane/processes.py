"""Child processes of the local control plane that never outlive the Python process that started them.

Why: a test run that fails, is interrupted with Ctrl-C or is terminated must not leave etcd or
kube-apiserver processes behind (they hold ports and memory on a shared machine).

Neighbours: `plane` and `cluster` start etcd and kube-apiservers through `ManagedProcess`.

Invariants:
- Every child runs in its own process group (new session) and is stopped by that group id:
  SIGTERM, then SIGKILL after a grace period. Nothing is ever stopped by name.
- Every live child is in a registry that an `atexit` hook drains. SIGTERM/SIGHUP are turned into
  `SystemExit` (only when nobody else installed a handler) so that hook and `finally` blocks run.
- When started from the main thread on Linux, children also get PR_SET_PDEATHSIG=SIGKILL (via
  `setpriv`), so even a SIGKILLed Python leaves no orphan.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path

_LIVE: set[ManagedProcess] = set()
_LIVE_LOCK = threading.Lock()
_HANDLERS_INSTALLED = False


class ManagedProcess:
    """One child process with its output in a log file, stoppable by its process group."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen else None

    def start(self) -> None:
        if self.running:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        _install_exit_handlers()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        argv = self.argv
        setpriv = shutil.which("setpriv")
        if setpriv and threading.current_thread() is threading.main_thread():
            argv = [setpriv, "--pdeathsig", "KILL", "--", *argv]
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== starting {' '.join(self.argv)}\n".encode())
            log.flush()
            self._popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                           stderr=subprocess.STDOUT, start_new_session=True)
        with _LIVE_LOCK:
            _LIVE.add(self)

    @property
    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    @property
    def exit_code(self) -> int | None:
        return self._popen.poll() if self._popen else None

    def terminate(self) -> None:
        """Ask the process group to exit (SIGTERM) without waiting; `stop()` finishes the job."""
        if self._popen is not None and self._popen.poll() is None:
            _signal_group(self._popen.pid, signal.SIGTERM)

    def stop(self, grace_seconds: float = 10.0) -> None:
        """Stop the process group (SIGTERM, then SIGKILL) and reap the child. Idempotent."""
        popen = self._popen
        if popen is None:
            return
        if popen.poll() is None:
            _signal_group(popen.pid, signal.SIGTERM)
            try:
                popen.wait(timeout=grace_seconds)
            except subprocess.TimeoutExpired:
                _signal_group(popen.pid, signal.SIGKILL)
                popen.wait(timeout=30)
        # Helpers the child may have forked share its group; make sure none survive it.
        _signal_group(popen.pid, signal.SIGKILL)
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def current_log(self) -> str:
        """The log written since the latest start."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return text.rsplit("\n=== starting ", 1)[-1]

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.current_log().splitlines()[-lines:])


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_all() -> None:
    """Stop every child still registered (the atexit hook)."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for process in live:
        process.stop(grace_seconds=5.0)


def _raise_system_exit(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _install_exit_handlers() -> None:
    global _HANDLERS_INSTALLED
    if _HANDLERS_INSTALLED:
        return
    _HANDLERS_INSTALLED = True
    atexit.register(stop_all)
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) in (signal.SIG_DFL, None):
            signal.signal(sig, _raise_system_exit)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (callers retry on a collision)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_in_use_error(log_text: str) -> bool:
    return "address already in use" in log_text.lower()
