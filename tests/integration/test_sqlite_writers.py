"""Concurrent writers on the embedded SQLite database.

Found with schemathesis against `make run`: two writers of one process, one of them failing a
constraint, stalled each other on SQLite's busy handler for the whole busy timeout, and then
one failed with "database is locked". Writers of one engine now take an asyncio lock first.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from dashboard_api.adapters.sqlalchemy.tasks import SqlTaskStore
from dashboard_api.adapters.sqlalchemy.unit_of_work import SqlUnitOfWork
from dashboard_api.domain.errors import Conflict
from dashboard_api.domain.model.tasks import NewTask
from dashboard_api.domain.services.tasks import TaskService
from tests.unit.fakes import RecordingBus


async def test_a_failing_writer_never_stalls_the_others(sqlite_engine: AsyncEngine) -> None:
    service = TaskService(
        unit_of_work=lambda: SqlUnitOfWork(sqlite_engine),
        reads=SqlTaskStore(sqlite_engine),
        bus=RecordingBus(),
    )
    await service.register(NewTask(agent_type="coder", task_id="taken"))

    async def duplicate() -> None:
        with pytest.raises(Conflict):
            await service.register(NewTask(agent_type="coder", task_id="taken"))

    created = []
    for _ in range(100):
        new = service.register(NewTask(agent_type="coder"))
        _, task = await asyncio.gather(duplicate(), new)
        created.append(task.task_id)
    for task_id in created:
        assert await service.get(task_id)
