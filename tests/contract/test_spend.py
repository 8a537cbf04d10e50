"""Spend per user, conversation and source on every adapter: equal to the naive sums of tasks."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from dashboard_api.domain.errors import InvalidInput
from dashboard_api.domain.model.conversations import Conversation
from dashboard_api.domain.model.spend import SpendDimension
from dashboard_api.domain.model.tasks import NewTask, Task, TaskPatch, TaskStatus
from dashboard_api.domain.services.spend import SpendService
from dashboard_api.domain.services.tasks import TaskService
from tests.contract.conftest import Backend
from tests.unit.fakes import RecordingBus

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
USERS = {"c-a": "alice", "c-b": "bob", "c-c": "alice"}


async def _seed(backend: Backend) -> list[Task]:
    async with backend.unit_of_work() as uow:
        for conversation_id, user in USERS.items():
            await uow.conversations.add(
                Conversation(
                    conversation_id=conversation_id,
                    title="t",
                    agent_type="coder",
                    user_id=user,
                    created_at=NOW - timedelta(days=3),
                    updated_at=NOW - timedelta(days=3),
                )
            )
        await uow.commit()
    service = TaskService(
        unit_of_work=backend.unit_of_work,
        reads=backend.reads,
        bus=RecordingBus(),
        clock=lambda: NOW,
    )
    tasks = []
    for i in range(12):
        conversation = [None, "c-a", "c-b", "c-c"][i % 4]
        task = await service.register(
            NewTask(
                agent_type="coder",
                source=("api", "slack", "github")[i % 3],
                conversation_id=conversation,
                created_at=NOW - timedelta(hours=5 * i, minutes=i),
            )
        )
        task = await service.update(
            task.task_id,
            TaskPatch(
                status=TaskStatus.COMPLETED, cost_usd=Decimal(i + 1).scaleb(-2), input_tokens=i
            ),
        )
        if i % 5 == 0:  # a corrected cost moves the sums, it is never counted twice
            task = await service.update(task.task_id, TaskPatch(cost_usd=Decimal("0.333333")))
        tasks.append(task)
    return tasks


def _naive(
    tasks: list[Task], dimension: SpendDimension, start: datetime | None
) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for task in tasks:
        if start is not None and task.created_at < start:
            continue
        if dimension is SpendDimension.SOURCE:
            key = task.source
        elif task.conversation_id is None:
            continue
        else:
            key = (
                task.conversation_id
                if dimension is SpendDimension.CONVERSATION
                else USERS[task.conversation_id]
            )
        sums[key] += task.cost_usd
    return dict(sums)


@pytest.mark.parametrize("dimension", list(SpendDimension))
async def test_spend_per_key_is_the_naive_sum_over_the_tasks(
    backend: Backend, dimension: SpendDimension
) -> None:
    tasks = await _seed(backend)
    service = SpendService(backend.spend)
    for start in (None, NOW - timedelta(hours=24)):
        totals = await service.totals(dimension, start, None)
        assert {t.key: t.cost_usd for t in totals} == _naive(tasks, dimension, start)
        costs = [t.cost_usd for t in totals]
        assert costs == sorted(costs, reverse=True)
    alice = await service.totals(SpendDimension.USER, None, None, key="alice")
    assert [(t.key, t.cost_usd) for t in alice] == [
        ("alice", _naive(tasks, SpendDimension.USER, None)["alice"])
    ]
    with pytest.raises(InvalidInput):
        await service.totals(dimension, NOW - timedelta(minutes=30), None)
