# Two commands on a fresh machine with Python 3.11+ and make: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run demo test lint typecheck check migrate bench bench-realtime clean js-types js-check

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)  ## migrate, then serve on 127.0.0.1:5000 (SQLite + in-process bus by default)
	$(BIN)/dashboard-api run

demo: $(STAMP)  ## 30 days of history, then a simulated engine; open http://127.0.0.1:5000/
	$(BIN)/dashboard-api demo

migrate: $(STAMP)
	$(BIN)/dashboard-api db upgrade

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

# The JavaScript client (clients/js). Only for developing it and for CI: `make run` needs no Node.
JS := clients/js
JS_STAMP := $(JS)/node_modules/.installed

$(JS_STAMP): $(JS)/package.json $(JS)/package-lock.json
	cd $(JS) && npm ci --no-audit --no-fund --loglevel=error
	touch $(JS_STAMP)

js-types: $(STAMP) $(JS_STAMP)  ## regenerate the client's REST types from the app's OpenAPI document
	cd $(JS) && PYTHON=$(abspath $(BIN)/python) npm run --silent types

js-check: js-types  ## types current, console copy identical, tsc, npm pack, node tests (real server)
	@git diff --quiet -- $(JS)/src/api-types.d.ts || { git --no-pager diff --stat -- $(JS)/src/api-types.d.ts; \
	  echo "clients/js/src/api-types.d.ts is out of date with the OpenAPI document: run make js-types and commit it"; exit 1; }
	@cmp $(JS)/src/dashboard-client.js src/dashboard_api/http/console/static/dashboard-client.js || { \
	  echo "the console's copy of the client differs: cp $(JS)/src/dashboard-client.js src/dashboard_api/http/console/static/"; exit 1; }
	cd $(JS) && npm run --silent check && npm pack --dry-run --silent >/dev/null
	cd $(JS) && PYTHON=$(abspath $(BIN)/python) npm test

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
