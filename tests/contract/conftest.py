"""Each contract test runs against every TaskStore adapter: memory, SQLite, PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from dashboard_api.adapters.memory import MemoryDatabase, MemoryTaskStore, MemoryUnitOfWork
from dashboard_api.adapters.sqlalchemy.tasks import SqlTaskStore, SqlUnitOfWork
from dashboard_api.domain.ports import TaskStore, UnitOfWorkFactory


@dataclass
class Backend:
    name: str
    unit_of_work: UnitOfWorkFactory
    reads: TaskStore


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
)
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "memory":
        db = MemoryDatabase()
        return Backend("memory", lambda: MemoryUnitOfWork(db), MemoryTaskStore(db))
    fixture = "sqlite_engine" if request.param == "sqlite" else "clean_postgres"
    engine = request.getfixturevalue(fixture)
    return Backend(request.param, lambda: SqlUnitOfWork(engine), SqlTaskStore(engine))
