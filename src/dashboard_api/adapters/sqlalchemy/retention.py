"""Retention on SQLAlchemy Core: each batch picks the oldest rows through a created_at index
and trims or deletes them by primary key, in its own short transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from dashboard_api.adapters.sqlalchemy.engine import write_transaction
from dashboard_api.adapters.sqlalchemy.tables import messages, tasks, webhook_events
from dashboard_api.domain.model.retention import DataKind
from dashboard_api.domain.model.tasks import TERMINAL_STATUSES

_FINISHED = sorted(status.value for status in TERMINAL_STATUSES)


class SqlRetentionStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def prune(self, kind: DataKind, before: datetime, limit: int) -> int:
        async with write_transaction(self._engine) as connection:
            result = await connection.execute(_statement(kind, before, limit))
            await connection.commit()
        return int(result.rowcount)


def _oldest(key: Any, created_at: Any, before: datetime, limit: int, *where: Any) -> Select[Any]:
    return select(key).where(created_at < before, *where).order_by(created_at).limit(limit)


def _statement(kind: DataKind, before: datetime, limit: int) -> Any:
    finished = tasks.c.status.in_(_FINISHED)
    if kind is DataKind.TASK_TEXT:
        has_text = or_(
            tasks.c.input_message != "", tasks.c.output.is_not(None), tasks.c.error.is_not(None)
        )
        chosen = _oldest(tasks.c.task_id, tasks.c.created_at, before, limit, finished, has_text)
        return (
            update(tasks)
            .where(tasks.c.task_id.in_(chosen.scalar_subquery()))
            .values(input_message="", output=None, error=None)
        )
    if kind is DataKind.TASKS:
        chosen = _oldest(tasks.c.task_id, tasks.c.created_at, before, limit, finished)
        return delete(tasks).where(tasks.c.task_id.in_(chosen.scalar_subquery()))
    if kind is DataKind.MESSAGES:
        chosen = _oldest(messages.c.message_id, messages.c.created_at, before, limit)
        return delete(messages).where(messages.c.message_id.in_(chosen.scalar_subquery()))
    events = webhook_events.c
    if kind is DataKind.WEBHOOK_PAYLOADS:
        chosen = _oldest(
            events.event_id, events.created_at, before, limit, events.payload.is_not(None)
        )
        return (
            update(webhook_events)
            .where(events.event_id.in_(chosen.scalar_subquery()))
            .values(payload=None)
        )
    chosen = _oldest(events.event_id, events.created_at, before, limit)
    return delete(webhook_events).where(events.event_id.in_(chosen.scalar_subquery()))
