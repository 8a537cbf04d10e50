"""The task and conversation routes as the groote-ai engine calls them.

Mounted instead of the native controllers when DASHBOARD_GROOTE_EVENTS is set: the same
routes, bodies that also take the fields that engine sends (http/groote_schemas.py), and the
three routes it needs that the native API has not (a conversation by flow id, its context, a
task's origin). A body without those fields is handled exactly as natively.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from dashboard_api.domain.errors import InvalidInput
from dashboard_api.domain.model.conversations import Conversation, Message, MessageRole
from dashboard_api.domain.model.origins import MAX_FLOW_ID_CHARS, TaskOrigin
from dashboard_api.domain.services.conversations import ConversationService
from dashboard_api.domain.services.groote import GrooteBridge
from dashboard_api.domain.services.groote_conversations import FlowConversations
from dashboard_api.domain.services.tasks import TaskService
from dashboard_api.http.auth import GROOTE_CALL, INGEST
from dashboard_api.http.controllers.conversations import ConversationController, ConversationId
from dashboard_api.http.controllers.tasks import TaskController, TaskIdPath
from dashboard_api.http.schemas.conversations import MessageCreate
from dashboard_api.http.schemas.groote import (
    ContextMessage,
    FlowConversationView,
    FlowView,
    GrooteConversationCreate,
    GrooteTaskCreate,
    GrooteTaskUpdate,
    TaskOriginView,
    check_metadata,
)
from dashboard_api.http.schemas.tasks import TaskDetail

MAX_CONTEXT_MESSAGES = 100


class GrooteTaskController(TaskController):
    @post(
        "/",
        status_code=HTTP_201_CREATED,
        opt={**INGEST, **GROOTE_CALL},
        summary="Register a task (duplicate id: 409; groote-ai's registration fills it in)",
    )
    async def create_task(
        self,
        task_service: NamedDependency[TaskService],
        groote_bridge: NamedDependency[GrooteBridge],
        data: JSONBody[GrooteTaskCreate],
    ) -> Response[TaskDetail]:
        origin = None
        if data.task_id is not None and (data.flow_id or data.source_metadata):
            origin = TaskOrigin(
                task_id=data.task_id,
                flow_id=data.flow_id,
                source_metadata=check_metadata(data.source_metadata, "source_metadata"),
            )
        if data.agent_type is not None:
            task = await task_service.register(data.native().to_domain())
            if origin is not None:
                await groote_bridge.keep_origin(origin)
            return Response(TaskDetail.of(task), status_code=HTTP_201_CREATED)
        if data.task_id is None:
            raise InvalidInput(
                "agent_type is required (or a task_id to register)", field="agent_type"
            )
        task, created = await groote_bridge.register(data.task_id, data.engine_fields(), origin)
        status = HTTP_201_CREATED if created else HTTP_200_OK
        return Response(TaskDetail.of(task), status_code=status)

    @patch(
        "/{task_id:str}",
        opt={**INGEST, **GROOTE_CALL},
        summary="Change a task's status and metrics",
    )
    async def update_task(
        self,
        task_service: NamedDependency[TaskService],
        groote_bridge: NamedDependency[GrooteBridge],
        task_id: TaskIdPath,
        data: JSONBody[GrooteTaskUpdate],
    ) -> TaskDetail:
        if data.is_engine_report():
            return TaskDetail.of(await groote_bridge.report(task_id, data.report()))
        return TaskDetail.of(await task_service.update(task_id, data.native().to_domain()))

    @get("/{task_id:str}/origin", summary="Where an engine said the task came from")
    async def task_origin(
        self, groote_bridge: NamedDependency[GrooteBridge], task_id: TaskIdPath
    ) -> TaskOriginView:
        origin = await groote_bridge.origin(task_id)
        return TaskOriginView(
            task_id=origin.task_id, flow_id=origin.flow_id, source_metadata=origin.source_metadata
        )


class GrooteConversationController(ConversationController):
    @post(
        "/",
        status_code=HTTP_201_CREATED,
        opt=GROOTE_CALL,
        summary="Start a conversation (or a flow's)",
    )
    async def create_conversation(
        self,
        conversation_service: NamedDependency[ConversationService],
        flow_conversations: NamedDependency[FlowConversations],
        data: JSONBody[GrooteConversationCreate],
    ) -> Response[FlowConversationView | Conversation]:
        if data.flow_id is None:
            started = await conversation_service.start(data.native().to_domain())
            return Response(started, status_code=HTTP_201_CREATED)
        conversation, flow, created = await flow_conversations.open(
            data.flow_id,
            title=data.title,
            source=data.source,
            metadata=check_metadata(data.metadata, "metadata"),
            agent_type=data.agent_type,
        )
        view = FlowConversationView(
            conversation_id=conversation.conversation_id,
            flow_id=flow.flow_id,
            title=conversation.title,
            agent_type=conversation.agent_type,
            source=flow.source,
            metadata=flow.metadata,
            created_at=conversation.created_at,
        )
        return Response(view, status_code=HTTP_201_CREATED if created else HTTP_200_OK)

    @post(
        "/{conversation_id:str}/messages",
        status_code=HTTP_201_CREATED,
        opt=GROOTE_CALL,
        summary="Post a message; a user message creates a queued task for the agent",
    )
    async def post_message(
        self,
        conversation_service: NamedDependency[ConversationService],
        flow_conversations: NamedDependency[FlowConversations],
        conversation_id: ConversationId,
        data: JSONBody[MessageCreate],
    ) -> Message:
        new = data.to_domain()
        repeat = await flow_conversations.repeat_of(conversation_id, new)
        if repeat is not None:
            return repeat
        return await conversation_service.post_message(conversation_id, new)

    @get(
        "/by-flow/{flow_id:path}",
        opt=GROOTE_CALL,
        summary="The conversation that follows a flow (404: none)",
    )
    async def conversation_by_flow(
        self,
        flow_conversations: NamedDependency[FlowConversations],
        flow_id: Annotated[str, PathParameter(min_length=2, max_length=MAX_FLOW_ID_CHARS + 1)],
    ) -> FlowView:
        # A path parameter keeps the slashes of `github:owner/repo#12` (sent URL-encoded).
        flow = await flow_conversations.of_flow(flow_id.removeprefix("/"))
        return FlowView(
            conversation_id=flow.conversation_id,
            flow_id=flow.flow_id,
            source=flow.source,
            metadata=flow.metadata,
            created_at=flow.created_at,
        )

    @get(
        "/{conversation_id:str}/context",
        opt=GROOTE_CALL,
        summary="The last messages, as an engine's context",
    )
    async def conversation_context(
        self,
        flow_conversations: NamedDependency[FlowConversations],
        conversation_id: ConversationId,
        max_messages: Annotated[int, QueryParameter(ge=1, le=MAX_CONTEXT_MESSAGES)] = 5,
        roles: Annotated[str | None, QueryParameter(max_length=100)] = None,
    ) -> list[ContextMessage]:
        wanted = _roles(roles)
        messages = await flow_conversations.context(
            conversation_id, roles=wanted, max_messages=max_messages
        )
        return [
            ContextMessage(role=m.role, content=m.content, created_at=m.created_at)
            for m in messages
        ]


def _roles(text: str | None) -> frozenset[MessageRole]:
    if not text:
        return frozenset()
    try:
        return frozenset(MessageRole(part.strip()) for part in text.split(",") if part.strip())
    except ValueError as exc:
        known = ", ".join(role.value for role in MessageRole)
        raise InvalidInput(f"roles are a comma-separated list of {known}", field="roles") from exc
