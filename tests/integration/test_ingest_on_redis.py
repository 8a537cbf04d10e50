"""Ingestion on a real Redis whose group disappears (as after a restart without data): every
group command recreates it, and the loop goes on without losing what arrives afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import msgspec
import pytest
import redis.asyncio as aioredis

from dashboard_api.adapters.redis.ingest import RedisIngestQueue
from dashboard_api.domain.model.ingestion import Lease
from tests.redis_support import require_shared_redis, unique
from tests.unit.test_ingestion import Rig

pytestmark = pytest.mark.integration


@pytest.fixture
async def queue() -> AsyncIterator[RedisIngestQueue]:
    client = aioredis.Redis.from_url(require_shared_redis())
    stream = unique("test:ingest:")
    yield RedisIngestQueue(
        client, stream=stream, group="g", dead_letter_stream=stream + ":dead", lease_ms=2000
    )
    await client.delete(stream, stream + ":dead", f"{stream}:lease:g")
    await client.aclose()


def created(task_id: str) -> bytes:
    event = {"event_id": f"{task_id}:c", "type": "task.created", "task_id": task_id}
    return msgspec.json.encode(event | {"agent_type": "coder"})


async def test_taking_over_recreates_a_lost_group(queue: RedisIngestQueue) -> None:
    await queue.add(b"{}")
    assert await queue.take_over() == 0
    await queue._redis.xgroup_destroy(queue.stream, queue.group)
    assert await queue.take_over() == 0  # NOGROUP on XAUTOCLAIM: recreated, not raised
    assert len(await queue.read(limit=10, block_ms=50)) == 1  # from 0: the entry is delivered


async def test_ingestion_goes_on_when_the_group_vanishes_under_it(
    queue: RedisIngestQueue,
) -> None:
    rig = Rig()
    rig.ingestor._queue = queue
    running = asyncio.create_task(rig.ingestor.run())
    try:
        await queue.add(created("t1"))
        await until(lambda: rig.ingestor.applied == 1)
        # The group and the stream disappear while XREADGROUP blocks on them.
        await queue._redis.delete(queue.stream)
        await asyncio.sleep(0.2)
        await queue.add(created("t2"))
        await until(lambda: rig.ingestor.applied == 2)
        assert rig.ingestor.healthy
        assert (await rig.tasks.get("t2")).agent_type == "coder"
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    # A clean stop gives the lease up: a standby takes over at once.
    assert await queue._redis.get(queue.lease_key) is None


async def test_only_one_process_holds_the_lease(queue: RedisIngestQueue) -> None:
    other = RedisIngestQueue(
        queue._redis, stream=queue.stream, group="g", dead_letter_stream="-", consumer="b"
    )
    assert await queue.lead() is Lease.ACQUIRED
    assert await other.lead() is Lease.ELSEWHERE
    assert await queue.holder() == queue.consumer
    await queue.resign()
    assert await other.lead() is Lease.ACQUIRED


async def test_entries_come_back_whole_and_a_pending_one_trimmed_away_is_acknowledged(
    queue: RedisIngestQueue,
) -> None:
    """The reply of XREADGROUP is read as Redis sends it: the payload of each entry (also of
    an entry with more fields than `event`), and an entry deleted while pending (no fields)
    acknowledged instead of delivered."""
    first = await queue.add(created("t1"))
    second = await queue._redis.xadd(queue.stream, {"trace": b"x", "event": created("t2")})
    third = await queue.add(created("t3"))
    read = await queue.read(limit=10, block_ms=50)
    assert [(d.entry_id, d.payload) for d in read] == [
        (first, created("t1")),
        (second.decode(), created("t2")),
        (third, created("t3")),
    ]
    await queue._redis.xdel(queue.stream, second)
    pending = await queue.pending(after="0-0", limit=10)
    assert [d.entry_id for d in pending] == [first, third]
    assert (await queue._redis.xpending(queue.stream, queue.group))["pending"] == 2
    assert await queue.read(limit=10, block_ms=10) == []


async def until(condition: object, within: float = 10) -> None:
    assert callable(condition)
    for _ in range(int(within / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")
