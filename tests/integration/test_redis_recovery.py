"""The hub on a private Redis that loses its connections: it reconnects and misses nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

from dashboard_api.adapters.redis.bus import RedisEventBus
from dashboard_api.domain.realtime.client import HubClient
from dashboard_api.domain.realtime.hub import Hub
from tests.redis_support import PrivateRedis

pytestmark = pytest.mark.integration


@pytest.fixture
async def bus(private_redis: PrivateRedis) -> AsyncIterator[RedisEventBus]:
    redis_bus = RedisEventBus.from_url(private_redis.url)
    yield redis_bus
    await redis_bus.close()


async def collect(client: HubClient, count: int) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []
    while len(received) < count:
        frames = await asyncio.wait_for(client.take(), 15)
        received += [msgspec.json.decode(frame) for frame in frames]
    return received


async def test_events_published_while_pubsub_was_killed_are_delivered(
    bus: RedisEventBus, private_redis: PrivateRedis
) -> None:
    hub = Hub(bus)
    await hub.start()
    try:
        client = hub.connect(capacity=1000)
        await hub.subscribe(client, "task:k1")
        await bus.publish("task:k1", {"type": "task_output", "n": 0})
        assert [frame.get("n") for frame in await collect(client, 2)] == [None, 0]
        killer = private_redis.client()
        assert killer.client_kill_filter(_type="pubsub") >= 1
        # Published while the hub's pub/sub connection is down: only history has them.
        for n in range(1, 6):
            await bus.publish("task:k1", {"type": "task_output", "n": n})
        received = await collect(client, 5)
        assert [frame["n"] for frame in received] == [1, 2, 3, 4, 5]
        await bus.publish("task:k1", {"type": "task_output", "n": 6})
        assert [frame["n"] for frame in await collect(client, 1)] == [6]
        killer.close()
    finally:
        await hub.stop()


async def test_the_hub_resubscribes_after_redis_restarts(
    bus: RedisEventBus, private_redis: PrivateRedis
) -> None:
    hub = Hub(bus)
    await hub.start()
    try:
        client = hub.connect(capacity=1000)
        await hub.subscribe(client, "tasks")
        await collect(client, 1)
        private_redis.restart()
        for _ in range(200):
            if hub.bus_connected:
                break
            await asyncio.sleep(0.05)
        # The restarted Redis may take the first events before the hub has resubscribed: keep
        # publishing until one arrives; from then on nothing may be lost or repeated.
        delivered: list[int] = []
        for n in range(100):
            await bus.publish("tasks", {"type": "task_status", "n": n})
            delivered += [msgspec.json.decode(frame)["n"] for frame in client._frames]
            client._frames.clear()
            if delivered:
                break
            await asyncio.sleep(0.1)
        assert delivered
        await bus.publish("tasks", {"type": "task_status", "n": 1000})
        while delivered[-1] != 1000:
            delivered += [frame["n"] for frame in await collect(client, 1)]
        assert delivered == sorted(set(delivered))
        assert delivered[-2] == n  # everything published after the first delivery arrived
    finally:
        await hub.stop()
