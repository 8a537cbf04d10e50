"""Use cases of chat: start, list, edit and delete conversations; read and post messages.

A user message and the task it creates are written in one unit of work together with the
outbox entry that hands the task to the engine; the message, the task and the hand-off all
exist or none does. Events and the hand-off go out after the commit.
"""

from __future__ import annotations

import logging

import msgspec

from dashboard_api.domain.clock import Clock, utc_now
from dashboard_api.domain.errors import Conflict, InvalidInput, NotFound
from dashboard_api.domain.ids import uuid7
from dashboard_api.domain.limits import check_id
from dashboard_api.domain.model.channels import (
    conversation_channel,
    engine_job,
    message_event,
)
from dashboard_api.domain.model.conversations import (
    MAX_MESSAGE_CHARS,
    MAX_TITLE_CHARS,
    Conversation,
    ConversationCursor,
    ConversationQuery,
    ConversationTotals,
    Message,
    MessageCursor,
    MessageQuery,
    MessageRole,
)
from dashboard_api.domain.model.handoff import OutboxEntry
from dashboard_api.domain.model.tasks import UNSET, Task, TaskStatus, UnsetType
from dashboard_api.domain.pagination import Page
from dashboard_api.domain.ports import (
    ConversationStore,
    MessageStore,
    UnitOfWorkFactory,
)
from dashboard_api.domain.services.announcing import Announcement, Announcer
from dashboard_api.domain.services.handoff import HandoffRelay
from dashboard_api.domain.services.tasks import TaskService

_log = logging.getLogger(__name__)


class NewConversation(msgspec.Struct, kw_only=True, frozen=True):
    agent_type: str
    title: str = ""
    user_id: str | None = None
    conversation_id: str | None = None


class ConversationPatch(msgspec.Struct, kw_only=True, frozen=True):
    title: str | UnsetType = UNSET
    archived: bool | UnsetType = UNSET


class NewMessage(msgspec.Struct, kw_only=True, frozen=True):
    role: MessageRole
    content: str
    message_id: str | None = None
    task_id: str | None = None  # for assistant/tool messages: the task that produced it


