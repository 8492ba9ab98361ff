# navlend: one entry point. `make demo` runs the main job, `make test` runs the tests.
# Both bootstrap everything on a fresh machine: the virtual environment with the
# pinned Python packages, the npm anvil binary, and a forced compile.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMPS := .stamps
ANVIL_NATIVE := node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil

# The venv's bin holds ape, pytest and a link to anvil, so ape-foundry finds it.
export PATH := $(BIN):$(CURDIR)/node_modules/.bin:$(PATH)
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup redis postgres compile abi test test-fast demo deploy gas bench bench-keeper static property audit replay mutation bench-property clean

help:
	@echo "make demo    run the main job: a local market under stress with the keeper"
	@echo "make test    bootstrap, force-compile and run the whole test suite"
	@echo "make gas     print gas per market operation"
	@echo "make bench   gas side by side with Morpho Blue and Aave v3, keeper scan, property steps/s"
	@echo "make static  static analysis of every contract (AUDIT.md section 9)"
	@echo "make audit   the property suite for an hour (AUDIT_MINUTES=60)"
	@echo "make mutation  mutants of the market against the property suite: the score"
	@echo "make bench-property  the state machine's steps per second"
	@echo "make setup   only install the Python and npm tooling"
	@echo "make abi     regenerate navlend/abi/*.json from the contracts (after a contract change)"

$(STAMPS):
	mkdir -p $(STAMPS)

# Python: pinned direct dependencies in pyproject.toml, the resolved set in
# requirements.lock (passed as constraints so pip never picks a broken version).
$(STAMPS)/venv: pyproject.toml requirements.lock | $(STAMPS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev]"
	touch $@

# Anvil ships inside the npm package @foundry-rs/anvil-linux-amd64 (the
# @foundry-rs/anvil wrapper's postinstall, which npm 11 skips, would only
# pick it). The project depends on it directly, so `npm ci` accepts the lock,
# and links the binary into the venv's bin, where ape-foundry finds it.
$(STAMPS)/anvil: package.json package-lock.json $(STAMPS)/venv | $(STAMPS)
	npm ci --no-audit --no-fund --loglevel=error
	ln -sf $(CURDIR)/$(ANVIL_NATIVE) $(BIN)/anvil
	$(BIN)/anvil --version | head -1
	touch $@

# Debian's redis-server for the keeper's scale-out test (tests/keeper/scale):
# installed with apt-get when it is not on PATH (sudo only when not root).
redis:
	bash keepers/install-redis.sh

# Debian's PostgreSQL server for the keeper's shared index (the tests start a
# throwaway cluster of their own, keepers/store_server.py): installed with
# apt-get when its binaries are missing (sudo only when not root).
postgres:
	bash keepers/install-postgres.sh

# Debian's chromium for the demo report's browser test (tests/demo: every
# chart of report.html loads): installed with apt-get when it is missing
# (sudo only when not root).
.PHONY: chromium
chromium:
	bash devkit/install-chromium.sh

setup: $(STAMPS)/venv $(STAMPS)/anvil redis postgres chromium

# ape-vyper recompiles a contract only when its own file changes, not when a
# module it imports does: always force, so nothing runs against stale bytecode.
compile: setup
	$(BIN)/ape compile --force

# The ABIs the Python binds to (navlend/abi/*.json, committed), from the
# interfaces and the fresh build. Never part of `compile`: tests/lib fails
# while the files lag the contracts, so a forgotten `make abi` is caught.
abi: compile
	$(BIN)/python -m devkit.tools.abi_files

# One pytest process (and one anvil) per suite: each folder deploys its own
# world, and a fresh process per folder keeps one suite's chain state and
# Ape snapshots from leaking into the next. Every suite runs even if an
# earlier one failed; the target fails if any did.
SUITES := lib world market regression periphery cli property bench demo keeper/unit keeper/e2e keeper/scale

# The keeper's end-to-end tests wait on 1-second blocks most of the time,
# each on its own node and ports: two at a time (pytest-xdist) halve the
# suite's wall time on this 2-core machine. The scale tests too: each
# starts its own Redis, PostgreSQL and node on free ports.
PARALLEL_SUITES := keeper/e2e keeper/scale

