"""Block reads during a rolling upgrade: a compaction by a process of the release before the
blocks (which folds deltas into hour and day rows only) makes reads use the rows, and the next
compaction of this release refills the blocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from dashboard_api.adapters.sqlalchemy.rollups.compactor import RollupCompactor
from dashboard_api.adapters.sqlalchemy.rollups.store import SqlRollupStore
from dashboard_api.adapters.sqlalchemy.tables import rollup_totals_blocks
from dashboard_api.adapters.sqlalchemy.tasks import SqlTaskStore
from dashboard_api.adapters.sqlalchemy.unit_of_work import SqlUnitOfWork
from dashboard_api.domain.model.rollups import RollupQuery, RollupSource, total
from dashboard_api.domain.model.tasks import NewTask, TaskPatch, TaskStatus
from dashboard_api.domain.services.tasks import TaskService
from tests.unit.fakes import RecordingBus

pytestmark = pytest.mark.integration

DAY = datetime(2026, 10, 30, tzinfo=UTC)


async def _whole(store: SqlRollupStore, source: RollupSource, **bounds: datetime) -> object:
    (totals,) = await store.read(RollupQuery(source=source, by_agent_type=True, **bounds))
    return sorted((t.agent_type, t.figures) for t in totals if not t.figures.is_empty)


async def _blocked(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        query = text("SELECT blocked = generation FROM rollup_state WHERE id = 1")
        return bool((await connection.execute(query)).scalar_one())


async def test_reads_stay_exact_when_a_previous_release_compacts(
    clean_postgres: AsyncEngine,
) -> None:
    engine = clean_postgres
    store = SqlRollupStore(engine)
    compact = RollupCompactor(engine, interval=3600).run_once
    service = TaskService(
        unit_of_work=lambda: SqlUnitOfWork(engine),
        reads=SqlTaskStore(engine),
        bus=RecordingBus(),
        clock=lambda: DAY + timedelta(days=5),
    )

    async def finish(hours: int, cost: str) -> None:
        task = await service.register(
            NewTask(agent_type="coder", model="m", created_at=DAY + timedelta(hours=hours))
        )
        await service.update(
            task.task_id, TaskPatch(status=TaskStatus.COMPLETED, cost_usd=Decimal(cost))
        )

    async def check() -> None:
        for start, end in ((None, None), (DAY, DAY + timedelta(days=3))):
            bounds = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
            assert await _whole(store, RollupSource.DAYS, **bounds) == await _whole(
                store, RollupSource.TASKS, **bounds
            )
        hours = {"start": DAY + timedelta(hours=2), "end": DAY + timedelta(hours=20)}
        assert await _whole(store, RollupSource.HOURS, **hours) == await _whole(
            store, RollupSource.TASKS, **hours
        )

    await finish(3, "1.25")
    await compact()
    assert await _blocked(engine)
    # What a compaction by the previous release leaves: the change folded into the hour and
    # day rows, not into the blocks, and the generation moved without `blocked`.
    async with engine.begin() as connection:
        before = (await connection.execute(select(rollup_totals_blocks))).all()
    await finish(30, "2.50")
    await compact()
    async with engine.begin() as connection:
        await connection.execute(rollup_totals_blocks.delete())
        if before:
            await connection.execute(insert(rollup_totals_blocks), [r._asdict() for r in before])
        await connection.execute(text("UPDATE rollup_state SET blocked = generation - 1"))
    assert not await _blocked(engine)
    await check()  # the rows, not the stale blocks
    (stale,) = await store.read(RollupQuery(source=RollupSource.DAYS))
    assert total(t.figures for t in stale).cost_micros == 3_750_000
    await finish(50, "0.25")  # pending
    await check()
    await compact()  # this release: refills the blocks
    assert await _blocked(engine)
    await check()
