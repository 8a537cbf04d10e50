"""Conversations, messages and the hand-off outbox in memory, in the order the SQL stores use."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec

from dashboard_api.adapters.memory.overlay import Overlay
from dashboard_api.domain.errors import Conflict
from dashboard_api.domain.model.conversations import (
    Conversation,
    ConversationQuery,
    ConversationTotals,
    Message,
    MessageQuery,
)
from dashboard_api.domain.model.handoff import OutboxEntry


class MemoryConversationStore:
    def __init__(
        self, conversations: Overlay[str, Conversation], messages: Overlay[str, Message]
    ) -> None:
        self._rows = conversations
        self._messages = messages

    async def add(self, conversation: Conversation) -> None:
        if conversation.conversation_id in self._rows:
            raise Conflict(
                f"conversation {conversation.conversation_id} already exists",
                conversation_id=conversation.conversation_id,
            )
        self._rows.put(conversation.conversation_id, conversation)

    async def get(self, conversation_id: str) -> Conversation | None:
        return self._rows.get(conversation_id)

    async def get_many(self, conversation_ids: Sequence[str]) -> dict[str, Conversation]:
        found = ((key, self._rows.get(key)) for key in conversation_ids)
        return {key: row for key, row in found if row is not None}

    async def update(self, conversation: Conversation) -> bool:
        stored = self._rows.get(conversation.conversation_id)
        if stored is None:
            return False
        kept = msgspec.structs.replace(conversation, totals=stored.totals)
        self._rows.put(conversation.conversation_id, kept)
        return True

    async def delete(self, conversation_id: str) -> bool:
        if conversation_id not in self._rows:
            return False
        self._rows.delete(conversation_id)
        for message in list(self._messages.values()):
            if message.conversation_id == conversation_id:
                self._messages.delete(message.message_id)
        return True

    async def find(self, query: ConversationQuery) -> list[Conversation]:
        def keep(row: Conversation) -> bool:
            if query.user_id is not None and row.user_id != query.user_id:
                return False
            if query.archived is not None and row.archived != query.archived:
                return False
            after = query.after
            return after is None or (row.updated_at, row.conversation_id) < (
                after.updated_at,
                after.conversation_id,
            )

        rows = sorted(
            filter(keep, self._rows.values()),
            key=lambda row: (row.updated_at, row.conversation_id),
            reverse=True,
        )
        return rows[: query.limit]

    async def add_totals(
        self, conversation_id: str, delta: ConversationTotals, *, active_at: datetime | None
    ) -> None:
        stored = self._rows.get(conversation_id)
        if stored is None:
            return
        changed = msgspec.structs.replace(stored, totals=stored.totals + delta)
        if active_at is not None:
            changed = msgspec.structs.replace(changed, updated_at=active_at)
        self._rows.put(conversation_id, changed)

    async def add_totals_many(self, deltas: Mapping[str, ConversationTotals]) -> None:
        for conversation_id, delta in deltas.items():
            await self.add_totals(conversation_id, delta, active_at=None)


class MemoryMessageStore:
    def __init__(self, messages: Overlay[str, Message]) -> None:
        self._rows = messages

    async def add(self, message: Message) -> None:
        if message.message_id in self._rows:
            raise Conflict(f"message {message.message_id} already exists", field="message_id")
        self._rows.put(message.message_id, message)

    async def find(self, query: MessageQuery) -> list[Message]:
        after = query.after
        rows = sorted(
            (
                row
                for row in self._rows.values()
                if row.conversation_id == query.conversation_id
                and (
                    after is None
                    or (row.created_at, row.message_id) > (after.created_at, after.message_id)
                )
            ),
            key=lambda row: (row.created_at, row.message_id),
        )
        return rows[: query.limit]


class MemoryOutbox:
    def __init__(self, entries: Overlay[str, OutboxEntry]) -> None:
        self._rows = entries

    async def add(self, entry: OutboxEntry) -> None:
        self._rows.put(entry.entry_id, entry)

    async def claim(self, limit: int) -> list[OutboxEntry]:
        # The memory unit of work holds the one write lock: claiming needs no row locks.
        rows = sorted(self._rows.values(), key=lambda entry: (entry.created_at, entry.entry_id))
        return rows[:limit]

    async def remove(self, entry_id: str) -> None:
        self._rows.delete(entry_id)


class MemoryWorkQueue:
    """Work queues as lists, for embedders and tests; `pushed` is what a worker would read."""

    def __init__(self) -> None:
        self.pushed: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        self.fail_next = 0  # tests make the queue "unreachable" for this many pushes

    async def push(self, queue: str, entry_id: str, payload: Mapping[str, Any]) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise ConnectionError(f"work queue {queue} is unreachable")
        self.pushed.setdefault(queue, []).append((entry_id, dict(payload)))

    def entries(self, queue: str) -> list[dict[str, Any]]:
        return [payload for _, payload in self.pushed.get(queue, [])]