class ConversationService:
    def __init__(
        self,
        *,
        unit_of_work: UnitOfWorkFactory,
        conversations: ConversationStore,
        messages: MessageStore,
        tasks: TaskService,
        relay: HandoffRelay,
        engine_queue: str,
        clock: Clock = utc_now,
        announcer: Announcer | None = None,
    ) -> None:
        self._uow = unit_of_work
        self._conversations = conversations
        self._messages = messages
        self._tasks = tasks
        self._relay = relay
        self._engine_queue = engine_queue
        self._clock = clock
        # A message's live event is staged with its commit, as a task change's is.
        self._announcer = announcer or tasks.announcer

    async def start(self, new: NewConversation) -> Conversation:
        check_id(new.conversation_id, "conversation_id")
        now = self._clock()
        conversation = Conversation(
            conversation_id=new.conversation_id or uuid7(),
            title=_title(new.title),
            agent_type=new.agent_type,
            user_id=new.user_id,
            created_at=now,
            updated_at=now,
        )
        async with self._uow() as uow:
            await uow.conversations.add(conversation)
            await uow.commit()
        return conversation

    async def get(self, conversation_id: str) -> Conversation:
        conversation = await self._conversations.get(conversation_id)
        if conversation is None:
            raise _missing(conversation_id)
        return conversation

    async def list_conversations(self, query: ConversationQuery) -> Page[Conversation]:
        rows = await self._conversations.find(msgspec.structs.replace(query, limit=query.limit + 1))
        return Page.from_rows(
            rows,
            query.limit,
            lambda last: ConversationCursor(last.updated_at, last.conversation_id),
        )

    async def edit(self, conversation_id: str, patch: ConversationPatch) -> Conversation:
        async with self._uow() as uow:
            current = await uow.conversations.get(conversation_id)
            if current is None:
                raise _missing(conversation_id)
            changes: dict[str, object] = {}
            if patch.title is not UNSET:
                changes["title"] = _title(patch.title)
            if patch.archived is not UNSET:
                changes["archived"] = patch.archived
            changed = msgspec.structs.replace(current, **changes)
            if changed == current:
                return current
            changed = msgspec.structs.replace(changed, updated_at=self._clock())
            await uow.conversations.update(changed)
            await uow.commit()
        return changed

    async def delete(self, conversation_id: str) -> None:
        """Delete a conversation and its messages. Its tasks stay: they are the run history."""
        async with self._uow() as uow:
            if not await uow.conversations.delete(conversation_id):
                raise _missing(conversation_id)
            await uow.commit()

    async def messages(self, query: MessageQuery) -> Page[Message]:
        rows = await self._messages.find(msgspec.structs.replace(query, limit=query.limit + 1))
        if not rows:
            await self.get(query.conversation_id)  # an empty page, or no such conversation
        return Page.from_rows(
            rows, query.limit, lambda last: MessageCursor(last.created_at, last.message_id)
        )

    async def post_message(self, conversation_id: str, new: NewMessage) -> Message:
        """Add a message. A user message also creates a queued task, linked both ways, and
        hands it to the engine; other roles may name the task that produced them."""
        content = _content(new.content)
        check_id(new.message_id, "message_id")
        if new.role is MessageRole.USER and new.task_id is not None:
            raise InvalidInput("a user message creates its own task", field="task_id")
        now = self._clock()
        task: Task | None = None
        async with self._uow() as uow:
            conversation = await uow.conversations.get(conversation_id)
            if conversation is None:
                raise _missing(conversation_id)
            if conversation.archived:
                raise Conflict(
                    f"conversation {conversation_id} is archived", conversation_id=conversation_id
                )
            task_id = new.task_id
            if new.role is MessageRole.USER:
                task = Task(
                    task_id=uuid7(),
                    status=TaskStatus.QUEUED,
                    agent_type=conversation.agent_type,
                    source="dashboard",
                    created_at=now,
                    input_message=content,
                    conversation_id=conversation_id,
                )
                task_id = task.task_id
            elif task_id is not None and await uow.tasks.get(task_id) is None:
                raise InvalidInput(f"task {task_id} does not exist", field="task_id")
            message = Message(
                message_id=new.message_id or uuid7(),
                conversation_id=conversation_id,
                role=new.role,
                content=content,
                created_at=now,
                task_id=task_id,
            )
            event = (conversation_channel(conversation_id), message_event(message))
            if task is not None:  # the message's event first, then its task's, in one stage
                announcement = await self._tasks.stage_new(uow, task, with_events=[event])
            else:
                announcement = await self._announcer.stage(uow, conversation_id, [event])
            await uow.messages.add(message)
            await uow.conversations.add_totals(
                conversation_id, ConversationTotals(messages=1), active_at=now
            )
            if task is not None:
                await uow.outbox.add(
                    OutboxEntry(
                        entry_id=task.task_id,
                        queue=self._engine_queue,
                        payload=engine_job(task, message),
                        created_at=now,
                    )
                )
            await uow.commit()
        await self._after_commit(announcement, task is not None)
        return message

    async def _after_commit(self, announcement: Announcement, with_task: bool) -> None:
        # The message is stored: failing the request now would make a client retry post it
        # twice. Its live events were staged with the commit (`announce` never raises); the
        # hand-off is retried by the relay loop.
        await self._announcer.announce(announcement)
        if not with_task:
            return
        try:
            await self._relay.deliver_pending()
        except Exception:  # the entry stays in the outbox; the relay's next round delivers it
            _log.warning("engine hand-off deferred", exc_info=True)


def _missing(conversation_id: str) -> NotFound:
    return NotFound(
        f"conversation {conversation_id} does not exist", conversation_id=conversation_id
    )


def _title(title: str) -> str:
    title = title.strip()
    if len(title) > MAX_TITLE_CHARS:
        raise InvalidInput(f"title is longer than {MAX_TITLE_CHARS} characters", field="title")
    return title


def _content(content: str) -> str:
    if not content.strip():
        raise InvalidInput("content is empty", field="content")
    if len(content) > MAX_MESSAGE_CHARS:
        raise InvalidInput(
            f"content is longer than {MAX_MESSAGE_CHARS} characters", field="content"
        )
    return content
