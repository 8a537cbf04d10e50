"""A burst that takes the hub longer to fan out than the Redis heartbeat: the live connection
stays up, and every client gets every event once, in order, or is closed with 1013."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import msgspec
import pytest

from dashboard_api.adapters.redis.bus import (
    EPOCH_PREFIX,
    HISTORY_PREFIX,
    PUBLISH_SCRIPT,
    RedisEventBus,
    new_epoch,
)
from dashboard_api.domain.realtime.client import TRY_AGAIN_LATER, HubClient
from dashboard_api.domain.realtime.hub import Hub
from tests.redis_support import PrivateRedis

pytestmark = pytest.mark.integration

CLIENTS = 600
EVENTS = 3000
HEARTBEAT = 0.05  # fanning the burst out takes well over three of these


@pytest.fixture
async def bus(private_redis: PrivateRedis) -> AsyncIterator[RedisEventBus]:
    redis_bus = RedisEventBus.from_url(
        private_redis.url, history_length=1000, heartbeat_seconds=HEARTBEAT
    )
    yield redis_bus
    await redis_bus.close()


async def publish_burst(bus: RedisEventBus, channel: str, count: int) -> None:
    """Every event in one pipeline: Redis sends the pub/sub connection one long burst."""
    redis = bus._redis
    sha = await redis.script_load(PUBLISH_SCRIPT)
    async with redis.pipeline(transaction=False) as pipe:
        for n in range(count):
            event = msgspec.json.encode({"type": "task_status", "n": n})
            keys = [HISTORY_PREFIX + channel, EPOCH_PREFIX + channel]
            pipe.evalsha(sha, 2, *keys, channel, event, 1000, 86_400_000, new_epoch())
        await pipe.execute()


def received(client: HubClient) -> list[dict[str, object]]:
    return [msgspec.json.decode(frame) for frame in client._frames if isinstance(frame, str)]


async def test_a_burst_longer_than_the_heartbeat_reaches_every_client_or_closes_it(
    bus: RedisEventBus,
) -> None:
    hub = Hub(bus)
    await hub.start()
    try:
        # One in fifty clients has room for a tenth of the burst: those must be closed (1013).
        clients = [
            hub.connect(capacity=EVENTS // 10 if n % 50 == 0 else EVENTS + 10)
            for n in range(CLIENTS)
        ]
        for client in clients:
            await hub.subscribe(client, "tasks")
        started = asyncio.get_running_loop().time()
        await publish_burst(bus, "tasks", EVENTS)
        complete = [c for c in clients if c.close_code is None]
        while any(len(c._frames) < EVENTS + 1 for c in complete):
            await asyncio.sleep(0.05)
            assert asyncio.get_running_loop().time() - started < 20, "events went missing"
            complete = [c for c in clients if c.close_code is None]
        elapsed = asyncio.get_running_loop().time() - started
        assert elapsed > 3 * HEARTBEAT  # the fan-out did outlast the heartbeat
        closed = [c for c in clients if c.close_code is not None]
        assert {c.close_code for c in closed} == {TRY_AGAIN_LATER}
        assert len(closed) == CLIENTS // 50
        for client in complete:
            frames = received(client)
            # Never re-subscribed (the connection was not dropped), no gap, no duplicate.
            assert [frame["type"] for frame in frames].count("subscribed") == 1
            assert [frame["n"] for frame in frames[1:]] == list(range(EVENTS))
        assert hub.dropped_slow_clients == len(closed)
    finally:
        await hub.stop()
