"""Thirty days of believable history for `dashboard-api demo`, so every chart and table of the
console has data the moment it opens: tasks of several agents and models (with costs, failures
and a working-hours rhythm), conversations with answers, webhook events, knowledge sources and
OAuth installations.

It writes through the same units of work and stores as the services (task rollups and
conversation totals are recorded with each task, webhook rollups with each event), in a few
large transactions so that it stays fast on SQLite. It runs once per database: a marker task
tells a second start that the history is there.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from dashboard_api.adapters.demo.records import (
    conversation_history,
    installations,
    write_sources,
    write_webhook_events,
)
from dashboard_api.adapters.demo.tasks import task_history
from dashboard_api.domain.model.conversations import ConversationTotals
from dashboard_api.domain.model.tasks import Task, TaskStatus
from dashboard_api.domain.ports import OAuthStatusStore, UnitOfWorkFactory
from dashboard_api.domain.services.tasks import TaskService

MARKER_TASK_ID = "demo-history-marker"
BATCH = 500


async def backfill_history(
    *,
    unit_of_work: UnitOfWorkFactory,
    tasks: TaskService,
    oauth: OAuthStatusStore,
    now: datetime,
    days: int = 30,
    seed: int = 12,
) -> int:
    """Write `days` of history ending at `now`; returns the number of tasks written (0 when
    this database already has it)."""
    async with unit_of_work() as uow:
        if await uow.tasks.get(MARKER_TASK_ID) is not None:
            return 0
    rng = random.Random(seed)
    start = (now - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    history = [*task_history(rng, start, now)]
    conversations, messages, chat_tasks = conversation_history(rng, start, now)
    history += chat_tasks
    history.sort(key=lambda task: task.created_at)
    history.append(_marker(now))
    for first in range(0, len(history), BATCH):
        async with unit_of_work() as uow:
            if first == 0:
                for conversation in conversations:
                    await uow.conversations.add(conversation)
            for task in history[first : first + BATCH]:
                await tasks.store_past(uow, task)
            await uow.commit()
    async with unit_of_work() as uow:
        for message in messages:
            await uow.messages.add(message)
            await uow.conversations.add_totals(
                message.conversation_id,
                ConversationTotals(messages=1),
                active_at=message.created_at,
            )
        await write_webhook_events(uow, rng, start, now)
        await write_sources(uow, rng, now)
        await uow.commit()
    for installation in installations(now):
        await oauth.put(installation)
    return len(history)


def _marker(now: datetime) -> Task:
    # A cancelled task of no cost: it only says "the history is here" to a second start.
    return Task(
        task_id=MARKER_TASK_ID,
        status=TaskStatus.CANCELLED,
        agent_type="planner",
        source="api",
        created_at=now - timedelta(days=30),
        completed_at=now - timedelta(days=30),
        input_message="(demo history marker)",
    )
