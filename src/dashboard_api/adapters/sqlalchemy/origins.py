"""OriginStore on SQLAlchemy Core: each write is its own short transaction (one writer at a
time on SQLite, as every writer of the service)."""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from dashboard_api.adapters.sqlalchemy.engine import write_transaction
from dashboard_api.adapters.sqlalchemy.tables import conversation_flows, task_origins
from dashboard_api.domain.model.origins import ConversationFlow, TaskOrigin, merged_origin


class SqlOriginStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def link_flow(self, flow: ConversationFlow) -> ConversationFlow:
        row = {
            "flow_id": flow.flow_id,
            "conversation_id": flow.conversation_id,
            "source": flow.source,
            "metadata": _json(flow.metadata),
            "created_at": flow.created_at,
        }
        try:
            async with write_transaction(self._engine) as connection:
                await connection.execute(insert(conversation_flows).values(row))
                await connection.commit()
        except IntegrityError:
            pass  # linked first by someone else: theirs holds
        stored = await self.flow(flow.flow_id)
        assert stored is not None
        return stored

    async def flow(self, flow_id: str) -> ConversationFlow | None:
        statement = select(conversation_flows).where(conversation_flows.c.flow_id == flow_id)
        async with self._engine.connect() as connection:
            row = (await connection.execute(statement)).mappings().first()
        if row is None:
            return None
        return ConversationFlow(
            flow_id=row["flow_id"],
            conversation_id=row["conversation_id"],
            source=row["source"],
            metadata=_dict(row["metadata"]),
            created_at=row["created_at"],
        )

    async def put_origin(self, origin: TaskOrigin) -> TaskOrigin:
        for _ in range(3):  # a concurrent first insert wins; merge into it
            async with write_transaction(self._engine) as connection:
                statement = select(task_origins).where(task_origins.c.task_id == origin.task_id)
                row = (await connection.execute(statement)).mappings().first()
                before = _origin(row) if row is not None else None
                merged = merged_origin(before, origin)
                values = {
                    "flow_id": merged.flow_id,
                    "source_metadata": _json(merged.source_metadata),
                }
                try:
                    if before is None:
                        await connection.execute(
                            insert(task_origins).values(task_id=origin.task_id, **values)
                        )
                    elif merged != before:
                        await connection.execute(
                            update(task_origins)
                            .where(task_origins.c.task_id == origin.task_id)
                            .values(**values)
                        )
                except IntegrityError:
                    continue
                await connection.commit()
            return merged
        raise RuntimeError(f"origin of task {origin.task_id} kept changing")

    async def origin(self, task_id: str) -> TaskOrigin | None:
        statement = select(task_origins).where(task_origins.c.task_id == task_id)
        async with self._engine.connect() as connection:
            row = (await connection.execute(statement)).mappings().first()
        return None if row is None else _origin(row)


def _origin(row: Any) -> TaskOrigin:
    return TaskOrigin(
        task_id=row["task_id"],
        flow_id=row["flow_id"],
        source_metadata=_dict(row["source_metadata"]),
    )


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else msgspec.json.encode(value).decode()


def _dict(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    value: dict[str, Any] = msgspec.json.decode(text)
    return value
