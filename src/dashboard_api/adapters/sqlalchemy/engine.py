"""Engine creation per backend, with the settings each one needs to be safe under load."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(url: str, *, pool_size: int = 10, null_pool: bool = False) -> AsyncEngine:
    """An async engine for `url`. SQLite gets WAL and write transactions that lock up front."""
    options: dict[str, Any] = {}
    if null_pool:
        options["poolclass"] = NullPool
    elif not is_sqlite(url):
        # No pre-ping: on asyncpg it costs three round trips per checkout (BEGIN, ping, ROLLBACK),
        # which tripled the cost of a one-query read. A connection the server dropped fails
        # its request once, SQLAlchemy then invalidates the pool; recycling bounds their age.
        options.update(pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
    if is_sqlite(url):
        options["connect_args"] = {"timeout": 30}
    engine = create_async_engine(url, **options)
    if is_sqlite(url):
        _configure_sqlite(engine)
    return engine


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
