"""Retention on the memory database: the same choices as the SQL adapter, on its dicts."""

from __future__ import annotations

from datetime import datetime

import msgspec

from dashboard_api.adapters.memory.tables import MemoryDatabase
from dashboard_api.domain.model.retention import DataKind


class MemoryRetentionStore:
    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db

    async def prune(self, kind: DataKind, before: datetime, limit: int) -> int:
        async with self._db.write_lock:
            return self._prune(kind, before, limit)

    def _prune(self, kind: DataKind, before: datetime, limit: int) -> int:
        db = self._db
        if kind in (DataKind.TASK_TEXT, DataKind.TASKS):
            old = sorted(
                (
                    task
                    for task in db.tasks.values()
                    if task.created_at < before
                    and task.status.is_terminal
                    and (
                        kind is DataKind.TASKS
                        or task.input_message
                        or task.output is not None
                        or task.error is not None
                    )
                ),
                key=lambda task: task.created_at,
            )[:limit]
            for task in old:
                if kind is DataKind.TASKS:
                    del db.tasks[task.task_id]
                else:
                    db.tasks[task.task_id] = msgspec.structs.replace(
                        task, input_message="", output=None, error=None
                    )
            return len(old)
        if kind is DataKind.MESSAGES:
            gone = sorted(
                (m for m in db.messages.values() if m.created_at < before),
                key=lambda m: m.created_at,
            )[:limit]
            for message in gone:
                del db.messages[message.message_id]
            return len(gone)
        events = sorted(
            (
                event
                for event in db.webhook_events.values()
                if event.created_at < before
                and (kind is DataKind.WEBHOOK_EVENTS or event.payload is not None)
            ),
            key=lambda event: event.created_at,
        )[:limit]
        for event in events:
            if kind is DataKind.WEBHOOK_EVENTS:
                del db.webhook_events[event.event_id]
            else:
                db.webhook_events[event.event_id] = msgspec.structs.replace(event, payload=None)
        return len(events)
