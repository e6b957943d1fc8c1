"""Fail fast on a cluster that does not answer: one remembered failure per cluster, shared by every app.

Why: a Cluster whose server is a black hole costs each request its full connect timeout. Every app of that
fleet, every pass, paid it again (issue 16: broken Clusters made a healthy app's ramp 8.5x slower, the
workers being busy waiting on dead servers). Here a failure to get any answer that took a timeout (a refused
connection is fast already, and must be retried at once when the server is back) opens the breaker of that
cluster's connection: for a back-off that doubles with each consecutive failure (1 s up to 30 s) every request
to that cluster fails at once with the remembered reason; then one request is let through as a probe (others
keep failing fast meanwhile). Any HTTP answer closes the breaker. The pool shares one connection, so one
breaker, per Cluster: all apps targeting it learn of the failure at once; a rebuilt client (rotated
credentials, moved server) starts closed.

Neighbours: `connection.ClusterConnection` carries one; `transport.send` asks and reports.
Invariant: the remembered reason is returned unchanged, so conditions built from it stay stable (no status
write per pass).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Breaker:
    def __init__(self, *, base: float = 1.0, cap: float = 30.0, probe_timeout: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.base, self.cap, self.probe_timeout = base, cap, probe_timeout
        self._clock = clock
        self._lock = threading.Lock()
        self.failures = 0
        self.unusable = False  # the last request was refused at once, or its credentials rejected (HTTP 401)
        self.reason = ""
        self._open_until = 0.0
        self._probe_until = 0.0

    def check(self) -> str | None:
        """None when a request may go out (closed, or this caller is the probe); else the remembered reason."""
        with self._lock:
            if not self.failures:
                return None
            now = self._clock()
            if now < self._open_until or now < self._probe_until:
                return self.reason
            self._probe_until = now + self.probe_timeout  # this caller probes; the others keep failing fast
            return None

    def failed(self, reason: str) -> None:
        """A request got no answer."""
        with self._lock:
            self.failures += 1
            self.reason = reason
            self._open_until = self._clock() + min(self.cap, self.base * 2 ** (self.failures - 1))
            self._probe_until = 0.0

    def refused_at_once(self) -> None:
        """A request got no connection, but at once: nothing to spare (the breaker stays closed, so a restarted
        server is used at the next request), yet the cluster is known to be unusable (`dead`)."""
        with self._lock:
            self.unusable, self._probe_until = True, 0.0

    def answered(self, *, credentials_rejected: bool = False) -> None:
        """A request got an HTTP answer (any status): the cluster is there. With HTTP 401 it is still of no use
        (`dead`) until its credentials change, which builds a new connection and a new breaker."""
        with self._lock:
            self.failures, self.reason, self._open_until, self._probe_until = 0, "", 0.0, 0.0
            self.unusable = credentials_rejected

    @property
    def dead(self) -> bool:
        """No request can succeed now: no connection at the last attempt (timed out or refused), or credentials
        rejected. A slow answer is not dead."""
        with self._lock:
            return bool(self.failures) or self.unusable

    def abandoned(self) -> None:
        """A permitted request was not sent after all (its pass ran out of time): let another probe."""
        with self._lock:
            self._probe_until = 0.0

    @property
    def open(self) -> bool:
        with self._lock:
            return bool(self.failures) and self._clock() < self._open_until
