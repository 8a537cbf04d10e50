"""Chat use cases on the memory adapters: a user message, its task and its hand-off are one."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dashboard_api.domain.errors import Conflict, InvalidInput, NotFound
from dashboard_api.domain.model.conversations import (
    MAX_MESSAGE_CHARS,
    ConversationCursor,
    ConversationQuery,
    ConversationTotals,
    MessageQuery,
    MessageRole,
)
from dashboard_api.domain.model.tasks import NewTask, TaskPatch, TaskQuery, TaskStatus
from dashboard_api.domain.pagination import decode_cursor
from dashboard_api.domain.services.conversations import (
    ConversationPatch,
    NewConversation,
    NewMessage,
)
from tests.unit.world import ENGINE, World, build_world


@pytest.fixture
def world() -> World:
    return build_world()


async def _start(world: World, **fields: object) -> str:
    new = NewConversation(agent_type="coder", title="Flaky test", **fields)  # type: ignore[arg-type]
    return (await world.conversations.start(new)).conversation_id


def _user(content: str = "fix the flaky test", **fields: object) -> NewMessage:
    return NewMessage(role=MessageRole.USER, content=content, **fields)  # type: ignore[arg-type]


async def test_a_user_message_creates_a_linked_queued_task_and_hands_it_over(world: World) -> None:
    conversation_id = await _start(world)
    message = await world.conversations.post_message(conversation_id, _user())
    assert message.task_id is not None
    task = await world.tasks.get(message.task_id)
    assert (task.status, task.conversation_id, task.agent_type) == (
        TaskStatus.QUEUED,
        conversation_id,
        "coder",
    )
    assert task.input_message == "fix the flaky test"
    assert world.queue.entries(ENGINE) == [
        {
            "type": "task_queued",
            "task_id": task.task_id,
            "agent_type": "coder",
            "conversation_id": conversation_id,
            "message_id": message.message_id,
            "input_message": "fix the flaky test",
            "created_at": "2026-11-24T12:00:00Z",
        }
    ]
    assert await world.pending_handoffs() == 0
    published = world.bus.on(f"conversation:{conversation_id}")
    assert [event["message_id"] for event in published] == [message.message_id]
    assert [event["task_id"] for event in world.bus.on("tasks")] == [task.task_id]


async def test_other_roles_create_no_task_and_may_name_an_existing_one(world: World) -> None:
    conversation_id = await _start(world)
    asked = await world.conversations.post_message(conversation_id, _user())
    reply = NewMessage(role=MessageRole.ASSISTANT, content="done", task_id=asked.task_id)
    answered = await world.conversations.post_message(conversation_id, reply)
    assert answered.task_id == asked.task_id
    with pytest.raises(InvalidInput) as invented:
        await world.conversations.post_message(
            conversation_id, NewMessage(role=MessageRole.TOOL, content="x", task_id="nope")
        )
    assert invented.value.field == "task_id"
    with pytest.raises(InvalidInput):
        await world.conversations.post_message(conversation_id, _user(task_id=asked.task_id))
    tasks = await world.tasks.list_tasks(TaskQuery(conversation_id=conversation_id))
    assert len(tasks.items) == 1
    assert len(world.queue.entries(ENGINE)) == 1


@pytest.mark.parametrize("content", ["", "   ", "x" * (MAX_MESSAGE_CHARS + 1)])
async def test_bad_content_changes_nothing(world: World, content: str) -> None:
    conversation_id = await _start(world)
    with pytest.raises(InvalidInput) as error:
        await world.conversations.post_message(conversation_id, _user(content))
    assert error.value.field == "content"
    conversation = await world.conversations.get(conversation_id)
    assert conversation.totals == ConversationTotals()
    assert (await world.tasks.list_tasks(TaskQuery())).items == []


async def test_a_failed_message_write_leaves_no_task_behind(world: World) -> None:
    conversation_id = await _start(world)
    await world.conversations.post_message(conversation_id, _user(message_id="m-1"))
    with pytest.raises(Conflict):
        await world.conversations.post_message(conversation_id, _user(message_id="m-1"))
    assert len((await world.tasks.list_tasks(TaskQuery())).items) == 1
    assert len(world.queue.entries(ENGINE)) == 1
    assert (await world.conversations.get(conversation_id)).totals.messages == 1


async def test_an_unreachable_engine_queue_defers_the_hand_off_without_losing_it(
    world: World,
) -> None:
    conversation_id = await _start(world)
    world.queue.fail_next = 1
    message = await world.conversations.post_message(conversation_id, _user())
    assert world.queue.entries(ENGINE) == []
    assert (await world.tasks.get(str(message.task_id))).status is TaskStatus.QUEUED
    assert await world.pending_handoffs() == 1
    assert await world.relay.deliver_all() == 1
    assert [entry["task_id"] for entry in world.queue.entries(ENGINE)] == [message.task_id]
    assert await world.relay.deliver_all() == 0


async def test_messages_go_to_unknown_or_archived_conversations_nowhere(world: World) -> None:
    with pytest.raises(NotFound):
        await world.conversations.post_message("missing", _user())
    conversation_id = await _start(world)
    await world.conversations.edit(conversation_id, ConversationPatch(archived=True))
    with pytest.raises(Conflict):
        await world.conversations.post_message(conversation_id, _user())
    assert (await world.tasks.list_tasks(TaskQuery())).items == []


async def test_totals_stay_exact_as_linked_tasks_finish(world: World) -> None:
    conversation_id = await _start(world)
    task_ids = []
    for _ in range(3):
        message = await world.conversations.post_message(conversation_id, _user())
        task_ids.append(str(message.task_id))
    costs = [Decimal("0.100001"), Decimal("0.2"), Decimal("1.000003")]
    for task_id, cost in zip(task_ids, costs, strict=True):
        await world.tasks.update(task_id, TaskPatch(status=TaskStatus.RUNNING))
        await world.tasks.update(
            task_id,
            TaskPatch(
                status=TaskStatus.COMPLETED, cost_usd=cost, input_tokens=100, output_tokens=7
            ),
        )
    await world.tasks.update(task_ids[0], TaskPatch(cost_usd=Decimal("0.1")))  # a correction
    # A task registered directly for this conversation counts too.
    await world.tasks.register(NewTask(agent_type="coder", conversation_id=conversation_id))
    await world.conversations.post_message(
        conversation_id, NewMessage(role=MessageRole.ASSISTANT, content="all done")
    )
    totals = (await world.conversations.get(conversation_id)).totals
    assert totals == ConversationTotals(
        messages=4,
        tasks=4,
        cost_usd=Decimal("1.300003"),
        input_tokens=300,
        output_tokens=21,
    )


async def test_conversations_list_most_recently_active_first(world: World) -> None:
    ids = []
    for user in ("a", "b", "a"):
        ids.append(await _start(world, user_id=user))
        world.clock.advance(minutes=1)
    await world.conversations.post_message(ids[0], _user())  # the oldest becomes the latest
    page = await world.conversations.list_conversations(ConversationQuery(limit=2))
    assert [c.conversation_id for c in page.items] == [ids[0], ids[2]]
    assert page.next_cursor is not None
    rest = await world.conversations.list_conversations(
        ConversationQuery(limit=2, after=decode_cursor(page.next_cursor, ConversationCursor))
    )
    assert [c.conversation_id for c in rest.items] == [ids[1]]
    assert rest.next_cursor is None
    mine = await world.conversations.list_conversations(ConversationQuery(user_id="b"))
    assert [c.conversation_id for c in mine.items] == [ids[1]]


async def test_messages_read_oldest_first_in_bounded_pages(world: World) -> None:
    conversation_id = await _start(world)
    posted = []
    for i in range(5):
        role = MessageRole.USER if i % 2 == 0 else MessageRole.ASSISTANT
        posted.append(
            await world.conversations.post_message(
                conversation_id, NewMessage(role=role, content=f"turn {i}")
            )
        )
        world.clock.advance(seconds=1)
    first = await world.conversations.messages(
        MessageQuery(conversation_id=conversation_id, limit=3)
    )
    assert [m.content for m in first.items] == ["turn 0", "turn 1", "turn 2"]
    assert first.next_cursor is not None
    with pytest.raises(NotFound):
        await world.conversations.messages(MessageQuery(conversation_id="missing"))


async def test_edit_and_delete(world: World) -> None:
    conversation_id = await _start(world)
    world.clock.advance(minutes=3)
    edited = await world.conversations.edit(conversation_id, ConversationPatch(title="  Renamed "))
    assert (edited.title, edited.updated_at) == ("Renamed", world.clock.now)
    with pytest.raises(InvalidInput):
        await world.conversations.edit(conversation_id, ConversationPatch(title="x" * 201))
    await world.conversations.post_message(conversation_id, _user())
    await world.conversations.delete(conversation_id)
    with pytest.raises(NotFound):
        await world.conversations.get(conversation_id)
    with pytest.raises(NotFound):
        await world.conversations.delete(conversation_id)
    assert len((await world.tasks.list_tasks(TaskQuery())).items) == 1  # run history stays
