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

# The stamp names this checkout: a virtualenv made in another folder (a moved or copied checkout) is
# rebuilt, never reused, since its scripts and its editable install point at the folder that made it.
PY_STAMP := $(VENV)/.installed-$(shell printf '%s' '$(CURDIR)' | cksum | cut -d' ' -f1)
NODE_STAMP := node_modules/.installed

.PHONY: help install demo test test-fast lint bench clean
help:
	@echo "make demo   - install what is missing, run the main job on a local Anvil chain"
	@echo "make test   - install what is missing, run the whole test suite"
	@echo "make bench  - gas per operation vs OpenZeppelin baselines, script throughput -> bench/results.json"
	@echo "make lint   - ruff"
	@echo "make clean  - remove build output and installed tools"

install: $(PY_STAMP) $(NODE_STAMP)

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

demo: install
	$(BIN)/ape run demo

test: install
	$(BIN)/ape test tests

lint: install
	$(BIN)/ruff check tonne scripts tests bench
	$(BIN)/ruff format --check tonne scripts tests bench

bench: install
	$(BIN)/ape run bench

clean:
	rm -rf .build .ape-data .npm-cache .pip-cache $(VENV) node_modules
