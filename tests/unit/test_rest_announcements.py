"""A REST change's announcement is staged with its commit (the API outbox): a process that dies
between the commit and the publish, or a bus that fails there, leaves it to a later round in
any replica, which publishes it once; a change that did not commit is never announced."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from dashboard_api.adapters.memory import MemoryDatabase, MemoryTaskStore, MemoryUnitOfWork
from dashboard_api.adapters.memory.bus import MemoryEventBus
from dashboard_api.adapters.redis.bus import RedisEventBus
from dashboard_api.domain.model.channels import (
    TASKS_CHANNEL,
    Event,
    conversation_channel,
    task_channel,
)
from dashboard_api.domain.model.conversations import MessageRole
from dashboard_api.domain.model.tasks import NewTask, TaskPatch, TaskStatus
from dashboard_api.domain.ports import EventBus
from dashboard_api.domain.services.announcing import Announcer
from dashboard_api.domain.services.conversations import NewConversation, NewMessage
from dashboard_api.domain.services.tasks import TaskService
from tests.redis_support import require_shared_redis
from tests.unit.fakes import SteppingClock
from tests.unit.world import build_world

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


class FailingBus:
    """A bus that refuses what it is told to: `stage` (the bus is down before the commit) or
    `publish_staged` (the process dies, or the bus fails, after the commit)."""

    def __init__(self, inner: EventBus) -> None:
        self.inner = inner
        self.refuse: set[str] = set()

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def stage(
        self, outbox: str, token: str, events: Sequence[tuple[str, Event]]
    ) -> list[str]:
        if "stage" in self.refuse:
            raise ConnectionError("bus down")
        return await self.inner.stage(outbox, token, events)

    async def publish_staged(self, outbox: str, token: str) -> None:
        if "publish_staged" in self.refuse:
            raise ConnectionError("bus down")
        await self.inner.publish_staged(outbox, token)

    async def publish_many(self, events: Sequence[tuple[str, Event]]) -> list[str]:
        if "publish_many" in self.refuse:
            raise ConnectionError("bus down")
        return await self.inner.publish_many(events)


class CommitFails(MemoryUnitOfWork):
    async def commit(self) -> None:
        raise ConnectionError("database gone at the commit")


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
async def buses(request: pytest.FixtureRequest) -> AsyncIterator[tuple[EventBus, EventBus]]:
    """The bus as each of two replicas sees it: one in-process bus, or two Redis clients."""
    if request.param == "memory":
        memory = MemoryEventBus()
        yield memory, memory
        return
    url = require_shared_redis()
    a, b = RedisEventBus.from_url(url), RedisEventBus.from_url(url)
    yield a, b
    await a.close()
    await b.close()


class Replicas:
    """Two services on one database and one bus: `a` takes the requests, `b` only recovers."""

    def __init__(self, buses: tuple[EventBus, EventBus]) -> None:
        bus, other = buses
        self.db = MemoryDatabase()
        self.clock = SteppingClock(START)
        self.bus = FailingBus(bus)
        self.outbox = f"test:announcing-api:{uuid.uuid4().hex[:12]}"
        self.commit_fails = False
        self.a = self._service(self.bus)
        self.b = self._service(other)

    def _uow(self) -> MemoryUnitOfWork:
        return CommitFails(self.db) if self.commit_fails else MemoryUnitOfWork(self.db)

    def _service(self, bus: object) -> TaskService:
        return TaskService(
            unit_of_work=self._uow,
            reads=MemoryTaskStore(self.db),
            bus=bus,  # type: ignore[arg-type]
            clock=self.clock,
            announcer=Announcer(
                unit_of_work=self._uow,
                bus=bus,  # type: ignore[arg-type]
                clock=self.clock,
                outbox=self.outbox,
            ),
        )

    async def statuses(self, task_id: str) -> list[str]:
        raw = await self.bus.inner.history(task_channel(task_id), after=None, limit=100)
        return [str(msgspec.json.decode(item)["status"]) for item in raw]


async def test_a_change_committed_by_a_process_that_died_is_announced_once_by_another(
    buses: tuple[EventBus, EventBus],
) -> None:
    world = Replicas(buses)
    task_id = f"t-{uuid.uuid4().hex[:8]}"
    await world.a.register(NewTask(agent_type="coder", task_id=task_id))
    world.bus.refuse.add("publish_staged")  # A dies after its commit
    running = await world.a.update(task_id, TaskPatch(status=TaskStatus.RUNNING))
    assert running.status is TaskStatus.RUNNING
    assert await world.statuses(task_id) == ["queued"]
    # Too fresh to tell a dead process from one about to publish: left alone.
    assert await world.b.announcer.announce_left_over() == 0
    world.clock.advance(seconds=3)
    assert await world.b.announcer.announce_left_over() == 1
    assert await world.a.announcer.announce_left_over() == 0  # never twice
    assert await world.statuses(task_id) == ["queued", "running"]
    assert await world.bus.staged(world.outbox) == []


async def test_a_change_that_did_not_commit_is_never_announced(
    buses: tuple[EventBus, EventBus],
) -> None:
    world = Replicas(buses)
    task_id = f"t-{uuid.uuid4().hex[:8]}"
    world.commit_fails = True
    with pytest.raises(ConnectionError):
        await world.a.register(NewTask(agent_type="coder", task_id=task_id))
    world.commit_fails = False
    assert len(await world.bus.staged(world.outbox)) == 1
    world.clock.advance(seconds=3)
    # Not committed, but a slow transaction might still commit it: kept a while.
    assert await world.b.announcer.announce_left_over() == 0
    assert len(await world.bus.staged(world.outbox)) == 1
    world.clock.advance(seconds=120)
    assert await world.b.announcer.announce_left_over() == 0
    assert await world.bus.staged(world.outbox) == []
    assert await world.statuses(task_id) == []


async def test_a_bus_that_refuses_the_stage_does_not_fail_the_change_and_catches_up_in_order(
    buses: tuple[EventBus, EventBus],
) -> None:
    world = Replicas(buses)
    task_id = f"t-{uuid.uuid4().hex[:8]}"
    world.bus.refuse.update({"stage", "publish_many"})
    await world.a.register(NewTask(agent_type="coder", task_id=task_id))
    await world.a.update(task_id, TaskPatch(status=TaskStatus.RUNNING))
    assert (await world.a.get(task_id)).status is TaskStatus.RUNNING
    with pytest.raises(ConnectionError):  # still down: the round fails, nothing is lost
        await world.a.announcer.announce_left_over()
    world.bus.refuse.clear()
    assert await world.a.announcer.announce_left_over() == 2
    assert await world.statuses(task_id) == ["queued", "running"]
    assert await world.a.announcer.announce_left_over() == 0


async def test_an_engine_event_over_rest_is_announced_with_its_own_mark(
    buses: tuple[EventBus, EventBus],
) -> None:
    world = Replicas(buses)
    task_id = f"t-{uuid.uuid4().hex[:8]}"
    world.bus.refuse.add("publish_staged")
    await world.a.ingest("evt-1", NewTask(agent_type="coder", task_id=task_id))
    world.clock.advance(seconds=3)
    assert await world.b.announcer.announce_left_over() == 1
    assert await world.statuses(task_id) == ["queued"]
    # The engine event's mark is the token's: no second mark was written for it.
    assert await world.a.forget_processed_events(older_than=timedelta(0)) == 1


async def test_a_later_change_of_the_task_publishes_what_a_dead_process_left_first(
    buses: tuple[EventBus, EventBus],
) -> None:
    world = Replicas(buses)
    task_id = f"t-{uuid.uuid4().hex[:8]}"
    other_task = f"t-{uuid.uuid4().hex[:8]}"
    await world.a.register(NewTask(agent_type="coder", task_id=task_id))
    await world.a.register(NewTask(agent_type="coder", task_id=other_task))
    world.bus.refuse.add("publish_staged")  # A dies after committing `running`
    await world.a.update(task_id, TaskPatch(status=TaskStatus.RUNNING))
    await world.a.update(other_task, TaskPatch(status=TaskStatus.RUNNING))
    # The client retries on B at once (no change), then finishes the task there.
    await world.b.update(task_id, TaskPatch(status=TaskStatus.RUNNING))
    await world.b.update(task_id, TaskPatch(status=TaskStatus.COMPLETED))
    assert await world.statuses(task_id) == ["queued", "running", "completed"]
    assert await world.statuses(other_task) == ["queued"]  # another task's: left to the round
    world.clock.advance(seconds=3)
    assert await world.b.announcer.announce_left_over() == 1
    assert await world.statuses(other_task) == ["queued", "running"]


async def test_a_message_whose_process_died_after_its_commit_is_announced_with_its_task() -> None:
    world = build_world()
    conversation = await world.conversations.start(NewConversation(agent_type="coder"))
    channel = conversation_channel(conversation.conversation_id)
    publish_staged = world.bus.publish_staged

    async def dies(outbox: str, token: str) -> None:
        raise ConnectionError("the process died after its commit")

    world.bus.publish_staged = dies  # type: ignore[method-assign]
    user = await world.conversations.post_message(
        conversation.conversation_id, NewMessage(role=MessageRole.USER, content="go")
    )
    note = await world.conversations.post_message(
        conversation.conversation_id, NewMessage(role=MessageRole.ASSISTANT, content="on it")
    )
    assert world.bus.on(channel) == []
    world.bus.publish_staged = publish_staged  # type: ignore[method-assign]
    world.clock.advance(seconds=3)
    assert await world.tasks.announcer.announce_left_over() == 2
    assert [event["message_id"] for event in world.bus.on(channel)] == [
        user.message_id,
        note.message_id,
    ]
    # The message's event went out before its task's, in one step.
    assert [name for name, _ in world.bus.published][:3] == [
        channel,
        task_channel(str(user.task_id)),
        TASKS_CHANNEL,
    ]
