"""The bodies of the conversation routes."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from dashboard_api.domain.limits import Label, Name
from dashboard_api.domain.model.conversations import MAX_MESSAGE_CHARS, MAX_TITLE_CHARS, MessageRole
from dashboard_api.domain.services.conversations import (
    ConversationPatch,
    NewConversation,
    NewMessage,
)
from dashboard_api.http.schemas.fields import TaskId

Title = Annotated[str, Meta(max_length=MAX_TITLE_CHARS)]
Content = Annotated[str, Meta(min_length=1, max_length=MAX_MESSAGE_CHARS)]


class ConversationCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    agent_type: Name
    title: Title = ""
    user_id: Label | None = None
    conversation_id: TaskId | None = None

    def to_domain(self) -> NewConversation:
        return NewConversation(
            agent_type=self.agent_type,
            title=self.title,
            user_id=self.user_id,
            conversation_id=self.conversation_id,
        )


class ConversationUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    title: Title | UnsetType = UNSET
    archived: bool | UnsetType = UNSET

    def to_domain(self) -> ConversationPatch:
        return ConversationPatch(title=self.title, archived=self.archived)


class MessageCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    role: MessageRole
    content: Content
    message_id: TaskId | None = None
    task_id: TaskId | None = None

    def to_domain(self) -> NewMessage:
        return NewMessage(
            role=self.role, content=self.content, message_id=self.message_id, task_id=self.task_id
        )
