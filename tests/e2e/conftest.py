"""Starts the real server process, as `make run` does, on a database of its own."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.conftest import ADMIN_URL, _admin, _with_database, unavailable
from tests.postgres_support import PrivatePostgres


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Tests drive a server from one address far faster than a client's budget allows; a test of
# the limits sets its own. (Concurrent test runs also share the Redis its counts live in.)
NO_RATE_LIMITS = {
    "DASHBOARD_RATE_LIMIT_READ_PER_MINUTE": "0",
    "DASHBOARD_RATE_LIMIT_WRITE_PER_MINUTE": "0",
    "DASHBOARD_RATE_LIMIT_INGEST_PER_MINUTE": "0",
    "DASHBOARD_WS_MAX_CONNECTIONS_PER_CLIENT": "0",
}


class Server:
    def __init__(self, env: dict[str, str], *, port: int | None = None) -> None:
        self.port = port or free_port()  # a restart passes the port of the process it replaces
        self.url = f"http://127.0.0.1:{self.port}"
        # A file, not a pipe: nobody reads the output while the server runs, and a full pipe
        # would block a server that logs a lot (a fuzzing run's warnings).
        self.output = tempfile.TemporaryFile()  # noqa: SIM115  # closed by stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dashboard_api", "run", "--port", str(self.port)],
            env={**os.environ, **NO_RATE_LIMITS, "DASHBOARD_LOG_LEVEL": "warning", **env},
            stdout=self.output,
            stderr=subprocess.STDOUT,
        )

    def read_output(self) -> str:
        self.output.seek(0)
        return self.output.read().decode(errors="replace")

    def wait_ready(self, timeout: float = 90) -> None:  # start-up takes 30 s on a loaded machine
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.read_output()
                raise RuntimeError(f"server exited early:\n{output}")
            try:
                if httpx.get(f"{self.url}/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise TimeoutError("server did not become ready")

    def stop(self) -> int:
        """SIGTERM, as an orchestrator sends; returns the exit code (-9 if it had to be killed)."""
        self.process.terminate()
        try:
            return self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()
        finally:
            self.output.close()


@pytest.fixture(scope="module")
async def e2e_database_url() -> AsyncIterator[str]:
    name = f"dashboard_e2e_{uuid.uuid4().hex[:12]}"
    try:
        await _admin(f'CREATE DATABASE "{name}"')
    except (OSError, ConnectionError) as exc:
        unavailable(f"PostgreSQL unreachable at {ADMIN_URL}: {exc}")
    yield _with_database(ADMIN_URL, name)
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def server(e2e_database_url: str) -> Iterator[Server]:
    running = Server({"DASHBOARD_DATABASE_URL": e2e_database_url})
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


# One per module: starting PostgreSQL costs more than most tests that use it.
@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of the module's own (tests/postgres_support.py), removed after."""
    server = PrivatePostgres()
    server.start()
    try:
        yield server
    finally:
        server.stop()
