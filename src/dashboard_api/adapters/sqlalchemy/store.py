"""What every SQL store shares: where its connection comes from, keyset and upsert building."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import msgspec
from sqlalchemy import ColumnElement, Table, literal, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import MissingGreenlet
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection, QueuePool

from dashboard_api.adapters.sqlalchemy.engine import autocommit


class SqlStore:
    """Bound to one connection inside a unit of work, or to an engine for standalone reads."""

    def __init__(self, source: AsyncEngine | AsyncConnection) -> None:
        self._engine = source if isinstance(source, AsyncEngine) else None
        self._source = autocommit(source) if isinstance(source, AsyncEngine) else source

    async def _unit_asyncpg(self) -> asyncpg.Connection | None:
        """The unit of work's asyncpg connection, its transaction begun (`unit_driver`), or
        None outside a unit or on another backend."""
        if self._engine is not None or not isinstance(self._source, AsyncConnection):
            return None
        return await unit_driver(self._source)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection]:
        if isinstance(self._source, AsyncConnection):
            yield self._source
        else:
            async with self._source.connect() as connection:
                yield connection

    async def _fetch_fast(self, sql: str, *args: Any) -> list[Any] | None:
        """Run one read straight on asyncpg (same pool, same transaction), or return None when
        the backend is another one. For the hottest list reads: SQLAlchemy's statement building
        and per-row processing cost three times the query (docs/benchmarks-conversations.md)."""
        rows: list[Any]
        if self._engine is None:
            connection = self._source
            assert isinstance(connection, AsyncConnection)
            if connection.dialect.driver != "asyncpg":
                return None
            driver = await unit_driver(connection)
            if driver is None:
                return None
            rows = await driver.fetch(sql, *args)
            return rows
        if self._engine.dialect.driver != "asyncpg":
            return None
        # Outside a unit of work: the pool's bare DBAPI connection, no `Connection` around it.
        # Checking out a SQLAlchemy Connection (events, autocommit characteristics, reset)
        # cost ~75 us more CPU per read than this bare checkout (docs/benchmarks.md). A single
        # statement on asyncpg outside a transaction commits on its own.
        pooled = _idle_connection(self._engine) or await self._engine.raw_connection()
        try:
            driver = pooled.driver_connection
            try:
                rows = await driver.fetch(sql, *args)  # type: ignore[union-attr]
            except BaseException as exc:
                # Only a statement the server refused leaves the connection usable; one lost,
                # or cancelled mid-query (the protocol may still be busy), is never reused.
                refused = isinstance(exc, asyncpg.PostgresError) and not isinstance(
                    exc, asyncpg.PostgresConnectionError
                )
                if not refused or driver.is_closed():  # type: ignore[union-attr]
                    pooled.invalidate()
                raise
        finally:
            pooled.close()
        return rows


def json_rows(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows as one JSON parameter, for `json_populate_recordset(NULL::table, $1::json)`: one
    msgspec call, where a statement of one array per column made asyncpg check every element
    against collections.abc, and SQLAlchemy's executemany processed every bound value (an
    ingest batch's rows, docs/benchmarks-realtime.md, "Durable ingestion")."""
    return _encode_json(rows).decode()


_encode_json = msgspec.json.Encoder().encode


def insert_json_sql(table: Table, *, skip: Sequence[str] = ()) -> str:
    """`INSERT INTO table (columns) SELECT columns FROM json_populate_recordset(...)`: the
    columns by name (those in `skip` are left to their defaults)."""
    columns = ", ".join(f'"{column.name}"' for column in table.columns if column.name not in skip)
    return (
        f"INSERT INTO {table.name} ({columns}) SELECT {columns}"
        f" FROM json_populate_recordset(NULL::{table.name}, $1::json)"
    )


async def unit_driver(connection: AsyncConnection) -> asyncpg.Connection | None:
    """The asyncpg connection under a unit of work's SQLAlchemy connection, its transaction
    begun, or None on another backend. SQLAlchemy's asyncpg adapter sends BEGIN only before
    the first statement it runs itself: a statement sent straight to asyncpg first would run
    outside the unit's transaction (committed on its own, its FOR UPDATE locks released at
    once). So the transaction is started here as the adapter's cursor starts it (its private
    `_started` / `_start_transaction`, SQLAlchemy 2.0; tests/contract cover the rollback)."""
    if connection.dialect.driver != "asyncpg":
        return None
    adapted: Any = (await connection.get_raw_connection()).dbapi_connection
    if not adapted._started:
        async with adapted._execute_mutex:
            if not adapted._started:
                await adapted._start_transaction()
    driver: asyncpg.Connection = adapted.driver_connection
    return driver


def _idle_connection(engine: AsyncEngine) -> PoolProxiedConnection | None:
    """An idle pooled connection taken without a greenlet, or None (then the caller waits for
    one the ordinary way). `AsyncEngine.raw_connection` runs the checkout in a greenlet in case
    it must wait or connect: 14.7 us of CPU against 4.0 us for the same checkout called
    directly when a connection is idle (docs/benchmarks.md). A checkout that would still have
    to await (the idle connection was invalidated or is due for recycling, so it reconnects)
    raises MissingGreenlet before any I/O; the pool then takes that entry back as invalidated,
    and the caller takes the ordinary path."""
    pool = engine.sync_engine.pool
    if not isinstance(pool, QueuePool) or not pool.checkedin():
        return None
    try:
        return pool.connect()
    except MissingGreenlet:
        return None


def row_after(columns: tuple[Any, ...], values: tuple[Any, ...], *, descending: bool) -> Any:
    """The keyset condition: rows strictly past `values` in the order of `columns`."""
    position = tuple_(*columns)
    bound = tuple_(
        *(literal(value, column.type) for column, value in zip(columns, values, strict=True))
    )
    return position < bound if descending else position > bound


def upsert(connection: AsyncConnection, table: Table) -> Any:
    """INSERT ... ON CONFLICT for the connection's backend (PostgreSQL and SQLite both have it)."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def greatest(current: ColumnElement[Any], new: ColumnElement[Any]) -> Any:
    """The later of two nullable times, on every backend."""
    from sqlalchemy import case

    return case((current.is_(None), new), (new > current, new), else_=current)
