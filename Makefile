# One command per job. `make run` and `make test` set up everything they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .make
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install run test lint format contracts assets bench browser clean

install: $(STAMPS)/python $(STAMPS)/npm

$(STAMPS)/python: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/npm: package.json package-lock.json
	@# The lock lists every platform's optional anvil binary, so `npm ci` installs exactly it and never rewrites it.
	npm ci --no-audit --no-fund --loglevel=error
	@mkdir -p $(STAMPS) && touch $@

## Serve the marketplace at http://127.0.0.1:8000 on the embedded defaults (Ctrl-C stops it).
run: install
	$(PY) manage.py run

## Lint, then the whole test suite against a throwaway database and chain node.
test: install browser lint
	$(PY) -m pytest -n 2 --dist loadfile

## Debian's Chromium for the browser tests (Playwright drives it; nothing is downloaded by Playwright).
browser:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## Recompile contracts/*.sol into contracts/build/ (needs Node; the app itself does not).
contracts: install
	$(PY) -m ledger.build

## Rebundle the portal's wallet layer (frontend/ -> static/vendor/nfvm-wallet.js, committed; the app needs no Node).
assets: install
	npm run --silent build:wallet

## Benchmarks: prints a table and writes bench/results.json (`make bench ONLY="ledger portal"` runs some).
bench: install
	$(PY) bench/run.py $(ONLY)

clean:
	rm -rf $(VENV) node_modules $(STAMPS) .pytest_cache .mypy_cache .ruff_cache test-artifacts
