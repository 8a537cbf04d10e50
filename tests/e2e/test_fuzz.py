"""Schemathesis drives the real server from its own OpenAPI schema: whatever a client sends,
the answer is never a 5xx (SPEC: bad input is a 4xx problem and changes nothing).

Both backends: the embedded default (SQLite), where this found writers stalling each other
(tests/integration/test_sqlite_writers.py), and PostgreSQL. A fixed seed keeps it repeatable.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Server

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

SCHEMATHESIS = Path(sys.executable).parent / "st"


def _fuzz(server: Server) -> None:
    command = [str(SCHEMATHESIS), "run", f"{server.url}/schema/openapi.json"]
    command += ["--checks", "not_a_server_error", "--phases", "fuzzing,stateful"]
    command += ["--max-examples", "30", "--workers", "2", "--seed", "7"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[Server]:
    running = Server({"DASHBOARD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'fuzz.db'}"})
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def test_no_request_gets_a_server_error_on_sqlite(sqlite_server: Server) -> None:
    _fuzz(sqlite_server)


def test_no_request_gets_a_server_error_on_postgres(server: Server) -> None:
    _fuzz(server)
