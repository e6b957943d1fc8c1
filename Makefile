# The two entry points are `make demo` and `make test`; everything else is a step they share.
# `make test` runs the fast tier first (lint, types, import contracts, pure tests: no cluster, no compile), so a
# mistake shows in a minute or two, then builds (or reuses) the control plane and runs the integration tier.
PY := .venv/bin/python
PIP := .venv/bin/pip
STAMP := .venv/.installed
# Tests that need no cluster, no Prometheus and no tool built on demand.
FAST := not controlplane and not e2e and not prometheus and not tools
# Integration workers: each runs its own control plane (etcd + 3 apiservers, ~1.3 GiB); tests mostly wait on
# sync periods and ramp delays, so more workers than cores pays off.
WORKERS ?= 3

.PHONY: demo test check lint unit integration test-under-load controlplane crds rbac bench reliability clean

$(STAMP): pyproject.toml
	python3 -m venv .venv
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	touch $(STAMP)

# kube-apiserver, etcd, kubectl and helm, built from Go modules into ~/.cache/picchu (cached; CI runs this too).
controlplane: $(STAMP)
	$(PY) -m picchu.testing.controlplane build

# config/rbac/target.yaml: the target-cluster identity as plain YAML, rendered from charts/picchu-target.
rbac: $(STAMP)
	$(PY) -m picchu.testing.helm

crds: $(STAMP)
	$(PY) -m picchu crds
	charts/picchu/sync-crds.sh

lint: $(STAMP)
	.venv/bin/ruff check picchu tests bench hack reliability
	.venv/bin/mypy picchu
	.venv/bin/lint-imports

unit: $(STAMP)
	.venv/bin/pytest -q -n 2 -m "$(FAST)"

check: lint unit

integration: $(STAMP) controlplane
	.venv/bin/pytest -q -n $(WORKERS) -m "not ($(FAST))" --durations=15

test: check integration

test-under-load: $(STAMP) controlplane
	$(PY) hack/with_cpu_hogs.py -- $(MAKE) integration

# make demo KEEP=1 keeps the clusters running after the rollout (Ctrl-C stops them) and keeps their directory.
demo: $(STAMP) controlplane
	$(PY) -m picchu demo $(if $(KEEP),--keep,)

bench: $(STAMP) controlplane
	for b in bench/*.py; do $(PY) $$b || exit 1; done

# Not part of `make test`: scenarios that try to break the operator (up to 30 minutes; prints a table and writes
# it to reliability-results.md). `make reliability QUICK=1` is a smaller smoke run; ONLY=kill9,secrets selects.
reliability: $(STAMP) controlplane
	$(PY) -m reliability.run $(if $(QUICK),--quick,) $(if $(ONLY),--only $(ONLY),)

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache
