"""Engine creation per backend, with the settings each one needs to be safe under load."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
_WRITERS: weakref.WeakKeyDictionary[Engine, asyncio.Lock] = weakref.WeakKeyDictionary()


@asynccontextmanager
async def write_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection in a write transaction; committing is the caller's. On SQLite, one at a
    time per engine: SQLite admits one writer anyway, and writers of one process queueing on
    its busy handler were seen to stall each other for the whole busy timeout (30 s) when one
    of them hit a constraint error (docs/design.md). An asyncio lock costs nothing and never
    lets two of this process's connections contend for the database lock."""
    lock = None
    if engine.dialect.name == "sqlite":
        lock = _WRITERS.get(engine.sync_engine)
        if lock is None:
            lock = _WRITERS[engine.sync_engine] = asyncio.Lock()
    if lock is not None:
        # As long as SQLite's own busy timeout: a writer that waits longer gets the same
        # "try again" answer (TimeoutError is a 503) instead of waiting forever.
        await asyncio.wait_for(lock.acquire(), SQLITE_BUSY_TIMEOUT_SECONDS)
    try:
        async with engine.connect() as connection:
            await connection.begin()
            yield connection
    finally:
        if lock is not None:
            lock.release()


def create_engine(
    url: str,
    *,
    pool_size: int = 20,
    null_pool: bool = False,
    connect_timeout: float | None = None,
    statement_timeout: float | None = None,
) -> AsyncEngine:
    """An async engine for `url`. SQLite gets WAL and write transactions that lock up front;
    PostgreSQL (asyncpg) gets the connect and statement timeouts given (None: unbounded)."""
    options: dict[str, Any] = {}
    if null_pool:
        options["poolclass"] = NullPool
    elif not is_sqlite(url):
        # A fixed pool: overflow connections are closed on return, and under steady load that
        # churn (connect, re-prepare statements) cost a third of a request. No pre-ping either:
        # it is a round trip per checkout; a connection the server dropped is invalidated on
        # its first error and replaced, and `pool_recycle` retires old ones.
        # A request waits for a pooled connection no longer than for one statement.
        wait = 10.0 if statement_timeout is None else statement_timeout
        # LIFO: the busiest few connections serve the load and the rest stay idle, as in
        # asyncpg's own pool; FIFO cycled 8 concurrent requests through all 20 backends
        # (PostgreSQL CPU per by-id read 55-70 us, 37-50 LIFO, in-process; docs/benchmarks.md).
        options.update(
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=wait,
            pool_recycle=1800,
            pool_use_lifo=True,
        )
    if is_sqlite(url):
        options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
    elif "+asyncpg" in url:
        options["connect_args"] = _asyncpg_timeouts(connect_timeout, statement_timeout)
    engine = create_async_engine(url, **options)
    if is_sqlite(url):
        _configure_sqlite(engine)
    elif "+asyncpg" in url:
        _configure_asyncpg(engine)
    return engine


def _asyncpg_timeouts(connect: float | None, statement: float | None) -> dict[str, Any]:
    """Without these a lost network hangs a request: asyncpg waits on a silent socket forever.

    The server cancels a statement after `statement` seconds (the connection stays usable:
    QueryCanceledError, a 503); the client gives up a little later (`command_timeout`) when
    the server does not answer at all, and the connection is then discarded."""
    # The text form of a timestamp, fixed whatever the server's defaults (`_text_timestamps`).
    settings = {"TimeZone": "UTC", "DateStyle": "ISO"}
    args: dict[str, Any] = {"server_settings": settings}
    if connect is not None:
        args["timeout"] = connect
    if statement is not None:
        settings["statement_timeout"] = str(int(statement * 1000))
        args["command_timeout"] = statement + CLIENT_TIMEOUT_MARGIN_SECONDS
    return args


# The server's statement timeout fires first; the client's only when the server is silent.
CLIENT_TIMEOUT_MARGIN_SECONDS = 2.0


def _configure_asyncpg(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.run_async(_text_timestamps)


async def _text_timestamps(connection: Any) -> None:
    """`timestamptz` in its text form on this connection, read by `datetime.fromisoformat`.

    asyncpg's binary decoder builds each value as `epoch + timedelta(...)`, ~1.3 us of CPU
    per timestamp here: ~100 us of a page of 51 finished tasks (three timestamps a row), the
    most of what a deep page costs above the first (docs/benchmarks.md, "Timestamps read as
    text"). The server writes the text (`TimeZone` UTC and `DateStyle` ISO are fixed per
    connection, `_asyncpg_timeouts`) for about what it costs to send the binary form, and
    `fromisoformat` parses it in C. The values are the same datetimes, in UTC.

    One trap: asyncpg reads a record (`SELECT (a, b)`, `ARRAY(SELECT (...))`) in the binary
    form, fields included, and cannot decode a timestamp field with a text codec: a statement
    read natively sends such a field as something else (rollups/store.py, `state_sql`)."""
    await connection.set_type_codec(
        "timestamptz",
        schema="pg_catalog",
        encoder=_timestamp_text,
        # Called as it is, no Python function around it: a frame per value cost ~0.1 us, 15 of
        # a deep page's 150 timestamps' saving (callgrind). The service writes no infinity;
        # a value written by hand as one is not a datetime and fails its read (ValueError),
        # where the binary codec gave a naive datetime.max that no aware time compares with.
        decoder=datetime.fromisoformat,
        format="text",
    )


def _timestamp_text(value: Any) -> str:
    """A parameter as asyncpg's binary codec sends it: a date is local midnight, a naive
    datetime local time, and the first and last instants Python has (datetime.min and .max,
    naive, or the same instants in UTC) are PostgreSQL's infinities."""
    if not isinstance(value, datetime):
        if not isinstance(value, date):
            raise TypeError(
                "expected a datetime.date or datetime.datetime instance, "
                f"got {type(value).__name__!r}"
            )
        value = datetime(value.year, value.month, value.day).astimezone()
    if value == datetime.max:
        return "infinity"
    if value == datetime.min:
        return "-infinity"
    utc: datetime = value.astimezone(UTC)
    if utc == _LAST:
        return "infinity"
    if utc == _FIRST:
        return "-infinity"
    return utc.isoformat()


_LAST = datetime.max.replace(tzinfo=UTC)
_FIRST = datetime.min.replace(tzinfo=UTC)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (the driver's implicit BEGIN is DEFERRED).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A unit of work reads then writes; a DEFERRED transaction could not upgrade its lock
        # once another writer committed (SQLITE_BUSY_SNAPSHOT), so writers take it up front.
        # Autocommit reads issue no BEGIN at all and never wait for a writer (WAL).
        if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def autocommit(engine: AsyncEngine) -> AsyncEngine:
    """A view of `engine` (same pool) whose connections run single reads without BEGIN/COMMIT."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")
