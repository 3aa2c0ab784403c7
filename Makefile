# The quote service's everyday commands. Each one first runs scripts/setup.sh, which installs
# whatever is missing (system packages, PostgreSQL, .venv, migrations) and takes seconds otherwise.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: help setup demo test lint bench

help: ## list the commands
	@echo "usage: make <command>"
	@awk 'BEGIN { FS = ":.*## " } /^[a-z]+:.*## / { printf "  %-7s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
	@echo "variables: PYTEST_ARGS (make test), BENCH and BENCH_ARGS (make bench), DATABASE_URL"

setup: ## install what is missing: system packages, PostgreSQL, .venv, migrations
	@scripts/setup.sh

demo: ## set up, then submit a sample quotation and follow it to its PDF and email
	@scripts/setup.sh
	$(VENV)/bin/quote-service demo

test: ## set up (with what the tests run: Chromium, PostgreSQL server, iproute2), then run the whole suite; e.g. PYTEST_ARGS="-x -k money"
	@scripts/setup.sh --for-tests
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: ## check the code with ruff
	@scripts/setup.sh
	$(VENV)/bin/ruff check .

BENCH ?= convert

bench: ## run a benchmark, BENCH=convert|pipeline|soak|scale|api|statement|servers (docs/benchmarks.md); BENCH_ARGS for its options
	@scripts/setup.sh
	$(VENV)/bin/python bench/$(BENCH) $(BENCH_ARGS)
