"""Shared pytest setup: registers picchu's test fixtures (control plane, namespaces, API clients)."""

pytest_plugins = ["picchu.testing.fixtures"]
