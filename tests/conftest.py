"""Shared fixtures: throwaway databases on the real PostgreSQL, SQLite files, memory adapters.

Integration tests talk to the PostgreSQL and Redis named by DASHBOARD_TEST_DATABASE_URL and
DASHBOARD_TEST_REDIS_URL (defaults: the local servers). When they are unreachable the tests
skip, unless DASHBOARD_REQUIRE_SERVICES=1 (CI), where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dashboard_api.adapters.sqlalchemy.engine import create_engine
from dashboard_api.adapters.sqlalchemy.migrate import upgrade

if TYPE_CHECKING:
    from tests.redis_support import PrivateRedis

ADMIN_URL = os.environ.get(
    "DASHBOARD_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("DASHBOARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_SERVICES = os.environ.get("DASHBOARD_REQUIRE_SERVICES") == "1"


def unavailable(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (DASHBOARD_REQUIRE_SERVICES=1: integration tests are required)")
    pytest.skip(reason)


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


async def _admin(statement: str) -> None:
    engine = create_engine(ADMIN_URL, null_pool=True)
    try:
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
async def postgres_url() -> AsyncIterator[str]:
    """A migrated database of its own on the real PostgreSQL, dropped after the session."""
    name = f"dashboard_test_{uuid.uuid4().hex[:12]}"
    try:
        await _admin(f'CREATE DATABASE "{name}"')
    except (OSError, ConnectionError) as exc:
        unavailable(f"PostgreSQL unreachable at {ADMIN_URL}: {exc}")
    url = _with_database(ADMIN_URL, name)
    upgrade(url)
    yield url
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
async def postgres_engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(postgres_url, pool_size=5)
    yield engine
    await engine.dispose()


TABLES = (
    "tasks",
    "rollups_hourly",
    "rollups_daily",
    "rollup_totals_hourly",
    "rollup_totals_daily",
    "rollup_totals_blocks",
    "rollup_deltas",
    "rollup_day_changes",
    "processed_events",
    "messages",
    "conversations",
    "handoff_outbox",
    "webhook_events",
    "webhook_rollups",
    "webhook_configs",
    "data_sources",
    "oauth_installations",
    "alerts",
    "alert_deliveries",
    "spend_hourly",
    "conversation_flows",
    "task_origins",
)


@pytest.fixture
async def clean_postgres(postgres_engine: AsyncEngine) -> AsyncEngine:
    async with postgres_engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {', '.join(TABLES)}"))
    return postgres_engine


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'dashboard.db'}"
    upgrade(url)
    return url


@pytest.fixture
async def sqlite_engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(sqlite_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def anyio_backend() -> Iterator[str]:
    return "asyncio"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With DASHBOARD_REQUIRE_SERVICES=1 (CI), any skipped test fails the run."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if REQUIRE_SERVICES and skipped and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A redis-server of the test's own on a free port, stopped afterwards."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    from tests.redis_support import PrivateRedis

    server = PrivateRedis(port)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# Budgets off, for tests that drive one app far faster than a client's budget allows (property
# tests, fuzzing); tests of the limits set their own.
UNLIMITED: dict[str, int] = {
    "rate_limit_read_per_minute": 0,
    "rate_limit_write_per_minute": 0,
    "rate_limit_ingest_per_minute": 0,
}
