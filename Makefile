# griddiag's commands (see the README). Each target sets up what it needs first.
#   make demo   sample utility into the embedded store, inspection; last line: the report's path
#   make test   Python env + PostgreSQL/TimescaleDB, then the whole test suite
#   make db     install/start PostgreSQL with TimescaleDB; last line: the DSN (as root, see
#               scripts/db.sh for the non-root path)
#   make bench  benchmarks/run_all.py against both stores, writing benchmarks/RESULTS.md
#   make setup  only the virtual environment (.venv) with griddiag and the test tools
#
# GRIDDIAG_TEST_DSN set in the environment: test and bench use that server and skip scripts/db.sh.
# PYTEST_ARGS passes options to pytest, e.g. make test PYTEST_ARGS='-k parquet -x'.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PYTHON := $(VENV)/bin/python
PYTEST_ARGS ?=

# The DSN of the test server: the caller's, else the one scripts/db.sh prints on its last line.
# (A shell fragment: a failing db.sh fails the recipe through pipefail.)
GET_DSN = dsn="$${GRIDDIAG_TEST_DSN:-}"; \
	if [[ -z $$dsn ]]; then dsn=$$(bash scripts/db.sh | tail -n 1); fi; \
	export GRIDDIAG_TEST_DSN="$$dsn"

.PHONY: help setup db test demo bench

help:
	@sed -n 's/^#   //p' Makefile

setup:
	@bash scripts/setup.sh

db:
	@bash scripts/db.sh

# make test provisions the database itself, so the TimescaleDB tests are required, never skipped
# (GRIDDIAG_REQUIRE_DB=1); in CI (CI=true) that cannot be turned off. pytest's own exit code is
# the result: 5 (no tests collected) is a failure too.
# Headless Chromium for the report's browser test comes from scripts/chromium.sh (apt, as root);
# GRIDDIAG_REQUIRE_BROWSER=1 makes that test fail, not skip, when Chromium is still missing.
# The dask extra too, so the Dask executor's tests run (GRIDDIAG_REQUIRE_DASK=1: fail, not skip).
test:
	@GRIDDIAG_EXTRAS=dask bash scripts/setup.sh
	@bash scripts/chromium.sh; \
	$(GET_DSN); \
	export GRIDDIAG_REQUIRE_DASK=1; \
	if [[ $${CI:-} == true ]]; then export GRIDDIAG_REQUIRE_DB=1 GRIDDIAG_REQUIRE_BROWSER=1; \
	else export GRIDDIAG_REQUIRE_DB=$${GRIDDIAG_REQUIRE_DB:-1} \
		GRIDDIAG_REQUIRE_BROWSER=$${GRIDDIAG_REQUIRE_BROWSER:-1}; fi; \
	echo "make test: GRIDDIAG_TEST_DSN=$$GRIDDIAG_TEST_DSN" >&2; \
	exec $(PYTHON) -m pytest $(PYTEST_ARGS)

demo: setup
	@exec $(VENV)/bin/griddiag demo

# the peers the benchmarks compare against (pandas, ADTK, STUMPY) are the `bench` extra
bench:
	@GRIDDIAG_EXTRAS=bench bash scripts/setup.sh
	@$(GET_DSN); \
	exec $(PYTHON) benchmarks/run_all.py
