# Tonne: every target installs what it needs first, so on a fresh machine `make demo` and `make test`
# are the whole set-up. Only PyPI and npm are needed (see README, "Toolchain").
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
ANVIL_DIR := $(CURDIR)/toolchain/bin

# Keep every tool's state inside the checkout: nothing is read from or written to $HOME.
export APE_DATA_FOLDER := $(CURDIR)/.ape-data
export SOLCX_BINARY_PATH := $(CURDIR)/toolchain/solcx
export PATH := $(BIN):$(ANVIL_DIR):$(PATH)
export npm_config_cache := $(CURDIR)/.npm-cache
export PIP_CACHE_DIR := $(CURDIR)/.pip-cache
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PYTHONDONTWRITEBYTECODE := 1

# npm trusts only its own CA list; where the machine adds its certificates to the system store (as a proxy here
# does), point Node at that store unless the caller already chose one.
ifeq ($(origin NODE_EXTRA_CA_CERTS),undefined)
ifneq ($(wildcard /etc/ssl/certs/ca-certificates.crt),)
export NODE_EXTRA_CA_CERTS := /etc/ssl/certs/ca-certificates.crt
endif
endif

# The stamp names this checkout: a virtualenv made in another folder (a moved or copied checkout) is
# rebuilt, never reused, since its scripts and its editable install point at the folder that made it.
PY_STAMP := $(VENV)/.installed-$(shell printf '%s' '$(CURDIR)' | cksum | cut -d' ' -f1)
NODE_STAMP := node_modules/.installed
JS_STAMP := js/node_modules/.installed

.PHONY: help install postgresql demo test test-fast lint bench audit clean
help:
	@echo "make demo   - install what is missing, run the main job on a local Anvil chain"
	@echo "make test   - install what is missing, run the whole test suite"
	@echo "make bench  - gas per operation vs OpenZeppelin baselines, script throughput -> bench/results.json"
	@echo "make lint   - ruff"
	@echo "make audit  - Slither on contracts/ (not contracts/test/); fails on untriaged High/Medium findings"
	@echo "make clean  - remove build output and installed tools"

install: $(PY_STAMP) $(NODE_STAMP) $(JS_STAMP) postgresql

$(PY_STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python >= 3.10 is required (found %s)" % sys.version.split()[0])'
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --requirement requirements.lock
	$(BIN)/pip install --quiet --no-deps --editable .
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	@command -v node >/dev/null || { echo "Node.js (with npm) is required: it runs the Solidity compiler and Anvil"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The JavaScript client for dApp frontends (js/, an npm package of its own: viem), and its tests' dependencies.
$(JS_STAMP): js/package.json js/package-lock.json
	npm ci --prefix js --no-audit --no-fund --loglevel=error
	@touch $@

# The order book's tests start a real PostgreSQL server (tests/python/conftest.py): Debian's `postgresql` package,
# installed here when its server binaries are missing and we are root (otherwise a note; those tests then fail, naming
# the package).
postgresql:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql \
	      || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql; }; \
	  else \
	    echo "note: PostgreSQL server binaries not found: the order book's PostgreSQL tests need Debian's postgresql package (apt-get install postgresql, as root)"; \
	  fi; \
	fi

demo: install
	$(BIN)/ape run demo

# Test files run in parallel workers, each file whole in one worker (module fixtures and chains stay per file).
# TEST_WORKERS=0 runs serially.
TEST_WORKERS ?= auto
test: install
	$(BIN)/ape test tests -n $(TEST_WORKERS) --dist loadfile
	PATH="$(CURDIR)/$(BIN):$(CURDIR)/toolchain/bin:$$PATH" node --test js/test/

lint: install
	$(BIN)/ruff check tonne scripts tests bench
	$(BIN)/ruff format --check tonne scripts tests bench

bench: install
	TONNE_ANVIL_PRUNE_HISTORY=256 $(BIN)/ape run bench

# Static analysis: Slither in its own venv (ape's pins stay untouched), compiling through forge from its own npm
# prefix (so `make test` never downloads it). forge's out/cache, Slither's report and the HOME that forge and
# solc-select write to all live in .audit/ (gitignored). Needs node_modules (solc-js, OpenZeppelin), not ape.
AUDIT_VENV := .venv-audit
AUDIT_STAMP := $(AUDIT_VENV)/.installed
FORGE_STAMP := toolchain/audit/node_modules/.installed
FORGE_DIR := $(CURDIR)/toolchain/audit/node_modules/@foundry-rs/forge-linux-amd64/bin

$(AUDIT_STAMP): requirements-audit.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python >= 3.10 is required (found %s)" % sys.version.split()[0])'
	$(PYTHON) -m venv $(AUDIT_VENV)
	$(AUDIT_VENV)/bin/pip install --quiet --requirement requirements-audit.lock
	@touch $@

$(FORGE_STAMP): toolchain/audit/package.json toolchain/audit/package-lock.json
	npm install --prefix toolchain/audit --no-audit --no-fund --loglevel=error
	@touch $@

audit: $(NODE_STAMP) $(AUDIT_STAMP) $(FORGE_STAMP)
	@mkdir -p .audit/home
	@rm -f .audit/slither.json
	HOME=$(CURDIR)/.audit/home PATH=$(FORGE_DIR):$$PATH $(AUDIT_VENV)/bin/slither . \
	  --filter-paths 'contracts/test/|node_modules/' --exclude-dependencies \
	  --json .audit/slither.json > .audit/slither.log 2>&1 || test -s .audit/slither.json || { cat .audit/slither.log; exit 1; }
	$(AUDIT_VENV)/bin/python toolchain/audit/triage.py .audit/slither.json audit/triage.json

clean:
	rm -rf .build .ape-data .npm-cache .pip-cache $(VENV) node_modules .audit $(AUDIT_VENV) toolchain/audit/node_modules
