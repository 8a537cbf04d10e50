"""Each contract test runs against every store adapter: memory, SQLite, PostgreSQL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from dashboard_api.adapters.memory import (
    MemoryDatabase,
    MemoryRollupStore,
    MemoryTaskStore,
    MemoryUnitOfWork,
)
from dashboard_api.adapters.sqlalchemy.rollup_compactor import RollupCompactor
from dashboard_api.adapters.sqlalchemy.rollups import SqlRollupStore
from dashboard_api.adapters.sqlalchemy.tasks import SqlTaskStore, SqlUnitOfWork
from dashboard_api.domain.ports import RollupStore, TaskStore, UnitOfWorkFactory


async def _no_compaction() -> int:
    return 0  # the memory store keeps hour and day rows current as it commits


@dataclass
class Backend:
    name: str
    unit_of_work: UnitOfWorkFactory
    reads: TaskStore
    rollups: RollupStore
    compact: Callable[[], Awaitable[int]] = _no_compaction


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
)
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "memory":
        db = MemoryDatabase()
        return Backend(
            "memory",
            lambda: MemoryUnitOfWork(db),
            MemoryTaskStore(db),
            MemoryRollupStore(db.rollups, lambda: db.tasks),
        )
    fixture = "sqlite_engine" if request.param == "sqlite" else "clean_postgres"
    engine = request.getfixturevalue(fixture)
    return Backend(
        request.param,
        lambda: SqlUnitOfWork(engine),
        SqlTaskStore(engine),
        SqlRollupStore(engine, cache_entries=16),  # every contract test also checks the cache
        RollupCompactor(engine, interval=3600).run_once,
    )
