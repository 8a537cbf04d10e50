"""Conversations, messages and the hand-off outbox on SQLAlchemy Core."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from dashboard_api.adapters.sqlalchemy.store import SqlStore, row_after
from dashboard_api.adapters.sqlalchemy.tables import conversations, handoff_outbox, messages
from dashboard_api.domain.errors import Conflict
from dashboard_api.domain.model.conversations import (
    Conversation,
    ConversationQuery,
    ConversationTotals,
    Message,
    MessageQuery,
    MessageRole,
)
from dashboard_api.domain.model.handoff import OutboxEntry
from dashboard_api.domain.money import from_micros, to_micros

_TOTAL_COLUMNS = {
    "messages": "message_count",
    "tasks": "task_count",
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
}


class SqlConversationStore(SqlStore):
    async def add(self, conversation: Conversation) -> None:
        totals = conversation.totals
        values = {
            **_editable(conversation),
            "conversation_id": conversation.conversation_id,
            "agent_type": conversation.agent_type,
            "user_id": conversation.user_id,
            "created_at": conversation.created_at,
            "message_count": totals.messages,
            "task_count": totals.tasks,
            "cost_micros": to_micros(totals.cost_usd),
            "input_tokens": totals.input_tokens,
            "output_tokens": totals.output_tokens,
        }
        async with self._connection() as connection:
            try:
                await connection.execute(insert(conversations).values(values))
            except IntegrityError as exc:
                raise Conflict(
                    f"conversation {conversation.conversation_id} already exists",
                    conversation_id=conversation.conversation_id,
                ) from exc

    async def get(self, conversation_id: str) -> Conversation | None:
        statement = select(conversations).where(conversations.c.conversation_id == conversation_id)
        async with self._connection() as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else _conversation(row._mapping)

    async def get_many(self, conversation_ids: Sequence[str]) -> dict[str, Conversation]:
        if not conversation_ids:
            return {}
        wanted = list(set(conversation_ids))
        statement = select(conversations).where(conversations.c.conversation_id.in_(wanted))
        async with self._connection() as connection:
            rows = (await connection.execute(statement)).all()
        found = (_conversation(row._mapping) for row in rows)
        return {conversation.conversation_id: conversation for conversation in found}

    async def update(self, conversation: Conversation) -> bool:
        statement = (
            update(conversations)
            .where(conversations.c.conversation_id == conversation.conversation_id)
            .values(_editable(conversation))
        )
        async with self._connection() as connection:
            result = await connection.execute(statement)
        return bool(result.rowcount == 1)

    async def delete(self, conversation_id: str) -> bool:
        async with self._connection() as connection:
            # Explicit, not only ON DELETE CASCADE: SQLite enforces it only with its pragma on.
            await connection.execute(
                delete(messages).where(messages.c.conversation_id == conversation_id)
            )
            result = await connection.execute(
                delete(conversations).where(conversations.c.conversation_id == conversation_id)
            )
        return bool(result.rowcount == 1)

    async def find(self, query: ConversationQuery) -> list[Conversation]:
        fast = await self._fetch_fast(*_conversations_sql(query))
        if fast is not None:
            return [_conversation(row) for row in fast]
        statement = select(conversations)
        if query.user_id is not None:
            statement = statement.where(conversations.c.user_id == query.user_id)
        if query.archived is not None:
            statement = statement.where(conversations.c.archived == query.archived)
        order = (conversations.c.updated_at, conversations.c.conversation_id)
        if query.after is not None:
            after = (query.after.updated_at, query.after.conversation_id)
            statement = statement.where(row_after(order, after, descending=True))
        statement = statement.order_by(*(column.desc() for column in order)).limit(query.limit)
        async with self._connection() as connection:
            rows = (await connection.execute(statement)).all()
        return [_conversation(row._mapping) for row in rows]

    async def add_totals(
        self, conversation_id: str, delta: ConversationTotals, *, active_at: datetime | None
    ) -> None:
        values: dict[str, Any] = {
            column: conversations.c[column] + getattr(delta, field)
            for field, column in _TOTAL_COLUMNS.items()
            if getattr(delta, field)
        }
        if delta.cost_usd:
            values["cost_micros"] = conversations.c.cost_micros + to_micros(delta.cost_usd)
        if active_at is not None:
            values["updated_at"] = active_at
        if not values:
            return
        statement = (
            update(conversations)
            .where(conversations.c.conversation_id == conversation_id)
            .values(values)
        )
        async with self._connection() as connection:
            await connection.execute(statement)

    async def add_totals_many(self, deltas: Mapping[str, ConversationTotals]) -> None:
        rows = [
            {
                "key": conversation_id,
                **{
                    f"add_{column}": getattr(delta, field)
                    for field, column in _TOTAL_COLUMNS.items()
                },
                "add_cost_micros": to_micros(delta.cost_usd),
            }
            for conversation_id, delta in deltas.items()
        ]
        if rows:
            async with self._connection() as connection:
                await connection.execute(_ADD_TOTALS, rows)  # one pipelined executemany


# One statement object: SQLAlchemy compiles it once, not per batch.
_ADD_TOTALS = (
    update(conversations)
    .where(conversations.c.conversation_id == bindparam("key"))
    .values(
        {
            column: conversations.c[column] + bindparam(f"add_{column}")
            for column in (*_TOTAL_COLUMNS.values(), "cost_micros")
        }
    )
)


class SqlMessageStore(SqlStore):
    async def add(self, message: Message) -> None:
        values = {
            "message_id": message.message_id,
            "conversation_id": message.conversation_id,
            "role": message.role.value,
            "content": message.content,
            "task_id": message.task_id,
            "created_at": message.created_at,
        }
        async with self._connection() as connection:
            try:
                await connection.execute(insert(messages).values(values))
            except IntegrityError as exc:
                raise Conflict(
                    f"message {message.message_id} already exists", field="message_id"
                ) from exc

    async def find(self, query: MessageQuery) -> list[Message]:
        fast = await self._fetch_fast(*_messages_sql(query))
        if fast is not None:
            return [_message(row) for row in fast]
        order = (messages.c.created_at, messages.c.message_id)
        statement = select(messages).where(messages.c.conversation_id == query.conversation_id)
        if query.after is not None:
            after = (query.after.created_at, query.after.message_id)
            statement = statement.where(row_after(order, after, descending=False))
        statement = statement.order_by(*order).limit(query.limit)
        async with self._connection() as connection:
            rows = (await connection.execute(statement)).all()
        return [_message(row._mapping) for row in rows]


class SqlOutbox(SqlStore):
    async def add(self, entry: OutboxEntry) -> None:
        values = {
            "entry_id": entry.entry_id,
            "queue": entry.queue,
            "payload": json.dumps(dict(entry.payload), separators=(",", ":")),
            "created_at": entry.created_at,
        }
        async with self._connection() as connection:
            await connection.execute(insert(handoff_outbox).values(values))

    async def claim(self, limit: int) -> list[OutboxEntry]:
        # SKIP LOCKED: replicas relaying at once take different entries instead of waiting.
        statement = (
            select(handoff_outbox)
            .order_by(handoff_outbox.c.created_at, handoff_outbox.c.entry_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        async with self._connection() as connection:
            rows = (await connection.execute(statement)).all()
        return [
            OutboxEntry(
                entry_id=row.entry_id,
                queue=row.queue,
                payload=json.loads(row.payload),
                created_at=row.created_at,
            )
            for row in rows
        ]

    async def remove(self, entry_id: str) -> None:
        async with self._connection() as connection:
            await connection.execute(
                delete(handoff_outbox).where(handoff_outbox.c.entry_id == entry_id)
            )


def _editable(conversation: Conversation) -> dict[str, Any]:
    return {
        "title": conversation.title,
        "archived": conversation.archived,
        "updated_at": conversation.updated_at,
    }


# The same reads as the SQLAlchemy statements above, in PostgreSQL's own words, for the
# asyncpg fast path (the contract tests run both paths: PostgreSQL one, SQLite the other).
_CONVERSATION_COLUMNS = ", ".join(column.name for column in conversations.c)
_MESSAGE_COLUMNS = ", ".join(column.name for column in messages.c)


def _conversations_sql(query: ConversationQuery) -> tuple[Any, ...]:
    conditions: list[str] = []
    args: list[Any] = []
    if query.user_id is not None:
        args.append(query.user_id)
        conditions.append(f"user_id = ${len(args)}")
    if query.archived is not None:
        args.append(query.archived)
        conditions.append(f"archived = ${len(args)}")
    order = "ORDER BY updated_at DESC, conversation_id DESC"
    if conditions:
        # Filtered: unchanged, plain parameters, so that PostgreSQL can plan a page for its
        # values where they matter (a generic plan of `archived = $1` walks the updated_at
        # index, fine for the common value, not for a rare one).
        if query.after is not None:
            args += [query.after.updated_at, query.after.conversation_id]
            conditions.append(f"(updated_at, conversation_id) < (${len(args) - 1}, ${len(args)})")
        args.append(query.limit)
        where = f"WHERE {' AND '.join(conditions)} "
        return (
            f"SELECT {_CONVERSATION_COLUMNS} FROM conversations {where}{order} LIMIT ${len(args)}",
            *args,
        )
    # Unfiltered: one good plan whatever the page, kept by PostgreSQL as the task list's
    # (task_sql.find_tasks): the page size as a literal and the cursor's values as InitPlans.
    # With `LIMIT $n` and `< ($1, $2)` every page was planned again (docs/benchmarks.md).
    where = ""
    if query.after is not None:
        args += [query.after.updated_at, query.after.conversation_id]
        where = (
            "WHERE (updated_at, conversation_id) < ((SELECT $1::timestamptz), (SELECT $2::text)) "
        )
    limit = f"LIMIT {int(query.limit)}"
    return (f"SELECT {_CONVERSATION_COLUMNS} FROM conversations {where}{order} {limit}", *args)


def _messages_sql(query: MessageQuery) -> tuple[Any, ...]:
    args: list[Any] = [query.conversation_id]
    after = ""
    if query.after is not None:
        args += [query.after.created_at, query.after.message_id]
        after = "AND (created_at, message_id) > ($2, $3) "
    args.append(query.limit)
    sql = (
        f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 {after}"
        f"ORDER BY created_at, message_id LIMIT ${len(args)}"
    )
    return (sql, *args)


def _message(row: Mapping[Any, Any]) -> Message:
    return Message(
        message_id=row["message_id"],
        conversation_id=row["conversation_id"],
        role=MessageRole(row["role"]),
        content=row["content"],
        created_at=row["created_at"],
        task_id=row["task_id"],
    )


def _conversation(row: Mapping[Any, Any]) -> Conversation:
    return Conversation(
        conversation_id=row["conversation_id"],
        title=row["title"],
        agent_type=row["agent_type"],
        user_id=row["user_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        archived=row["archived"],
        totals=ConversationTotals(
            messages=row["message_count"],
            tasks=row["task_count"],
            cost_usd=from_micros(row["cost_micros"]),
            input_tokens=row["input_tokens"],
            output_tokens=row["output_tokens"],
        ),
    )
