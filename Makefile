# Caseflow — two commands on a fresh machine:
#   make run    install everything, create the SQLite database, deploy, demo users, serve + worker
#   make test   install what the tests need and run the whole suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 5000
PROCESSES ?= 2

.PHONY: run test install db deploy layout lint format clean bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)
	bash scripts/install-frontend.sh

db: install
	$(BIN)/caseflow init-db
	$(BIN)/caseflow deploy processes/ forms/ notifications/ --as setup
	$(BIN)/caseflow users demo
	$(BIN)/caseflow demo-data

layout: install
	$(BIN)/python -m engine.definitions.layout processes/*.bpmn

deploy: install
	$(BIN)/caseflow deploy processes/ forms/ notifications/

run: db
	$(BIN)/caseflow serve --host $(HOST) --port $(PORT) --processes $(PROCESSES)

test: install
	bash scripts/ensure-test-deps.sh
	$(BIN)/python -m pytest
	CASEFLOW_TEST_DB=postgres $(BIN)/python -m pytest

# Benchmarks (benchmarks/README.md): a table of goals, benchmarks/results.json; about 5 minutes.
bench: install
	bash scripts/ensure-test-deps.sh
	$(BIN)/python -m benchmarks

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache webui/node_modules webui/static/vendor
