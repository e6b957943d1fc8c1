# The two entry points are `make demo` and `make test`; everything else is a step they share.
PY := .venv/bin/python
PIP := .venv/bin/pip
STAMP := .venv/.installed

.PHONY: demo test lint unit controlplane crds bench reliability clean

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
	.venv/bin/ruff check picchu tests bench reliability
	.venv/bin/mypy picchu
	.venv/bin/lint-imports

test: $(STAMP) controlplane lint
	.venv/bin/pytest -q

demo: $(STAMP) controlplane
	$(PY) -m picchu demo

bench: $(STAMP) controlplane
	for b in bench/*.py; do $(PY) $$b || exit 1; done

# Not part of `make test`: scenarios that try to break the operator (minutes; prints a table).
reliability: $(STAMP) controlplane
	$(PY) -m reliability.run

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache
