"""Conversations as the groote-ai engine uses them: one per outside thread, found by flow id,
and the last few messages of it as context for the next task."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Collection
from typing import Any

from dashboard_api.domain.clock import Clock, utc_now
from dashboard_api.domain.errors import NotFound
from dashboard_api.domain.ids import uuid7
from dashboard_api.domain.model.conversations import (
    Conversation,
    Message,
    MessageCursor,
    MessageQuery,
    MessageRole,
)
from dashboard_api.domain.model.origins import ConversationFlow
from dashboard_api.domain.pagination import MAX_PAGE_SIZE, decode_cursor
from dashboard_api.domain.ports import OriginStore
from dashboard_api.domain.services.conversations import (
    ConversationService,
    NewConversation,
    NewMessage,
)

# The context route reads a conversation from its start (messages are stored oldest first);
# a flow conversation is one issue or thread, so this bound is far above what one holds.
MAX_CONTEXT_SCAN = 20 * MAX_PAGE_SIZE


class FlowConversations:
    def __init__(
        self,
        *,
        conversations: ConversationService,
        origins: OriginStore,
        clock: Clock = utc_now,
        default_agent: str = "brain",
    ) -> None:
        self._conversations = conversations
        self._origins = origins
        self._clock = clock
        self._default_agent = default_agent

    async def open(
        self,
        flow_id: str,
        *,
        title: str,
        source: str | None,
        metadata: dict[str, Any] | None,
        agent_type: str | None = None,
    ) -> tuple[Conversation, ConversationFlow, bool]:
        """The conversation of a flow, started when it has none. Returns it, its flow, and
        whether this call started it. Two concurrent calls end on one conversation."""
        flow = await self._origins.flow(flow_id)
        if flow is not None:
            return await self._conversations.get(flow.conversation_id), flow, False
        conversation = await self._conversations.start(
            NewConversation(
                agent_type=agent_type or self._default_agent,
                title=title,
                conversation_id=uuid7(),
            )
        )
        wanted = ConversationFlow(
            flow_id=flow_id,
            conversation_id=conversation.conversation_id,
            source=source,
            metadata=metadata,
            created_at=self._clock(),
        )
        flow = await self._origins.link_flow(wanted)
        if flow.conversation_id != conversation.conversation_id:
            # Another call linked the flow first: its conversation is the flow's, ours goes.
            await self._conversations.delete(conversation.conversation_id)
            return await self._conversations.get(flow.conversation_id), flow, False
        return conversation, flow, True

    async def of_flow(self, flow_id: str) -> ConversationFlow:
        flow = await self._origins.flow(flow_id)
        if flow is None:
            raise NotFound(f"no conversation follows flow {flow_id}", flow_id=flow_id)
        return flow

    async def context(
        self, conversation_id: str, *, roles: Collection[MessageRole], max_messages: int
    ) -> list[Message]:
        """The last `max_messages` messages with one of `roles` (all roles when empty),
        oldest first."""
        kept: deque[Message] = deque(maxlen=max_messages)
        async for message in self._messages(conversation_id):
            if not roles or message.role in roles:
                kept.append(message)
        return list(kept)

    async def repeat_of(self, conversation_id: str, new: NewMessage) -> Message | None:
        """The message a retried engine post repeats: same task, role and content. The engine
        retries what it thinks was lost; a chat message of a task is said once."""
        if new.role is MessageRole.USER or new.task_id is None or new.message_id is not None:
            return None
        async for message in self._messages(conversation_id):
            if (message.task_id, message.role, message.content) == (
                new.task_id,
                new.role,
                new.content,
            ):
                return message
        return None

    async def _messages(self, conversation_id: str) -> AsyncIterator[Message]:
        await self._conversations.get(conversation_id)  # 404 for an unknown conversation
        cursor: str | None = None
        for _ in range(MAX_CONTEXT_SCAN // MAX_PAGE_SIZE):
            page = await self._conversations.messages(
                MessageQuery(
                    conversation_id=conversation_id, limit=MAX_PAGE_SIZE, after=_after(cursor)
                )
            )
            for message in page.items:
                yield message
            cursor = page.next_cursor
            if cursor is None:
                return


def _after(cursor: str | None) -> MessageCursor | None:
    return None if cursor is None else decode_cursor(cursor, MessageCursor)