test: compile
	@failed=""; for suite in $(SUITES); do \
		echo "== tests/$$suite"; \
		extra=""; case " $(PARALLEL_SUITES) " in *" $$suite "*) extra="-n 2";; esac; \
		$(BIN)/ape test tests/$$suite -p no:cacheprovider $$extra || failed="$$failed $$suite"; \
	done; \
	if [ -n "$$failed" ]; then echo "failed suites:$$failed"; exit 1; fi

# The same suite without the forced compile, for quick local iteration.
test-fast: setup
	@for suite in $(SUITES); do $(BIN)/ape test tests/$$suite -p no:cacheprovider -x -q || exit 1; done

# The property suite (tests/property, AUDIT.md): the reference model, the
# state machine and the differential tests on an in-process revm chain.
# `make test` runs it under the `ci` profile; these targets run its other
# depths. PROPERTY_PYTEST runs it without Ape (the anvil test is skipped).
PROPERTY_PYTEST := $(BIN)/python -m pytest tests/property -p no:cacheprovider -p no:ape_test -m "not ape" -s
AUDIT_MINUTES ?= 60

property: compile
	HYPOTHESIS_PROFILE=ci $(BIN)/ape test tests/property -p no:cacheprovider

audit: setup
	HYPOTHESIS_PROFILE=audit NAVLEND_AUDIT_MINUTES=$(AUDIT_MINUTES) $(PROPERTY_PYTEST)

# Only the failures an `audit` run saved in the example database
# (.hypothesis/examples; tests/property/propkit/saved.py counts them):
# with none saved it says so instead of running tests that have nothing to run.
replay: setup
	@saved=$$(PYTHONPATH=tests/property $(BIN)/python -m propkit.saved) || exit 1; \
	if [ "$$saved" = 0 ]; then echo "no saved failures in .hypothesis/examples: nothing to replay"; exit 0; fi; \
	echo "replaying $$saved saved example(s) from .hypothesis/examples"; \
	HYPOTHESIS_PROFILE=replay $(PROPERTY_PYTEST)

mutation: setup
	$(BIN)/python -m devkit.tools.mutation

bench-property: setup
	$(BIN)/python -m devkit.tools.bench_stateful

demo: compile
	$(BIN)/ape run demo

# The local world (mocks) on a local anvil; a market over real issuers'
# contracts is `ape run deploy-market --config deploy/<name>.toml` (docs/deploy.md).
deploy: compile
	$(BIN)/ape run deploy-local-world

gas: compile
	$(BIN)/ape run gas_report

# The scoreboard: figures printed, never timed tests (the machine is shared).
# Gas of the reference scenario on navlend, Morpho Blue and Aave v3 side by
# side in one run (reports/bench_gas.json, and the README's table; the
# fund-token run in reports/bench_gas_fund.json), the keeper's scan of
# 10,000 positions, then the property suite's steps per second.
KEEPER_BENCH_POSITIONS ?= 10000
# Issue 17: the keeper on 100,000 positions over three markets (devkit.bench_book:
# steady work and RPC calls per block, a 1 % NAV drop, one host then split, memory).
BOOK_BENCH_POSITIONS ?= 100000
BOOK_BENCH_FLAGS ?= --split

bench: compile
	$(BIN)/ape run bench_gas --json reports/bench_gas.json --readme README.md
	$(BIN)/ape run bench_gas --tokens fund --json reports/bench_gas_fund.json
	$(BIN)/python -m devkit.keeper_bench --positions $(KEEPER_BENCH_POSITIONS)
	$(BIN)/python -m devkit.tools.bench_stateful

bench-keeper: compile
	$(BIN)/python -m devkit.keeper_bench --positions $(KEEPER_BENCH_POSITIONS)
	$(BIN)/python -m devkit.bench_book --positions $(BOOK_BENCH_POSITIONS) $(BOOK_BENCH_FLAGS) --json reports/bench_book.json

static: setup
	$(BIN)/python -m devkit.tools.static_analysis

clean:
	rm -rf $(VENV) node_modules .build $(STAMPS) .pytest_cache .hypothesis
