"""The IngestQueue contract: at-least-once delivery, acknowledgement, dead letters."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from dashboard_api.adapters.memory import MemoryIngestQueue
from dashboard_api.adapters.redis.ingest import RedisIngestQueue
from dashboard_api.domain.ports import IngestQueue
from tests.redis_support import require_shared_redis, unique


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
async def queue(request: pytest.FixtureRequest) -> AsyncIterator[IngestQueue]:
    if request.param == "memory":
        yield MemoryIngestQueue()
        return
    client = aioredis.Redis.from_url(require_shared_redis())
    stream = unique("test:ingest:")
    yield RedisIngestQueue(
        client, stream=stream, group="g", dead_letter_stream=stream + ":dead", claim_idle_ms=0
    )
    await client.delete(stream, stream + ":dead")
    await client.aclose()


async def test_entries_are_read_once_in_order(queue: IngestQueue) -> None:
    ids = [await queue.add(f'{{"n":{n}}}'.encode()) for n in range(3)]
    read = await queue.read(limit=10, block_ms=100)
    assert [delivery.entry_id for delivery in read] == ids
    assert [delivery.payload for delivery in read] == [b'{"n":0}', b'{"n":1}', b'{"n":2}']
    assert await queue.read(limit=10, block_ms=50) == []


async def test_an_unacknowledged_entry_is_claimed_again(queue: IngestQueue) -> None:
    first = await queue.add(b'{"n":1}')
    second = await queue.add(b'{"n":2}')
    read = await queue.read(limit=10, block_ms=100)
    await queue.ack(read[0])
    # The consumer "crashed" before acknowledging the second entry: it is handed out again.
    stale = await queue.claim_stale(limit=10)
    assert [delivery.entry_id for delivery in stale] == [second]
    await queue.ack(stale[0])
    assert await queue.claim_stale(limit=10) == []
    assert first != second


async def test_a_rejected_entry_is_not_delivered_again(queue: IngestQueue) -> None:
    await queue.add(b"not json")
    read = await queue.read(limit=10, block_ms=100)
    await queue.reject(read[0], "not an event")
    assert await queue.claim_stale(limit=10) == []
    assert await queue.read(limit=10, block_ms=50) == []


async def test_reading_waits_for_the_first_entry(queue: IngestQueue) -> None:
    assert await queue.read(limit=10, block_ms=50) == []
