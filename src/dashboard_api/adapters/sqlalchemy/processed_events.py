"""ProcessedEvents on SQLAlchemy Core: ids of applied engine events, in the unit's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from dashboard_api.adapters.sqlalchemy.tables import processed_events
from dashboard_api.domain.errors import Conflict


class SqlProcessedEvents:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def contains(self, event_id: str) -> bool:
        statement = select(processed_events.c.event_id).where(
            processed_events.c.event_id == event_id
        )
        return (await self._connection.execute(statement)).first() is not None

    async def seen(self, event_ids: Sequence[str]) -> set[str]:
        if not event_ids:
            return set()
        statement = select(processed_events.c.event_id).where(
            processed_events.c.event_id.in_(list(set(event_ids)))
        )
        return set((await self._connection.execute(statement)).scalars().all())

    async def add_many(self, event_ids: Sequence[str], processed_at: datetime) -> None:
        if not event_ids:
            return
        rows = [{"event_id": event_id, "processed_at": processed_at} for event_id in event_ids]
        try:
            await self._connection.execute(insert(processed_events), rows)
        except IntegrityError as exc:
            raise Conflict("an event of the batch was already processed") from exc

    async def add(self, event_id: str, processed_at: datetime) -> None:
        row = {"event_id": event_id, "processed_at": processed_at}
        try:
            await self._connection.execute(insert(processed_events).values(row))
        except IntegrityError as exc:
            raise Conflict(f"event {event_id} was already processed", event_id=event_id) from exc

    async def forget_before(self, moment: datetime) -> int:
        statement = delete(processed_events).where(processed_events.c.processed_at < moment)
        return int((await self._connection.execute(statement)).rowcount)
