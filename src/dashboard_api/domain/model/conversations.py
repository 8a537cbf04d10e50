"""Chats with agents: conversations, their messages, and the totals of the tasks they caused."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

import msgspec

from dashboard_api.domain.model.tasks import Task

# A message is a chat turn, not a document: large inputs belong in a data source.
MAX_MESSAGE_CHARS = 32_000
MAX_TITLE_CHARS = 200


class MessageRole(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"
    TOOL = "tool"


class ConversationTotals(msgspec.Struct, kw_only=True, frozen=True):
    """What a conversation has cost so far; kept exact as its tasks change."""

    messages: int = 0
    tasks: int = 0
    cost_usd: Decimal = Decimal("0")
    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: ConversationTotals) -> ConversationTotals:
        return ConversationTotals(
            messages=self.messages + other.messages,
            tasks=self.tasks + other.tasks,
            cost_usd=self.cost_usd + other.cost_usd,
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
        )

    @property
    def is_zero(self) -> bool:
        return self == ConversationTotals()


class Conversation(msgspec.Struct, kw_only=True, frozen=True):
    """A chat thread with one agent type. `updated_at` is its last activity (message or edit)."""

    conversation_id: str
    title: str
    agent_type: str
    user_id: str | None
    created_at: datetime
    updated_at: datetime
    archived: bool = False
    totals: ConversationTotals = ConversationTotals()


class Message(msgspec.Struct, kw_only=True, frozen=True):
    message_id: str
    conversation_id: str
    role: MessageRole
    content: str
    created_at: datetime
    task_id: str | None = None


class ConversationCursor(msgspec.Struct, frozen=True, array_like=True):
    """Keyset position in most-recently-active-first order."""

    updated_at: datetime
    conversation_id: str


class MessageCursor(msgspec.Struct, frozen=True, array_like=True):
    """Keyset position in oldest-first order."""

    created_at: datetime
    message_id: str


class ConversationQuery(msgspec.Struct, kw_only=True, frozen=True):
    user_id: str | None = None
    archived: bool | None = None
    limit: int = 50
    after: ConversationCursor | None = None


class MessageQuery(msgspec.Struct, kw_only=True, frozen=True):
    conversation_id: str
    limit: int = 50
    after: MessageCursor | None = None


def totals_delta(before: Task | None, after: Task) -> ConversationTotals:
    """How a conversation's totals move when one of its tasks is created or changed."""
    if after.conversation_id is None:
        return ConversationTotals()
    if before is not None and before.conversation_id != after.conversation_id:
        before = None  # newly linked: the conversation gains the whole task
    old_cost, old_in, old_out = (
        (before.cost_usd, before.input_tokens, before.output_tokens)
        if before is not None
        else (Decimal("0"), 0, 0)
    )
    return ConversationTotals(
        tasks=1 if before is None else 0,
        cost_usd=after.cost_usd - old_cost,
        input_tokens=after.input_tokens - old_in,
        output_tokens=after.output_tokens - old_out,
    )
