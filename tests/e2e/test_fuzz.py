"""Schemathesis drives the real server from its own OpenAPI document with every check on:
no 5xx, every answer (status, content type, headers, body) as documented, what the document
forbids refused, `Allow` right, auth enforced as declared. Both backends: the embedded default
(SQLite), where this found writers stalling each other (tests/integration/test_sqlite_writers.py),
and PostgreSQL. The server has a token, as in production; a fixed seed keeps runs repeatable.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Server

# About a minute per backend on a quiet machine; the coverage phase alone sends ~1,500 requests.
pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.timeout(420)]

SCHEMATHESIS = Path(sys.executable).parent / "st"
CONFIG = Path(__file__).with_name("schemathesis.toml")
SECRET = "fuzz-token-0123456789abcdef"
TOKENS = {"DASHBOARD_API_TOKENS": f"fuzz:read+write+ingest:{SECRET}"}


def _fuzz(server: Server, workdir: Path) -> None:
    command = [str(SCHEMATHESIS), "--config-file", str(CONFIG), "run"]
    command += [f"{server.url}/schema/openapi.json", "-H", f"Authorization: Bearer {SECRET}"]
    command += ["--checks", "all", "--phases", "examples,coverage,fuzzing,stateful"]
    # One worker: with several, hypothesis parses lambdas from threads, which CPython 3.11.7
    # can fail ("AST constructor recursion depth mismatch", a schemathesis runtime error).
    command += ["--max-examples", "10", "--workers", "1", "--seed", "7"]
    # Run from a scratch directory: schemathesis keeps a cache (.schemathesis/) in its cwd.
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=400, check=False, cwd=workdir
    )
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[Server]:
    database = f"sqlite+aiosqlite:///{tmp_path / 'fuzz.db'}"
    running = Server({"DASHBOARD_DATABASE_URL": database, **TOKENS})
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


@pytest.fixture
def postgres_server(e2e_database_url: str) -> Iterator[Server]:
    running = Server({"DASHBOARD_DATABASE_URL": e2e_database_url, **TOKENS})
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def test_the_server_keeps_its_documented_contract_on_sqlite(
    sqlite_server: Server, tmp_path: Path
) -> None:
    _fuzz(sqlite_server, tmp_path)


def test_the_server_keeps_its_documented_contract_on_postgres(
    postgres_server: Server, tmp_path: Path
) -> None:
    _fuzz(postgres_server, tmp_path)
