"""What every SQL store shares: where its connection comes from, keyset and upsert building."""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import msgspec
from sqlalchemy import ColumnElement, Table, event, literal, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import MissingGreenlet
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
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
        pooled = _idle_connection(self._engine) or await _checkout(self._engine)
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


async def _checkout(engine: AsyncEngine) -> PoolProxiedConnection:
    """A pooled connection when none was idle. When every connection is checked out and the
    pool may open no other, wait for one to come back without a greenlet (`_PoolWaiters`);
    otherwise (the pool may still open one, or another kind of pool) the ordinary checkout."""
    pool = engine.sync_engine.pool
    if not isinstance(pool, QueuePool) or not _pool_full(pool):
        return await engine.raw_connection()
    waiters = _WAITERS.get(pool)
    if waiters is None:
        waiters = _WAITERS[pool] = _PoolWaiters(pool)
    return await waiters.checkout(engine, pool)


def _pool_full(pool: QueuePool) -> bool:
    """Every connection the pool may hold is checked out: a checkout would wait (QueuePool's
    own test in `_do_get`)."""
    limit: int = pool._max_overflow
    return limit > -1 and pool.overflow() >= limit


class _PoolWaiters:
    """Native reads waiting for a connection of a full pool, woken one per connection checked
    back in.

    The ordinary checkout of a full pool (`AsyncEngine.raw_connection`) runs in a greenlet and
    waits on the pool's queue under `asyncio.wait_for`. A greenlet maps a fresh 16 KiB frame
    stack for each checkout (`_PyThreadState_BumpFramePointerSlow`: an mmap and an munmap per
    request, seen with `strace -k`): under the benchmark's 32 connections on a pool of 8 that
    was most reads (docs/benchmarks.md, "A read by id without a greenlet"). Here a read waits
    on a future of its own, in arrival order, and takes the connection with the greenlet-free
    `pool.connect()` when woken.

    Requests waiting in the pool's own queue (the ordinary, SQLAlchemy path) go first: a
    connection checked in while one of them waits is theirs, and no read is woken for it. A
    read waits at most the pool's timeout and then fails as the ordinary checkout would
    (`sqlalchemy.exc.TimeoutError`, a 503)."""

    def __init__(self, pool: QueuePool) -> None:
        # Weak: the pool holds this object (its listener), and `_WAITERS` must not keep the
        # pool of a disposed engine alive.
        self._pool = weakref.ref(pool)
        self.waiting: deque[asyncio.Future[bool]] = deque()
        event.listen(pool, "checkin", self._checked_in)

    def _checked_in(self, *_: Any) -> None:
        # Fired just before the connection goes back into the pool's queue; a woken read runs
        # after that.
        pool = self._pool()
        if not self.waiting or pool is None or _ordinary_waiters(pool):
            return
        _wake_first(self.waiting)

    async def checkout(self, engine: AsyncEngine, pool: QueuePool) -> PoolProxiedConnection:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + pool.timeout()
        while True:
            pooled = _idle_connection(engine)
            if pooled is not None:
                return pooled
            if not _pool_full(pool) or pool.checkedin():
                # Room for a new connection, or an idle one that must reconnect first.
                return await engine.raw_connection()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise PoolTimeoutError(
                    f"QueuePool limit of size {pool.size()} overflow "
                    f"{pool.overflow()} reached, connection timed out, timeout "
                    f"{pool.timeout():.2f}",
                    code="3o7r",
                )
            waiter: asyncio.Future[bool] = loop.create_future()
            self.waiting.append(waiter)
            timer = loop.call_later(remaining, _expire, waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled() and waiter.result():
                    _wake_first(self.waiting)  # woken, then cancelled: the next read's turn
                else:
                    waiter.cancel()
                raise
            finally:
                timer.cancel()


def _wake_first(waiting: deque[asyncio.Future[bool]]) -> None:
    while waiting:
        waiter = waiting.popleft()
        if not waiter.done():
            loop = waiter.get_loop()
            try:
                own = asyncio.get_running_loop() is loop
            except RuntimeError:
                own = False
            if own:
                waiter.set_result(True)
            else:  # a connection returned from another thread (a finalizer)
                loop.call_soon_threadsafe(_wake, waiter)
            return


def _wake(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(True)


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


def _ordinary_waiters(pool: QueuePool) -> bool:
    """Whether a checkout waits in the pool's own queue (SQLAlchemy's asyncio queue: private
    attributes, read defensively; without them the reads are woken as if none waited)."""
    queue = getattr(getattr(pool, "_pool", None), "_queue", None)
    getters = getattr(queue, "_getters", None) or ()
    return any(not getter.done() for getter in getters)


_WAITERS: weakref.WeakKeyDictionary[QueuePool, _PoolWaiters] = weakref.WeakKeyDictionary()


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
