# The README's two commands: `make run` and `make test`. Both install what they need first and
# are idempotent: a stamp file records that an install is current for its inputs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NODE_DIR := hardhat-node
NODE_STAMP := $(NODE_DIR)/node_modules/.installed
SYS_STAMP := $(VENV)/.system-deps
DEJAVU := /usr/share/fonts/truetype/dejavu
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help install run chain test lint bench lock clean

help:
	@echo "make run   - install everything and run the system locally"
	@echo "make test  - install everything and run the whole test suite"
	@echo "make lint  - ruff format --check, ruff check, mypy"
	@echo "make bench - run every benchmark in bench/ at its default sizes"

$(PY_STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

# The local chain (Hardhat), the npm solc compiler and axe-core (the browser tests' accessibility
# check), exactly as package-lock.json pins them.
$(NODE_STAMP): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian packages: Chromium for the browser tests, poppler-utils (pdftotext, pdfinfo) to read
# the printable certificates in tests, DejaVu Sans for the certificates themselves, PostgreSQL's
# binaries (initdb, pg_ctl) for the test suite's own throwaway cluster (tests/pgcluster.py: no
# running server is needed or used). apt-get runs only when one of them is missing; Playwright
# never downloads a browser of its own. The stamp depends on this Makefile so that a package
# added here is checked for on machines installed before.
$(SYS_STAMP): Makefile
	if command -v chromium >/dev/null && command -v pdftotext >/dev/null \
	    && test -f $(DEJAVU)/DejaVuSans.ttf && test -f $(DEJAVU)/DejaVuSans-Bold.ttf \
	    && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  echo "system packages: chromium, poppler-utils, fonts-dejavu-core, postgresql present"; \
	else \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y \
	    -qq --no-install-recommends chromium poppler-utils fonts-dejavu-core postgresql; \
	fi
	mkdir -p $(VENV)
	touch $@

install: $(SYS_STAMP) $(PY_STAMP) $(NODE_STAMP)

# RUN_ARGS: options of `certreg dev`, e.g. make run RUN_ARGS="--port 8001 --chain-port 8546"
run: install
	$(BIN)/certreg dev $(RUN_ARGS)

# A Hardhat node that outlives `make run` (run it in another terminal): the contract and the
# registry's data are then reused across restarts of `make run`.
chain: install
	cd $(NODE_DIR) && node start-node.js --port 8545 --chain-id 31337

# The suite in TEST_WORKERS processes (pytest-xdist; each module stays in one process, so a
# module's chain node and registry are started once). TEST_WORKERS=0 runs it in this process.
TEST_WORKERS ?= 2
test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

# bench/bench_api.py loads the server with wrk (Debian's package).
bench: install
	command -v wrk >/dev/null || { $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk; }
	for script in bench/bench_*.py; do $(BIN)/python "$$script" || exit 1; done

# Regenerate the pinned versions after changing dependencies in pyproject.toml.
lock:
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e ' > constraints.txt

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis $(NODE_DIR)/node_modules
