"""`/api/conversations`: chats with agents and their messages."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from dashboard_api.domain.limits import ID_CHARS, LABEL_CHARS
from dashboard_api.domain.model.conversations import (
    Conversation,
    ConversationCursor,
    ConversationQuery,
    Message,
    MessageCursor,
    MessageQuery,
)
from dashboard_api.domain.pagination import MAX_PAGE_SIZE, decode_cursor
from dashboard_api.domain.services.conversations import ConversationService
from dashboard_api.http.pages import ConversationPage, MessagePage
from dashboard_api.http.problem_responses import READ_ERRORS, WRITE_ERRORS, errors
from dashboard_api.http.schemas.conversations import (
    ConversationCreate,
    ConversationUpdate,
    MessageCreate,
)
from dashboard_api.http.strict_body import StrictBody

ConversationId = Annotated[str, PathParameter(min_length=1, max_length=ID_CHARS)]
Limit = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)]
Cursor = Annotated[str | None, QueryParameter(max_length=512)]


class ConversationController(Controller):
    path = "/api/conversations"
    tags = ["conversations"]

    @get(
        "/",
        operation_id="listConversations",
        summary="List conversations, most recently active first",
        responses=errors(*READ_ERRORS),
    )
    async def list_conversations(
        self,
        conversation_service: NamedDependency[ConversationService],
        user_id: Annotated[str | None, QueryParameter(min_length=1, max_length=LABEL_CHARS)] = None,
        archived: Annotated[bool | None, QueryParameter()] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> ConversationPage:
        query = ConversationQuery(
            user_id=user_id,
            archived=archived,
            limit=limit,
            after=decode_cursor(cursor, ConversationCursor) if cursor else None,
        )
        return await conversation_service.list_conversations(query)

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        operation_id="createConversation",
        summary="Start a conversation with an agent type",
        responses=errors(*WRITE_ERRORS, 409),
        dto=StrictBody[ConversationCreate],
        return_dto=None,
    )
    async def create_conversation(
        self,
        conversation_service: NamedDependency[ConversationService],
        data: JSONBody[ConversationCreate],
    ) -> Conversation:
        return await conversation_service.start(data.to_domain())

    @get(
        "/{conversation_id:str}",
        operation_id="getConversation",
        summary="One conversation with its totals",
        responses=errors(*READ_ERRORS, 404),
    )
    async def get_conversation(
        self,
        conversation_service: NamedDependency[ConversationService],
        conversation_id: ConversationId,
    ) -> Conversation:
        return await conversation_service.get(conversation_id)

    @patch(
        "/{conversation_id:str}",
        operation_id="updateConversation",
        summary="Rename or (un)archive a conversation",
        responses=errors(*WRITE_ERRORS, 404),
        dto=StrictBody[ConversationUpdate],
        return_dto=None,
    )
    async def update_conversation(
        self,
        conversation_service: NamedDependency[ConversationService],
        conversation_id: ConversationId,
        data: JSONBody[ConversationUpdate],
    ) -> Conversation:
        return await conversation_service.edit(conversation_id, data.to_domain())

    @delete(
        "/{conversation_id:str}",
        status_code=HTTP_204_NO_CONTENT,
        operation_id="deleteConversation",
        summary="Delete a conversation and its messages (its tasks stay)",
        responses=errors(*READ_ERRORS, 404, 415),
    )
    async def delete_conversation(
        self,
        conversation_service: NamedDependency[ConversationService],
        conversation_id: ConversationId,
    ) -> None:
        await conversation_service.delete(conversation_id)

    @get(
        "/{conversation_id:str}/messages",
        operation_id="listMessages",
        summary="Messages, oldest first",
        responses=errors(*READ_ERRORS, 404),
    )
    async def list_messages(
        self,
        conversation_service: NamedDependency[ConversationService],
        conversation_id: ConversationId,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> MessagePage:
        query = MessageQuery(
            conversation_id=conversation_id,
            limit=limit,
            after=decode_cursor(cursor, MessageCursor) if cursor else None,
        )
        return await conversation_service.messages(query)

    @post(
        "/{conversation_id:str}/messages",
        status_code=HTTP_201_CREATED,
        operation_id="postMessage",
        summary="Post a message; a user message creates a queued task for the agent",
        responses=errors(*WRITE_ERRORS, 404, 409),
        dto=StrictBody[MessageCreate],
        return_dto=None,
    )
    async def post_message(
        self,
        conversation_service: NamedDependency[ConversationService],
        conversation_id: ConversationId,
        data: JSONBody[MessageCreate],
    ) -> Message:
        return await conversation_service.post_message(conversation_id, data.to_domain())
