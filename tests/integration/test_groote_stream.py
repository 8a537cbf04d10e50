"""The groote-ai stream and status notes on the real Redis: our own consumer group, nothing
taken from theirs, nothing applied twice when an entry is delivered again."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from dashboard_api.adapters.memory.origins import MemoryOriginStore
from dashboard_api.adapters.memory.unit_of_work import MemoryUnitOfWork
from dashboard_api.adapters.redis.groote_status import listen_for_status_notes
from dashboard_api.adapters.redis.groote_stream import GrooteStreamQueue
from dashboard_api.domain.model.groote_events import HANDLED_TYPES
from dashboard_api.domain.model.tasks import TaskStatus
from dashboard_api.domain.services.groote import GrooteBridge
from dashboard_api.domain.services.ingestion import Ingestor
from tests.conftest import REDIS_URL, unavailable
from tests.groote.story import engine_entries, gateway_entries
from tests.redis_support import unique
from tests.unit.world import START, World, build_world

pytestmark = pytest.mark.integration

TASK = "task-00aa11bb22cc"


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except OSError as exc:
        unavailable(f"Redis unreachable at {REDIS_URL}: {exc}")
    yield client
    await client.aclose()


class Rig:
    def __init__(self, redis: Redis, stream: str, dead: str) -> None:
        self.redis = redis
        self.stream = stream
        self.dead = dead
        self.world: World = build_world()
        self.world.clock.advance(minutes=5)
        self.bridge = GrooteBridge(
            tasks=self.world.tasks,
            webhooks=self.world.webhooks,
            origins=MemoryOriginStore(),
            bus=self.world.bus,
            unit_of_work=lambda: MemoryUnitOfWork(self.world.db),
            clock=self.world.clock,
            wait_seconds=0.2,
        )

    def ingestor(self, consumer: str) -> tuple[Ingestor, GrooteStreamQueue]:
        queue = GrooteStreamQueue(
            self.redis,
            stream=self.stream,
            group="dashboard-api",
            dead_letter_stream=self.dead,
            handled_types=HANDLED_TYPES,
            consumer=consumer,
        )
        ingestor = Ingestor(queue, block_ms=50)
        ingestor.register_batch(HANDLED_TYPES, self.bridge.stream_batch_handler())  # as served
        return ingestor, queue

    async def xadd(self, entries: list[dict[str, str]]) -> None:
        for entry in entries:  # exactly what their XADD sends: these string fields
            await self.redis.xadd(self.stream, entry)  # type: ignore[arg-type]


@pytest.fixture
async def rig(redis: Redis) -> AsyncIterator[Rig]:
    stream, dead = unique("test:groote:task_events:"), unique("test:groote:rejected:")
    yield Rig(redis, stream, dead)
    await redis.delete(stream, dead)


async def _drain(consumer: tuple[Ingestor, GrooteStreamQueue], queue_reads: int = 3) -> None:
    ingestor, queue = consumer
    for _ in range(queue_reads):
        await ingestor.process(await queue.read(limit=100, block_ms=50))


async def test_their_stream_replayed_through_our_group_leaves_their_group_untouched(
    rig: Rig,
) -> None:
    await rig.redis.xgroup_create(rig.stream, "their-audit", id="0", mkstream=True)
    entries = gateway_entries("wh-int-1", TASK, START) + engine_entries(TASK, START)
    await rig.xadd(entries)
    await _drain(rig.ingestor("api-1"))
    task = await rig.world.tasks.get(TASK)
    assert task.status is TaskStatus.COMPLETED
    event = await rig.world.webhooks.event("wh-int-1")
    assert event.latency_ms == 180
    # Their group still has every entry to read, none pending, none taken by us.
    theirs = await rig.redis.xreadgroup("their-audit", "them", {rig.stream: ">"}, count=100)
    assert len(theirs[0][1]) == len(entries)
    ours = await rig.redis.xpending(rig.stream, "dashboard-api")
    assert ours["pending"] == 0
    assert await rig.redis.xlen(rig.stream) == len(entries)  # never trimmed
    assert await rig.redis.exists(rig.dead) == 0


async def test_stories_of_several_tasks_in_one_read_all_complete(rig: Rig) -> None:
    # A burst (bench.engines_ingest): each task's entries after the previous task's. Grouped
    # per handler, every task:created came after every task:started, and the later tasks'
    # started and completed entries were dead-lettered.
    tasks = [f"task-00aa11bb22{n:02d}" for n in range(3)]
    for n, task_id in enumerate(tasks):
        await rig.xadd(engine_entries(task_id, START.replace(minute=n)))
    await _drain(rig.ingestor("api-1"), queue_reads=1)  # one read holds all 30 entries
    for task_id in tasks:
        assert (await rig.world.tasks.get(task_id)).status is TaskStatus.COMPLETED, task_id
    assert await rig.redis.exists(rig.dead) == 0
    assert (await rig.redis.xpending(rig.stream, "dashboard-api"))["pending"] == 0


async def test_entries_a_crashed_consumer_held_are_applied_once_by_another(rig: Rig) -> None:
    entries = engine_entries(TASK, START)
    await rig.xadd(entries[:4])
    _, crashed = rig.ingestor("api-crashed")
    # The first consumer applies them but dies before acknowledging.
    for delivery in await crashed.read(limit=100, block_ms=50):
        await rig.bridge.stream_handler()(delivery.payload)
    published = len(rig.world.bus.published)
    version = (await rig.world.tasks.get(TASK)).version
    survivor = rig.ingestor("api-2")
    assert await survivor[1].take_over() == 4  # the lease lapsed: the survivor takes them
    await survivor[0].process(await survivor[1].pending(after="0-0", limit=100))
    assert len(rig.world.bus.published) == published
    assert (await rig.world.tasks.get(TASK)).version == version
    await rig.xadd(entries[4:])
    await rig.xadd(entries)  # and the whole story appended again, as a retrying engine would
    await _drain(survivor)
    task = await rig.world.tasks.get(TASK)
    assert task.status is TaskStatus.COMPLETED
    kinds = [e["kind"] for _, e in rig.world.bus.published if e.get("type") == "task_output"]
    assert kinds == ["thinking", "tool_call", "tool_result", "raw_output", "output"]
    assert (await rig.redis.xpending(rig.stream, "dashboard-api"))["pending"] == 0


async def test_a_malformed_entry_goes_to_our_dead_letter_stream_not_theirs(rig: Rig) -> None:
    await rig.xadd([{"type": "task:started", "timestamp": "x", "task_id": TASK, "data": "{oops"}])
    await rig.xadd([{"type": "task:metrics", "task_id": TASK, "data": "{}"}])  # not ours: skipped
    await _drain(rig.ingestor("api-1"))
    dead = await rig.redis.xrange(rig.dead)
    assert len(dead) == 1
    assert b"data is not valid JSON" in dead[0][1][b"reason"]
    assert await rig.redis.xlen(rig.stream) == 2
    assert (await rig.redis.xpending(rig.stream, "dashboard-api"))["pending"] == 0


async def test_status_notes_published_on_their_channel_start_the_task(rig: Rig) -> None:
    await rig.xadd(engine_entries(TASK, START)[:1])
    await _drain(rig.ingestor("api-1"), queue_reads=1)
    listener = asyncio.create_task(listen_for_status_notes(REDIS_URL, rig.bridge.status_note))
    try:
        for _ in range(100):  # until the listener has subscribed and the note applied
            await rig.redis.publish(f"task:{TASK}:status", json.dumps({"status": "in_progress"}))
            await asyncio.sleep(0.05)
            if (await rig.world.tasks.get(TASK)).status is TaskStatus.RUNNING:
                break
        assert (await rig.world.tasks.get(TASK)).status is TaskStatus.RUNNING
    finally:
        listener.cancel()
        with pytest.raises(asyncio.CancelledError):
            await listener
