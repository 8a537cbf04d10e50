# Two commands on a fresh machine with Python 3.11+ and make: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run demo test lint typecheck client-check check migrate openapi lock bench bench-realtime clean

# Installs exactly what uv.lock pins (`make lock` re-resolves after a change to pyproject.toml).
$(STAMP): pyproject.toml uv.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip 'uv>=0.9,<1'
	UV_PROJECT_ENVIRONMENT=$(VENV) UV_PYTHON_DOWNLOADS=never \
		$(BIN)/uv sync --quiet --locked --inexact --extra dev --python $(BIN)/python
	touch $(STAMP)

lock: $(STAMP)  ## re-resolve uv.lock after changing the dependencies in pyproject.toml
	$(BIN)/uv lock

run: $(STAMP)  ## migrate, then serve on 127.0.0.1:5000 (SQLite + in-process bus by default)
	$(BIN)/dashboard-api run

demo: $(STAMP)  ## serve with a simulated agent engine streaming live tasks
	$(BIN)/dashboard-api demo

migrate: $(STAMP)
	$(BIN)/dashboard-api db upgrade

openapi: $(STAMP)  ## refresh openapi.json from the served document (a test fails when they differ)
	$(BIN)/dashboard-api openapi --output openapi.json

test: $(STAMP)  ## every test tier; integration tests need PostgreSQL and Redis (see README)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# TypeScript types generated (openapi-typescript) from the document the service serves must
# compile in code that uses them as a frontend does (clients/typecheck/frontend.ts). Needs npm.
CLIENT_CHECK := clients/typecheck
$(CLIENT_CHECK)/node_modules/.installed: $(CLIENT_CHECK)/package.json $(CLIENT_CHECK)/package-lock.json
	cd $(CLIENT_CHECK) && npm ci --no-audit --no-fund --silent
	touch $@

client-check: $(STAMP) $(CLIENT_CHECK)/node_modules/.installed
	mkdir -p $(CLIENT_CHECK)/generated
	$(BIN)/dashboard-api openapi --output $(CLIENT_CHECK)/generated/openapi.json
	cd $(CLIENT_CHECK) && npm run --silent generate && npm run --silent check

check: lint typecheck client-check test

bench: $(STAMP)
	$(BIN)/python -m bench.run

bench-realtime: $(STAMP)
	$(BIN)/python -m bench.realtime_run

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache $(CLIENT_CHECK)/node_modules $(CLIENT_CHECK)/generated
