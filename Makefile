# The two entry points are `make demo` and `make test`; everything else is a step they share.
PY := .venv/bin/python
PIP := .venv/bin/pip
STAMP := .venv/.installed

.PHONY: demo test lint unit controlplane crds bench clean

$(STAMP): pyproject.toml
	python3 -m venv .venv
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	touch $(STAMP)

controlplane: $(STAMP)
	$(PY) -m picchu.testing.controlplane build

crds: $(STAMP)
	$(PY) -m picchu crds
	charts/picchu/sync-crds.sh

lint: $(STAMP)
	.venv/bin/ruff check picchu tests bench
	.venv/bin/mypy picchu
	.venv/bin/lint-imports

test: $(STAMP) controlplane lint
	.venv/bin/pytest -q

# make demo KEEP=1 keeps the clusters running after the rollout (Ctrl-C stops them) and keeps their directory.
demo: $(STAMP) controlplane
	$(PY) -m picchu demo $(if $(KEEP),--keep,)

bench: $(STAMP) controlplane
	for b in bench/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache
