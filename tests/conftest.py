"""Shared pytest setup: registers picchu's test fixtures (control plane, namespaces, API clients), and makes
hypothesis deterministic under CI so a red run always means a change, never a lucky draw (locally it keeps
exploring; a failure prints the example and a reproduction blob)."""

import os

from hypothesis import settings

pytest_plugins = ["picchu.testing.fixtures"]

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI", "").lower() in ("true", "1", "yes") else "dev")
