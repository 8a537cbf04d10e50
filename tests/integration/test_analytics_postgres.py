"""Analytics on the real PostgreSQL under concurrent writers, and the rebuild command."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from dashboard_api.adapters.sqlalchemy.engine import create_engine
from dashboard_api.adapters.sqlalchemy.rollups.compactor import RollupCompactor, compact
from dashboard_api.adapters.sqlalchemy.rollups.store import SqlRollupStore
from dashboard_api.adapters.sqlalchemy.tables import rollup_deltas, rollups_hourly
from dashboard_api.adapters.sqlalchemy.tasks import SqlTaskStore
from dashboard_api.adapters.sqlalchemy.unit_of_work import SqlUnitOfWork
from dashboard_api.cli import main
from dashboard_api.domain.model.tasks import NewTask, TaskPatch, TaskStatus
from dashboard_api.domain.services.analytics import AnalyticsService
from dashboard_api.domain.services.tasks import TaskService
from dashboard_api.http import create_app
from dashboard_api.settings import Settings
from tests import naive_analytics as naive
from tests.unit.fakes import RecordingBus

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def _service(engine: AsyncEngine) -> TaskService:
    return TaskService(
        unit_of_work=lambda: SqlUnitOfWork(engine),
        reads=SqlTaskStore(engine),
        bus=RecordingBus(),
        clock=lambda: NOW,
    )


async def _write(service: TaskService, writer: int) -> list[str]:
    ids = []
    for n in range(15):
        created = NOW - timedelta(minutes=writer * 7 + n)
        task = await service.register(
            NewTask(agent_type=f"agent-{writer % 3}", model="m", created_at=created)
        )
        ids.append(task.task_id)
        status = TaskStatus.FAILED if n % 4 == 0 else TaskStatus.COMPLETED
        await service.update(
            task.task_id,
            TaskPatch(status=status, cost_usd=Decimal(n) / 1000, input_tokens=n, output_tokens=1),
        )
        if n % 5 == 0:  # a later correction of the figures
            await service.update(task.task_id, TaskPatch(cost_usd=Decimal("0.5")))
    return ids


@pytest.mark.integration
async def test_concurrent_writers_and_a_compactor_count_every_task_once(
    clean_postgres: AsyncEngine,
) -> None:
    service = _service(clean_postgres)
    compactor = RollupCompactor(clean_postgres, interval=0.01)
    compactor.start()
    try:
        written = await asyncio.gather(*(_write(service, writer) for writer in range(8)))
    finally:
        await compactor.stop()
    reads = SqlTaskStore(clean_postgres)
    tasks = [task for ids in written for task_id in ids if (task := await reads.get(task_id))]
    analytics = AnalyticsService(
        rollups=SqlRollupStore(clean_postgres), tasks=reads, clock=lambda: NOW
    )
    assert await analytics.summary(None, None) == naive.summary(tasks, None, None, None, NOW)
    await compactor.run_once()
    async with clean_postgres.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(rollup_deltas)) == 0
        # Rows of statuses every task has left (queued) are gone, not kept at zero.
        statuses = (await connection.execute(select(rollups_hourly.c.status))).scalars().all()
    assert set(statuses) == {"completed", "failed"}
    assert await analytics.summary(None, None) == naive.summary(tasks, None, None, None, NOW)


@pytest.mark.integration
async def test_the_rebuild_command_recomputes_rollups_from_tasks(
    clean_postgres: AsyncEngine,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    written = await _write(_service(clean_postgres), 1)
    async with clean_postgres.begin() as connection:
        await connection.execute(rollups_hourly.delete())  # rollups lost or never built
        await connection.execute(rollup_deltas.delete())
    monkeypatch.setenv("DASHBOARD_DATABASE_URL", postgres_url)
    assert await asyncio.to_thread(main, ["analytics", "rebuild"]) == 0
    assert f"rebuilt from {len(written)} tasks" in capsys.readouterr().out
    reads = SqlTaskStore(clean_postgres)
    tasks = [task for task_id in written if (task := await reads.get(task_id))]
    analytics = AnalyticsService(
        rollups=SqlRollupStore(clean_postgres), tasks=reads, clock=lambda: NOW
    )
    assert await analytics.summary(NOW - timedelta(days=1), NOW) == naive.summary(
        tasks, NOW - timedelta(days=1), NOW, None, NOW
    )


async def test_the_rebuild_command_works_on_sqlite(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(sqlite_url)
    try:
        written = await _write(_service(engine), 2)
        monkeypatch.setenv("DASHBOARD_DATABASE_URL", sqlite_url)
        assert await asyncio.to_thread(main, ["analytics", "rebuild"]) == 0
        tasks = [task for task_id in written if (task := await SqlTaskStore(engine).get(task_id))]
        analytics = AnalyticsService(
            rollups=SqlRollupStore(engine), tasks=SqlTaskStore(engine), clock=lambda: NOW
        )
        assert await analytics.summary(None, None) == naive.summary(tasks, None, None, None, NOW)
    finally:
        await engine.dispose()


@pytest.mark.integration
async def test_two_app_instances_see_each_others_writes_in_their_cached_answers(
    postgres_url: str, clean_postgres: AsyncEngine
) -> None:
    """Two processes on one database: what one writes, today or into a past day, the other's
    next answer shows, before and after either compacts (each keeps its own answer cache)."""
    settings = Settings(database_url=postgres_url, db_pool_size=4, rollup_compact_seconds=0.05)
    now = datetime.now(UTC)
    late = (now - timedelta(days=3)).isoformat()
    paths = (
        "/api/analytics/summary",
        "/api/analytics/costs/histogram?granularity=day&days=30",
        "/api/analytics/performance?days=30&group_by=model",
    )
    async with (
        AsyncTestClient(create_app(settings), base_url="http://127.0.0.1") as one,
        AsyncTestClient(create_app(settings), base_url="http://127.0.0.1") as two,
    ):

        async def answers(client: AsyncTestClient) -> list[object]:  # type: ignore[type-arg]
            return [(await client.get(path)).json() for path in paths]

        async def write(client: AsyncTestClient, **fields: object) -> None:  # type: ignore[type-arg]
            created = await client.post("/api/tasks", json={"agent_type": "coder", **fields})
            task_id = created.json()["task_id"]
            done = {"status": "completed", "cost_usd": 0.5, "model": "m"}
            assert (await client.patch(f"/api/tasks/{task_id}", json=done)).status_code == 200

        await write(one)
        await write(one, created_at=late)
        seen = [await answers(one), await answers(two)]
        assert seen[0] == seen[1]
        assert seen[0][0]["total_tasks"] == 2
        for writer, reader, fields in (
            (two, one, {}),  # today
            (one, two, {"created_at": late}),  # a late event, three days back
            (two, one, {"created_at": late}),
        ):
            await write(writer, **fields)
            total = seen[0][0]["total_tasks"] + 1
            seen = [await answers(reader), await answers(writer)]
            assert seen[0] == seen[1]
            assert seen[0][0]["total_tasks"] == total
            # Compacted (whichever compactor gets there first, the apps' own run every 50 ms
            # beside): the answers stand as they were. Compacting here rather than sleeping
            # for the apps' compactors makes sure a compaction did happen in between.
            await RollupCompactor(clean_postgres, interval=3600).run_once()
            async with clean_postgres.connect() as connection:
                assert await connection.scalar(select(func.count()).select_from(rollup_deltas)) == 0
            assert [await answers(reader), await answers(writer)] == seen
        histogram = seen[0][1]["buckets"]
        assert [bucket["tasks"] for bucket in histogram[-4:]] == [3, 0, 0, 2]


@pytest.mark.integration
async def test_a_compaction_by_the_previous_release_never_leaves_a_cached_answer_stale(
    clean_postgres: AsyncEngine,
) -> None:
    """During a rolling upgrade a compactor of the previous release folds deltas without
    counting them: the pending count drops and a later write could bring it back to a value
    an answer was cached under. Its generation bump moves the epoch of every version."""
    service = _service(clean_postgres)
    analytics = AnalyticsService(
        rollups=SqlRollupStore(clean_postgres),
        tasks=SqlTaskStore(clean_postgres),
        clock=lambda: NOW,
        cache_entries=8,
    )
    await service.register(NewTask(agent_type="coder", created_at=NOW))
    assert (await analytics.summary(None, None)).total_tasks == 1
    async with clean_postgres.begin() as connection:  # what that compactor leaves behind
        await compact(connection)
        await connection.execute(text("UPDATE rollup_day_changes SET changes = 0"))
        await connection.execute(text("UPDATE rollup_state SET counted = counted - 1"))
    await service.register(NewTask(agent_type="coder", created_at=NOW))  # one pending again
    assert (await analytics.summary(None, None)).total_tasks == 2


@pytest.mark.integration
async def test_the_compactor_leaves_no_dead_deltas_for_reads_to_scan(
    clean_postgres: AsyncEngine,
) -> None:
    service = _service(clean_postgres)
    for n in range(40):
        task = await service.register(NewTask(agent_type="coder", created_at=NOW))
        await service.update(task.task_id, TaskPatch(status=TaskStatus.COMPLETED, input_tokens=n))
    assert await RollupCompactor(clean_postgres, interval=3600).run_once() == 120
    async with clean_postgres.connect() as connection:
        pages = await connection.scalar(text("SELECT pg_relation_size('rollup_deltas') / 8192"))
    assert pages == 0  # vacuumed right away: the emptied pages are gone
