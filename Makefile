# The two commands a newcomer runs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install system-deps test lint demo bench clean

install: $(STAMP)

# pip's own chatter goes to .venv/install.log; it is shown only if the install fails.
$(STAMP): pyproject.toml
	@echo "Installing reconciler and its tools into $(VENV) (the first run takes a minute) ..."
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@{ $(PY) -m pip install --disable-pip-version-check --upgrade pip && \
	   $(PY) -m pip install --disable-pip-version-check -e '.[dev,all]' && \
	   $(PY) -m compileall -q reconciler; } > $(VENV)/install.log 2>&1 \
	  || { cat $(VENV)/install.log; echo "install failed (log: $(VENV)/install.log)"; exit 1; }
	@touch $(STAMP)

# Chromium and PostgreSQL for the tests: installed when missing (as root), else named.
system-deps:
	@bash scripts/system-deps.sh

test: system-deps install
	$(PY) -m pytest -n 2 --dist loadgroup -q

lint: install
	$(VENV)/bin/ruff check reconciler tests bench scripts
	$(VENV)/bin/ruff format --check reconciler tests bench scripts
	$(VENV)/bin/mypy reconciler
	$(VENV)/bin/lint-imports

demo: install
	@$(PY) scripts/demo.py

# Bytecode compiled first, as an installed tool has it (PYTHONDONTWRITEBYTECODE
# would otherwise make every timed command recompile the package).
bench: install
	@$(PY) -m compileall -q reconciler
	$(PY) -m bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
