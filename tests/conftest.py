"""Shared pytest setup: registers picchu's test fixtures (control plane, namespaces, API clients), and makes
hypothesis deterministic under CI so a red run always means a change, never a lucky draw (locally it keeps
exploring; a failure prints the example and a reproduction blob). No per-example deadline and no "too slow"
health check: on a loaded machine those measure the machine, and tests never assert durations."""

import os

from hypothesis import HealthCheck, settings

pytest_plugins = ["picchu.testing.fixtures"]

_UNTIMED = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("ci", derandomize=True, print_blob=True, **_UNTIMED)
settings.register_profile("dev", print_blob=True, **_UNTIMED)
settings.load_profile("ci" if os.environ.get("CI", "").lower() in ("true", "1", "yes") else "dev")
