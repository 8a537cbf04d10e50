# Two commands on a fresh machine with Python 3.11+ and make: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run demo test lint typecheck client-check check migrate openapi lock bench bench-realtime clean js-types js-check

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

demo: $(STAMP)  ## 30 days of history, then a simulated engine; open http://127.0.0.1:5000/
	$(BIN)/dashboard-api demo

migrate: $(STAMP)
	$(BIN)/dashboard-api db upgrade

openapi: $(STAMP)  ## refresh openapi.json from the served document (a test fails when they differ)
	$(BIN)/dashboard-api openapi --output openapi.json

test: $(STAMP)  ## every test tier; integration tests need PostgreSQL and Redis (see README)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench packages
	$(BIN)/ruff format --check src tests bench packages
	$(BIN)/lint-imports  # the layers of docs/architecture.md (contracts in pyproject.toml)

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
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache $(CLIENT_CHECK)/node_modules $(CLIENT_CHECK)/generated
