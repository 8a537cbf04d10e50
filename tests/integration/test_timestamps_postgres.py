"""Timestamps on PostgreSQL travel in their text form (adapters/sqlalchemy/engine.py,
`_text_timestamps`): read and written, they are the datetimes asyncpg's binary codec gives,
in UTC, whatever the database's own `TimeZone` and `DateStyle` are."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta, timezone

import asyncpg
import msgspec
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dashboard_api.adapters.sqlalchemy.engine import create_engine
from dashboard_api.adapters.sqlalchemy.store import unit_driver
from tests.conftest import ADMIN_URL, _admin, _with_database

pytestmark = pytest.mark.integration

VALUES = [
    datetime(2026, 11, 30, 21, 5, 6, 725770, tzinfo=UTC),
    datetime(2026, 11, 30, 21, 5, 6, tzinfo=UTC),  # no fraction: printed without one
    datetime(2026, 11, 30, 21, 5, 6, 100000, tzinfo=UTC),  # printed as .1
    datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=-3, minutes=-45, seconds=-7))),
    datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999998, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
]


@pytest.fixture
async def odd_defaults() -> AsyncIterator[str]:
    """A database whose defaults would print timestamps otherwise: New York time, SQL style
    with the day first."""
    name = f"dashboard_test_tz_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    await _admin(f"ALTER DATABASE \"{name}\" SET timezone = 'America/New_York'")
    await _admin(f"ALTER DATABASE \"{name}\" SET datestyle = 'SQL, DMY'")
    yield _with_database(ADMIN_URL, name)
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _binary(url: str) -> asyncpg.Connection:
    """A plain asyncpg connection: its own binary codec, the database's defaults."""
    connection: asyncpg.Connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    return connection


async def test_timestamps_read_and_written_as_the_binary_codec_does(odd_defaults: str) -> None:
    engine: AsyncEngine = create_engine(odd_defaults, pool_size=2)
    plain = await _binary(odd_defaults)
    try:
        assert await plain.fetchval("SHOW timezone") == "America/New_York"
        await plain.execute("CREATE TABLE moments (n int PRIMARY KEY, at timestamptz)")
        # Written by the binary codec, read through the service's engine (both ways it reads).
        await plain.executemany("INSERT INTO moments VALUES ($1, $2)", list(enumerate(VALUES)))
        async with engine.connect() as connection:
            assert (await connection.execute(text("SHOW timezone"))).scalar() == "UTC"
            rows = (await connection.execute(text("SELECT n, at FROM moments ORDER BY n"))).all()
            driver = await unit_driver(connection)
            assert driver is not None
            native = await driver.fetch("SELECT n, at FROM moments ORDER BY n")
            await connection.rollback()
        binary = await plain.fetch("SELECT n, at FROM moments ORDER BY n")
        for read in (rows, native):
            assert [at for _, at in read] == [at for _, at in binary] == VALUES
            for _, at in read:
                assert at.utcoffset() == timedelta(0)
                encoded = msgspec.json.encode(at).decode()
                assert encoded.endswith('Z"')
                assert msgspec.json.decode(encoded, type=datetime) == at

        # Written through the service's engine (text), read by the binary codec.
        await plain.execute("TRUNCATE moments")
        async with engine.begin() as connection:
            driver = await unit_driver(connection)
            assert driver is not None
            await driver.executemany("INSERT INTO moments VALUES ($1, $2)", list(enumerate(VALUES)))
        assert [row["at"] for row in await plain.fetch("SELECT at FROM moments ORDER BY n")] == (
            VALUES
        )
        # Comparisons in SQL see the same instants.
        async with engine.connect() as connection:
            driver = await unit_driver(connection)
            assert driver is not None
            later = await driver.fetchval(
                "SELECT count(*) FROM moments WHERE at > $1", datetime(2000, 1, 1, tzinfo=UTC)
            )
            await connection.rollback()
        assert later == sum(1 for value in VALUES if value > datetime(2000, 1, 1, tzinfo=UTC))
    finally:
        await plain.close()
        await engine.dispose()


async def test_infinities_and_dates_sent_as_the_binary_codec_sends_them(odd_defaults: str) -> None:
    engine: AsyncEngine = create_engine(odd_defaults, pool_size=1)
    plain = await _binary(odd_defaults)
    try:
        await plain.execute("CREATE TABLE moments (n int PRIMARY KEY, at timestamptz)")
        async with engine.begin() as connection:
            driver = await unit_driver(connection)
            assert driver is not None
            await driver.executemany(
                "INSERT INTO moments VALUES ($1, $2)",
                [
                    (0, datetime.max),
                    (1, datetime.min),
                    (2, date(2026, 5, 1)),
                    (3, None),
                    # The same instants in UTC: asyncpg's binary codec sends infinities too.
                    (4, datetime.max.replace(tzinfo=UTC)),
                    (5, datetime.min.replace(tzinfo=UTC)),
                ],
            )
        binary = await plain.fetch("SELECT n, at FROM moments ORDER BY n")
        texts = [row[0] for row in await plain.fetch("SELECT at::text FROM moments ORDER BY n")]
        assert texts[:2] == texts[4:] == ["infinity", "-infinity"]
        # A date is the process's local midnight, as asyncpg's binary codec sends it.
        assert binary[2]["at"] == datetime(2026, 5, 1).astimezone()
        async with engine.connect() as connection:
            driver = await unit_driver(connection)
            assert driver is not None
            native = await driver.fetch("SELECT n, at FROM moments WHERE n IN (2, 3) ORDER BY n")
            # The service writes no infinity: one written by hand is not a datetime here.
            with pytest.raises(ValueError, match="infinity"):
                await driver.fetch("SELECT at FROM moments WHERE n = 0")
            await connection.rollback()
        assert [tuple(row) for row in native] == [tuple(row) for row in binary][2:4]
        async with engine.connect() as connection:
            driver = await unit_driver(connection)
            assert driver is not None
            with pytest.raises(asyncpg.DataError):  # a text is not a datetime, as before
                await driver.fetch("SELECT $1::timestamptz", "2026-01-01")
    finally:
        await plain.close()
        await engine.dispose()
