"""Property: whatever happened to the tasks, every analytics answer equals the naive one."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dashboard_api.adapters.memory import MemoryDatabase, MemoryTaskStore, MemoryUnitOfWork
from dashboard_api.adapters.memory.rollups import MemoryRollupStore
from dashboard_api.adapters.sqlalchemy.rollups.compactor import RollupCompactor
from dashboard_api.adapters.sqlalchemy.rollups.store import SqlRollupStore
from dashboard_api.adapters.sqlalchemy.tasks import SqlTaskStore
from dashboard_api.adapters.sqlalchemy.unit_of_work import SqlUnitOfWork
from dashboard_api.domain.model.tasks import Task
from dashboard_api.domain.services.analytics import AnalyticsService
from dashboard_api.domain.services.tasks import TaskService
from dashboard_api.price_file import load_prices
from tests.analytics_history import NOW, apply, check_answers, histories, windows
from tests.unit.fakes import RecordingBus

AGENT_FILTERS = st.sampled_from([None, "coder", "planner"])
PRICES = load_prices()


async def _nothing() -> None:
    return None


@settings(max_examples=150, deadline=None)
@given(history=histories, window=windows, agent_type=AGENT_FILTERS)
async def test_memory_rollups_answer_like_the_raw_tasks(
    history: list[object], window: list[datetime], agent_type: str | None
) -> None:
    db = MemoryDatabase()
    service = TaskService(
        unit_of_work=lambda: MemoryUnitOfWork(db),
        reads=MemoryTaskStore(db),
        bus=RecordingBus(),
        clock=lambda: NOW,
        prices=PRICES,
    )
    await apply(history, service, _nothing)
    analytics = AnalyticsService(
        rollups=MemoryRollupStore(db.rollups, lambda: db.tasks),
        tasks=MemoryTaskStore(db),
        clock=lambda: NOW,
        cache_entries=64,
    )
    tasks: list[Task] = list(db.tasks.values())
    await check_answers(analytics, tasks, window, agent_type)
    # A rebuild from the tasks lands on the same rollups the changes maintained.
    before = (dict(db.rollups.hours), dict(db.rollups.days))
    await MemoryRollupStore(db.rollups, lambda: db.tasks).rebuild()
    assert (db.rollups.hours, db.rollups.days) == before


async def _check_on_sql(
    engine: AsyncEngine, history: list[object], window: list[datetime], agent_type: str | None
) -> None:
    async with engine.begin() as connection:
        for table in (
            "tasks",
            "rollups_hourly",
            "rollups_daily",
            "rollup_totals_hourly",
            "rollup_totals_daily",
            "rollup_totals_blocks",
            "rollup_deltas",
        ):
            await connection.execute(text(f"DELETE FROM {table}"))
    reads = SqlTaskStore(engine)
    service = TaskService(
        unit_of_work=lambda: SqlUnitOfWork(engine),
        reads=reads,
        bus=RecordingBus(),
        clock=lambda: NOW,
        prices=PRICES,
    )
    compactor = RollupCompactor(engine, interval=3600)
    ids = await apply(history, service, compactor.run_once)
    rollups = SqlRollupStore(engine)
    # A cached answer must never be stale: compaction and the rebuild below move the watermark.
    analytics = AnalyticsService(rollups=rollups, tasks=reads, clock=lambda: NOW, cache_entries=64)
    tasks = [task for task_id in ids if (task := await reads.get(task_id)) is not None]
    await check_answers(analytics, tasks, window, agent_type)
    # Compaction and a rebuild from the tasks never change an answer.
    await compactor.run_once()
    await check_answers(analytics, tasks, window, agent_type)
    assert await rollups.rebuild() == len(tasks)
    await check_answers(analytics, tasks, window, agent_type)


SQL_SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.integration
@SQL_SETTINGS
@given(history=histories, window=windows, agent_type=AGENT_FILTERS)
async def test_postgres_rollups_answer_like_the_raw_tasks(
    postgres_engine: AsyncEngine,
    history: list[object],
    window: list[datetime],
    agent_type: str | None,
) -> None:
    await _check_on_sql(postgres_engine, history, window, agent_type)


@SQL_SETTINGS
@given(history=histories, window=windows, agent_type=AGENT_FILTERS)
async def test_sqlite_rollups_answer_like_the_raw_tasks(
    sqlite_engine: AsyncEngine,
    history: list[object],
    window: list[datetime],
    agent_type: str | None,
) -> None:
    await _check_on_sql(sqlite_engine, history, window, agent_type)
