"""The IngestQueue contract: at-least-once delivery in order, one consumer at a time,
acknowledgement, dead letters, lag figures."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from dashboard_api.adapters.memory import MemoryIngestQueue
from dashboard_api.adapters.redis.ingest import RedisIngestQueue
from dashboard_api.domain.model.ingestion import Lease
from dashboard_api.domain.ports import IngestQueue
from tests.redis_support import require_shared_redis, unique


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
async def queue(request: pytest.FixtureRequest) -> AsyncIterator[IngestQueue]:
    if request.param == "memory":
        yield MemoryIngestQueue()
        return
    client = aioredis.Redis.from_url(require_shared_redis())
    stream = unique("test:ingest:")
    yield RedisIngestQueue(client, stream=stream, group="g", dead_letter_stream=stream + ":dead")
    await client.delete(stream, stream + ":dead", f"{stream}:lease:g")
    await client.aclose()


async def test_entries_are_read_once_in_order(queue: IngestQueue) -> None:
    ids = [await queue.add(f'{{"n":{n}}}'.encode()) for n in range(3)]
    read = await queue.read(limit=10, block_ms=100)
    assert [delivery.entry_id for delivery in read] == ids
    assert [delivery.payload for delivery in read] == [b'{"n":0}', b'{"n":1}', b'{"n":2}']
    assert await queue.read(limit=10, block_ms=50) == []


async def test_unacknowledged_entries_are_handed_out_again_oldest_first(
    queue: IngestQueue,
) -> None:
    ids = [await queue.add(f'{{"n":{n}}}'.encode()) for n in range(4)]
    read = await queue.read(limit=10, block_ms=100)
    await queue.ack([read[1]])
    # The consumer "crashed" before acknowledging the others: they are still its own.
    assert await queue.take_over() == 3
    again = await queue.pending(after="0-0", limit=10)
    assert [delivery.entry_id for delivery in again] == [ids[0], ids[2], ids[3]]
    assert [d.entry_id for d in await queue.pending(after=ids[0], limit=1)] == [ids[2]]
    await queue.ack(again)
    assert await queue.pending(after="0-0", limit=10) == []


async def test_a_rejected_entry_is_not_delivered_again(queue: IngestQueue) -> None:
    await queue.add(b"not json")
    read = await queue.read(limit=10, block_ms=100)
    await queue.reject(read[0], "not an event")
    assert await queue.pending(after="0-0", limit=10) == []
    assert await queue.read(limit=10, block_ms=50) == []
    assert (await queue.stats()).dead_letters == 1


async def test_reading_waits_for_the_first_entry(queue: IngestQueue) -> None:
    assert await queue.read(limit=10, block_ms=50) == []


async def test_the_lease_is_acquired_then_kept(queue: IngestQueue) -> None:
    assert await queue.lead() is Lease.ACQUIRED
    assert await queue.lead() is Lease.KEPT
    await queue.resign()
    assert await queue.lead() is Lease.ACQUIRED


async def test_stats_count_pending_and_undelivered_entries(queue: IngestQueue) -> None:
    assert await queue.stats() == (0, 0.0, 0, 0)
    for n in range(3):
        await queue.add(f'{{"n":{n}}}'.encode())
    await queue.read(limit=2, block_ms=50)
    stats = await queue.stats()
    assert (stats.pending, stats.undelivered, stats.dead_letters) == (2, 1, 0)
    assert 0 <= stats.oldest_pending_age_seconds < 60
