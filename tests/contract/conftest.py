"""Each contract test runs against every adapter of the stores (tasks, rollups, conversations,
webhooks, sources): memory, SQLite, PostgreSQL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from dashboard_api.adapters.memory import (
    MemoryDatabase,
    MemoryRollupStore,
    MemoryTaskStore,
    MemoryUnitOfWork,
)
from dashboard_api.adapters.memory.retention import MemoryRetentionStore
from dashboard_api.adapters.memory.sources import MemoryOAuthStatusStore
from dashboard_api.adapters.memory.workspace import WorkspaceStores
from dashboard_api.adapters.sqlalchemy.retention import SqlRetentionStore
from dashboard_api.adapters.sqlalchemy.rollups.compactor import RollupCompactor
from dashboard_api.adapters.sqlalchemy.rollups.store import SqlRollupStore
from dashboard_api.adapters.sqlalchemy.sources import SqlOAuthStatusStore
from dashboard_api.adapters.sqlalchemy.tasks import SqlTaskStore, SqlUnitOfWork
from dashboard_api.adapters.sqlalchemy.workspace import SqlWorkspaceUnit
from dashboard_api.domain.ports import RetentionStore, RollupStore, TaskStore, UnitOfWorkFactory


async def _no_compaction() -> int:
    return 0  # the memory store keeps hour and day rows current as it commits


class SqlWorkspaceReads(SqlWorkspaceUnit):
    """The workspace stores on an engine: standalone reads, as the app's adapters use them."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.bind_workspace(engine)
        self.oauth = SqlOAuthStatusStore(engine)


WorkspaceReads = WorkspaceStores | SqlWorkspaceReads


@dataclass
class Backend:
    name: str
    unit_of_work: UnitOfWorkFactory
    reads: TaskStore
    rollups: RollupStore
    workspace: WorkspaceReads
    compact: Callable[[], Awaitable[int]] = _no_compaction
    retention: RetentionStore | None = None


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
)
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "memory":
        db = MemoryDatabase()
        reads = WorkspaceStores(db)
        reads.oauth = MemoryOAuthStatusStore()  # type: ignore[attr-defined]
        return Backend(
            "memory",
            lambda: MemoryUnitOfWork(db),
            MemoryTaskStore(db),
            MemoryRollupStore(db.rollups, lambda: db.tasks),
            reads,
            retention=MemoryRetentionStore(db),
        )
    fixture = "sqlite_engine" if request.param == "sqlite" else "clean_postgres"
    engine = request.getfixturevalue(fixture)
    return Backend(
        request.param,
        lambda: SqlUnitOfWork(engine),
        SqlTaskStore(engine),
        SqlRollupStore(engine),
        SqlWorkspaceReads(engine),
        RollupCompactor(engine, interval=3600).run_once,
        SqlRetentionStore(engine),
    )
