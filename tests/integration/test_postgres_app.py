"""The app on the real PostgreSQL: migrations, concurrency, readiness."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from dashboard_api.adapters.sqlalchemy.engine import create_engine
from dashboard_api.adapters.sqlalchemy.tables import metadata
from dashboard_api.adapters.sqlalchemy.tasks import SqlTaskStore
from dashboard_api.http import create_app
from dashboard_api.settings import Settings

pytestmark = pytest.mark.integration


async def _schema_drift(engine: AsyncEngine) -> list[object]:
    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
        )


async def test_migrations_create_exactly_the_declared_schema_on_postgres(
    postgres_engine: AsyncEngine,
) -> None:
    assert await _schema_drift(postgres_engine) == []


async def test_migrations_create_exactly_the_declared_schema_on_sqlite(
    sqlite_engine: AsyncEngine,
) -> None:
    assert await _schema_drift(sqlite_engine) == []


async def test_concurrent_status_changes_never_both_win(
    postgres_url: str, clean_postgres: AsyncEngine
) -> None:
    app = create_app(Settings(database_url=postgres_url, db_pool_size=8))
    async with AsyncTestClient(app, base_url="http://127.0.0.1") as client:
        await client.post("/api/tasks", json={"agent_type": "coder", "task_id": "race"})
        await client.patch("/api/tasks/race", json={"status": "running"})
        finals = ["completed", "failed", "cancelled"] * 4
        responses = await asyncio.gather(
            *(client.patch("/api/tasks/race", json={"status": status}) for status in finals)
        )
        winners = {finals[i] for i, r in enumerate(responses) if r.status_code == 200}
        assert len(winners) == 1
        assert all(r.status_code in (200, 409) for r in responses)
        stored = (await client.get("/api/tasks/race")).json()
        assert stored["status"] in winners


async def test_ready_reports_an_unreachable_database(clean_postgres: AsyncEngine) -> None:
    app = create_app(Settings(database_url="postgresql+asyncpg://postgres@127.0.0.1:1/none"))
    async with AsyncTestClient(app, base_url="http://127.0.0.1") as client:
        response = await client.get("/ready")
        assert response.status_code == 503
        assert response.json()["checks"] == {"database": False, "ingestion": True}
        status = (await client.get("/api/status")).json()
        assert status["status"] == "degraded"
        assert status["tasks"] is None


async def test_an_unreachable_database_is_a_503_to_retry_not_a_500() -> None:
    app = create_app(Settings(database_url="postgresql+asyncpg://postgres@127.0.0.1:1/none"))
    async with AsyncTestClient(app, base_url="http://127.0.0.1") as client:
        for path in ("/api/tasks/some-task", "/api/tasks", "/api/analytics/summary"):
            response = await client.get(path)
            assert response.status_code == 503, (path, response.text)
            assert response.headers["retry-after"] == "2"
            assert response.headers["content-type"].startswith("application/problem+json")
            body = response.json()
            assert body["type"].endswith("/service-unavailable")
            assert body["instance"] == path


async def test_text_postgres_cannot_store_is_bad_input_not_a_500(
    postgres_url: str, clean_postgres: AsyncEngine
) -> None:
    app = create_app(Settings(database_url=postgres_url, db_pool_size=4))
    async with AsyncTestClient(app, base_url="http://127.0.0.1") as client:
        for response in (
            await client.post(
                "/api/tasks", json={"agent_type": "coder", "input_message": "a\u0000b"}
            ),
            await client.get("/api/tasks", params={"agent_type": "co\u0000der"}),
            await client.get("/api/analytics/performance", params={"agent_type": "\u0000"}),
        ):
            assert response.status_code == 422, response.text
            assert response.json()["type"].endswith("/invalid-input")
        assert (await client.get("/api/tasks")).json()["items"] == []  # nothing was stored


async def test_native_reads_reuse_idle_connections_and_reconnect_invalidated_ones(
    postgres_url: str, clean_postgres: AsyncEngine
) -> None:
    """Native reads take an idle pooled connection without a greenlet; one that must
    reconnect first (invalidated, or due for recycling) is left to the ordinary checkout."""
    engine = create_engine(postgres_url, pool_size=2)
    pool = engine.sync_engine.pool
    try:
        store = SqlTaskStore(engine)
        assert await store.get("none") is None  # the first read opens a connection
        assert pool.checkedin() == 1
        pooled = await engine.raw_connection()
        pooled.invalidate()  # back to the pool as a record that must reconnect
        pooled.close()
        assert await store.get("none") is None
        assert await store.get("none") is None
        assert pool.checkedout() == 0
        assert pool.checkedin() == 1
        # Many concurrent reads on a pool of two: some wait for a connection the ordinary way.
        assert await asyncio.gather(*(store.get("none") for _ in range(20))) == [None] * 20
        assert pool.checkedout() == 0
    finally:
        await engine.dispose()


async def test_native_reads_wait_for_a_full_pool_without_a_greenlet(
    postgres_url: str, clean_postgres: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a full pool a native read waits for a connection to come back on a future of its
    own, not in the ordinary (greenlet) checkout; reads cancelled while waiting, or after
    being woken, leave no connection idle while others wait; the pool's timeout still ends
    a wait with SQLAlchemy's TimeoutError (a 503)."""
    import sqlalchemy.exc
    from sqlalchemy.ext.asyncio import AsyncEngine as Engine

    engine = create_engine(postgres_url, pool_size=2)
    pool = engine.sync_engine.pool
    store = SqlTaskStore(engine)
    ordinary = 0
    raw_connection = Engine.raw_connection

    async def counted(self: Engine) -> object:
        nonlocal ordinary
        ordinary += 1
        return await raw_connection(self)

    try:
        await asyncio.gather(store.get("none"), store.get("none"))  # both connections open
        assert pool.checkedin() == 2
        monkeypatch.setattr(Engine, "raw_connection", counted)
        assert await asyncio.gather(*(store.get("none") for _ in range(50))) == [None] * 50
        assert ordinary == 0
        assert pool.checkedout() == 0

        # Waiting reads cancelled, some of them already woken: the others still finish.
        reads = [asyncio.ensure_future(store.get("none")) for _ in range(30)]
        await asyncio.sleep(0)
        for read in reads[2:30:3]:
            read.cancel()
        done = await asyncio.gather(*reads, return_exceptions=True)
        assert all(r is None or isinstance(r, asyncio.CancelledError) for r in done)
        assert pool.checkedout() == 0

        # Both connections held elsewhere: a read waits the pool's timeout, then fails.
        monkeypatch.setattr(pool, "_timeout", 0.2)
        held = [await raw_connection(engine), await raw_connection(engine)]
        with pytest.raises(sqlalchemy.exc.TimeoutError):
            await store.get("none")
        for pooled in held:
            pooled.close()
        assert await store.get("none") is None
    finally:
        await engine.dispose()


async def test_native_reads_let_ordinary_checkouts_waiting_first_go_first(
    postgres_url: str, clean_postgres: AsyncEngine
) -> None:
    """A connection checked in while an ordinary checkout waits in the pool's queue is the
    ordinary checkout's: native reads do not starve the SQLAlchemy path."""
    engine = create_engine(postgres_url, pool_size=1)
    store = SqlTaskStore(engine)
    try:
        assert await store.get("none") is None
        held = await engine.raw_connection()
        ordinary = asyncio.ensure_future(engine.raw_connection())
        await asyncio.sleep(0.05)  # waiting in the pool's queue
        reads = [asyncio.ensure_future(store.get("none")) for _ in range(5)]
        await asyncio.sleep(0.05)
        held.close()
        second = await asyncio.wait_for(ordinary, 5)
        assert not any(read.done() for read in reads)
        second.close()
        assert await asyncio.gather(*reads) == [None] * 5
    finally:
        await engine.dispose()
