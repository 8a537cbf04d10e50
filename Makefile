# Two commands on a fresh machine with Python 3.11+ and make: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run demo test lint typecheck check migrate openapi lock bench bench-realtime clean

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

check: lint typecheck test

bench: $(STAMP)
	$(BIN)/python -m bench.run

bench-realtime: $(STAMP)
	$(BIN)/python -m bench.realtime_run

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
