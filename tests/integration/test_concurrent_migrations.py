"""Replicas started together on a fresh PostgreSQL database all migrate it, one at a time."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from dashboard_api.adapters.sqlalchemy.engine import create_engine
from tests.conftest import ADMIN_URL, _admin, _with_database, unavailable

pytestmark = pytest.mark.integration
REPLICAS = 4


@pytest.fixture
async def fresh_database() -> AsyncIterator[str]:
    name = f"dashboard_migrate_{uuid.uuid4().hex[:12]}"
    try:
        await _admin(f'CREATE DATABASE "{name}"')
    except (OSError, ConnectionError) as exc:
        unavailable(f"PostgreSQL unreachable at {ADMIN_URL}: {exc}")
    yield _with_database(ADMIN_URL, name)
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _waiting_on_locks(connection: AsyncConnection) -> int:
    count = await connection.scalar(
        text(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
    )
    await connection.rollback()  # statistics are a snapshot per transaction
    return int(count or 0)


async def test_four_replicas_migrating_at_once_all_succeed(fresh_database: str) -> None:
    engine = create_engine(fresh_database, null_pool=True)
    env = {**os.environ, "DASHBOARD_DATABASE_URL": fresh_database, "DASHBOARD_LOG_LEVEL": "warning"}
    command = [sys.executable, "-m", "dashboard_api", "db", "upgrade"]
    try:
        async with engine.connect() as gate, engine.connect() as watcher:
            # Line the replicas up: while this uncommitted version table exists, each one that
            # gets as far as creating its own waits, so they all start the race together.
            await gate.execute(text("CREATE TABLE alembic_version (version_num varchar(32))"))
            replicas = [
                await asyncio.create_subprocess_exec(
                    *command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
                )
                for _ in range(REPLICAS)
            ]
            for _ in range(600):
                if await _waiting_on_locks(watcher) >= REPLICAS:
                    break
                await asyncio.sleep(0.1)
            await gate.rollback()
        outputs = [
            (await asyncio.wait_for(replica.communicate(), 120))[0].decode(errors="replace")
            for replica in replicas
        ]
        codes = [replica.returncode for replica in replicas]
        assert codes == [0] * REPLICAS, "\n".join(outputs)

        async with engine.connect() as connection:
            versions = (await connection.execute(text("SELECT * FROM alembic_version"))).all()
            tasks = await connection.scalar(text("SELECT count(*) FROM tasks"))
    finally:
        await engine.dispose()
    assert len(versions) == 1
    assert tasks == 0
