"""ProcessedEvents on SQLAlchemy Core: ids of applied engine events, in the unit's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg
import msgspec
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from dashboard_api.adapters.sqlalchemy.store import unit_driver, upsert
from dashboard_api.adapters.sqlalchemy.tables import processed_events
from dashboard_api.domain.errors import Conflict

# A join on unnest, not `= ANY($1)`: on the bench's fresh table the ANY form took ~30 ms per
# batch of 500 (a plan that scans and compares each row with the whole array), the join ~1 ms.
_SEEN_SQL = (
    "SELECT p.event_id FROM processed_events p"
    " JOIN unnest($1::text[]) AS u(id) ON p.event_id = u.id"
)
_ADD_MANY_SQL = (
    "INSERT INTO processed_events (event_id, processed_at) SELECT unnest($1::text[]), $2"
)

# A batch's marks claimed in one round trip: those it returns were not marked yet. The ids go
# as one JSON array: as a text[] parameter asyncpg checked each of the 500 against
# collections.abc (~2% of an ingested event's instructions, callgrind).
# The claimed ids come back as one array (decoded in asyncpg's C code), not a row each.
_CLAIM_SQL = (
    "WITH claimed AS (INSERT INTO processed_events (event_id, processed_at)"
    " SELECT json_array_elements_text($1::json), $2"
    " ON CONFLICT (event_id) DO NOTHING RETURNING event_id)"
    " SELECT coalesce(array_agg(event_id), '{}') FROM claimed"
)
_IDS_JSON = msgspec.json.Encoder().encode
# One event's mark, as prepared statements: SQLAlchemy built and keyed the same SELECT and
# INSERT for each (~0.15 ms of CPU per mark, cProfile of an OTLP export; OTLP and groote
# spans are applied one at a time).
_CONTAINS_SQL = "SELECT 1 FROM processed_events WHERE event_id = $1"
_ADD_SQL = "INSERT INTO processed_events (event_id, processed_at) VALUES ($1, $2)"
_RELEASE_SQL = (
    "DELETE FROM processed_events p USING unnest($1::text[]) AS u(id) WHERE p.event_id = u.id"
)


class SqlProcessedEvents:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def contains(self, event_id: str) -> bool:
        driver = await self._asyncpg()
        if driver is not None:
            return await driver.fetchval(_CONTAINS_SQL, event_id) is not None
        statement = select(processed_events.c.event_id).where(
            processed_events.c.event_id == event_id
        )
        return (await self._connection.execute(statement)).first() is not None

    async def seen(self, event_ids: Sequence[str]) -> set[str]:
        if not event_ids:
            return set()
        driver = await self._asyncpg()
        if driver is not None:
            rows = await driver.fetch(_SEEN_SQL, list(set(event_ids)))
            return {row[0] for row in rows}
        statement = select(processed_events.c.event_id).where(
            processed_events.c.event_id.in_(list(set(event_ids)))
        )
        return set((await self._connection.execute(statement)).scalars().all())

    async def add_many(self, event_ids: Sequence[str], processed_at: datetime) -> None:
        if not event_ids:
            return
        driver = await self._asyncpg()
        if driver is not None:
            try:
                await driver.execute(_ADD_MANY_SQL, list(event_ids), processed_at)
            except asyncpg.UniqueViolationError as exc:
                raise Conflict("an event of the batch was already processed") from exc
            return
        rows = [{"event_id": event_id, "processed_at": processed_at} for event_id in event_ids]
        try:
            await self._connection.execute(insert(processed_events), rows)
        except IntegrityError as exc:
            raise Conflict("an event of the batch was already processed") from exc

    async def claim(self, event_ids: Sequence[str], processed_at: datetime) -> set[str]:
        if not event_ids:
            return set()
        driver = await self._asyncpg()
        if driver is not None:
            claimed = await driver.fetchval(_CLAIM_SQL, _IDS_JSON(event_ids).decode(), processed_at)
            return set(claimed)
        rows = [
            {"event_id": event_id, "processed_at": processed_at}
            for event_id in dict.fromkeys(event_ids)
        ]
        statement = (
            upsert(self._connection, processed_events)
            .values(rows)
            .on_conflict_do_nothing(index_elements=[processed_events.c.event_id])
            .returning(processed_events.c.event_id)
        )
        return set((await self._connection.execute(statement)).scalars().all())

    async def release(self, event_ids: Sequence[str]) -> None:
        if not event_ids:
            return
        driver = await self._asyncpg()
        if driver is not None:
            await driver.execute(_RELEASE_SQL, list(event_ids))
            return
        await self._connection.execute(
            delete(processed_events).where(processed_events.c.event_id.in_(list(event_ids)))
        )

    async def _asyncpg(self) -> asyncpg.Connection | None:
        """The unit's asyncpg connection (same transaction), or None on another backend. A
        batch's marks on SQLAlchemy (an executemany of 500 parameter sets, an IN of 500 bound
        values) cost 10-17 us of CPU per event; one array parameter on asyncpg ~2 us
        (bench.ingest_profile, docs/benchmarks-realtime.md)."""
        return await unit_driver(self._connection)

    async def add(self, event_id: str, processed_at: datetime) -> None:
        driver = await self._asyncpg()
        if driver is not None:
            try:
                await driver.execute(_ADD_SQL, event_id, processed_at)
            except asyncpg.UniqueViolationError as exc:
                raise Conflict(
                    f"event {event_id} was already processed", event_id=event_id
                ) from exc
            return
        row = {"event_id": event_id, "processed_at": processed_at}
        try:
            await self._connection.execute(insert(processed_events).values(row))
        except IntegrityError as exc:
            raise Conflict(f"event {event_id} was already processed", event_id=event_id) from exc

    async def forget_before(self, moment: datetime) -> int:
        statement = delete(processed_events).where(processed_events.c.processed_at < moment)
        return int((await self._connection.execute(statement)).rowcount)
