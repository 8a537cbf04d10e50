# Two commands on a fresh machine with Python 3.11+ and make: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run demo test lint typecheck check migrate bench bench-realtime clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)  ## migrate, then serve on 127.0.0.1:5000 (SQLite + in-process bus by default)
	$(BIN)/dashboard-api run

demo: $(STAMP)  ## serve with a simulated agent engine streaming live tasks
	$(BIN)/dashboard-api demo

migrate: $(STAMP)
	$(BIN)/dashboard-api db upgrade

test: $(STAMP)  ## every test tier; integration tests need PostgreSQL and Redis (see README)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench packages
	$(BIN)/ruff format --check src tests bench packages

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

bench: $(STAMP)
	$(BIN)/python -m bench.run

bench-realtime: $(STAMP)
	$(BIN)/python -m bench.realtime_run

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
