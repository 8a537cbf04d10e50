"""The Redis event bus on the real Redis: history and live delivery carry the same id."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from dashboard_api.adapters.redis.bus import HISTORY_PREFIX, RedisEventBus
from tests.conftest import REDIS_URL, unavailable

pytestmark = pytest.mark.integration


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except OSError as exc:
        unavailable(f"Redis unreachable at {REDIS_URL}: {exc}")
    yield client
    await client.aclose()


async def test_a_published_event_is_in_history_and_live_with_one_id(redis: Redis) -> None:
    channel = f"task:test-{uuid.uuid4().hex}"
    bus = RedisEventBus.from_url(REDIS_URL, history_length=10)
    pubsub = redis.pubsub()
    await pubsub.subscribe(channel)
    await pubsub.get_message(timeout=1)  # the subscribe confirmation
    try:
        event_id = await bus.publish(channel, {"type": "task_output", "output": 'say "hi"'})
        message = None
        for _ in range(50):
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
            if message:
                break
        assert message is not None
        assert json.loads(message["data"]) == {
            "id": event_id,
            "type": "task_output",
            "output": 'say "hi"',
        }
        history = await redis.xrange(HISTORY_PREFIX + channel)
        assert [entry_id.decode() for entry_id, _ in history] == [event_id]
    finally:
        await pubsub.aclose()
        await redis.delete(HISTORY_PREFIX + channel)
        await bus.close()


async def test_history_stays_bounded(redis: Redis) -> None:
    channel = f"task:test-{uuid.uuid4().hex}"
    bus = RedisEventBus.from_url(REDIS_URL, history_length=5)
    try:
        await asyncio.gather(*(bus.publish(channel, {"n": n}) for n in range(500)))
        # MAXLEN ~ trims whole macro-nodes: bounded near the limit, never unbounded.
        assert await redis.xlen(HISTORY_PREFIX + channel) <= 200
    finally:
        await redis.delete(HISTORY_PREFIX + channel)
        await bus.close()
