# The command index: every command a person needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STACK := deploy/local/stack
# Runs a command against ACCESSFLOW_* when set, else against the local stack (started if needed).
WITH_STACK := $(STACK) exec --
PYTEST_ARGS ?=
DEMO ?= 1

.PHONY: help install run test test-unit lint typecheck format tools stack-up stack-down stack-status diagram schemas bench clean

help: ## List the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U 'pip>=25.1'   # 25.1 is the first pip that installs dependency groups
	$(BIN)/pip install -q -e . --group dev
	touch $@

install: $(BIN)/.installed ## Create the virtualenv and install accessflow with its dev tools

# A development secret for the API's bearer tokens; `make run` prints a token signed with it.
DEV_SECRET ?= accessflow-development-secret-not-for-production

run: install ## Bring the stack up, migrate, and run the worker and the API in the foreground
	ACCESSFLOW_DEMO=$(DEMO) ACCESSFLOW_AUTH_HS256_SECRET=$${ACCESSFLOW_AUTH_HS256_SECRET:-$(DEV_SECRET)} \
		$(WITH_STACK) $(BIN)/python -m accessflow.entrypoints.run

test: install lint typecheck tools ## Lint, type-check and run every test (unit, integration, e2e, deploy) on the real stack
	$(WITH_STACK) $(BIN)/pytest $(PYTEST_ARGS)

# Minutes on a fresh machine (Helm and promtool build from source); then a cache hit.
tools: install ## Build Helm, kubeconform, promtool and the Kubernetes schemas (pinned; cached under ~/.cache/accessflow/tools)
	PYTHON=$(BIN)/python deploy/tools/install

test-unit: install ## Every test that needs no Kafka, PostgreSQL or deploy tools (markers say which)
	$(BIN)/pytest -m "not integration and not e2e and not deploy" $(PYTEST_ARGS)

lint: install ## ruff check and ruff format --check
	$(BIN)/ruff check src tests deploy
	$(BIN)/ruff format --check src tests deploy

format: install ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix src tests deploy
	$(BIN)/ruff format src tests deploy

typecheck: install ## mypy --strict on src/
	$(BIN)/mypy

diagram: install ## Regenerate the state diagrams in README.md and docs/ from the transition tables
	$(BIN)/python -m accessflow.domain.diagram README.md docs/domain.md docs/lifecycle.md

bench: install ## Benchmark the worker against a naive worker and a raw pipe (writes bench-results.json)
	$(WITH_STACK) $(BIN)/accessflow-bench --json bench-results.json

schemas: install ## Regenerate docs/schemas/ (the wire contract's JSON Schemas) from the models
	$(BIN)/accessflow schemas docs/schemas

stack-up: install ## Start the local Kafka and PostgreSQL (idempotent)
	$(STACK) up

stack-down: ## Stop the local stack (data kept; `deploy/local/stack down --wipe` deletes it)
	$(STACK) down

stack-status: ## Is the local stack running?
	$(STACK) status

clean: ## Remove the virtualenv and caches (not the stack's data)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
