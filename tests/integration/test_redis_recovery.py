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
        subscribed, first = await collect(client, 2)
        assert (subscribed["type"], subscribed["recovered"], first["n"]) == ("subscribed", True, 0)
        killer = private_redis.client()
        assert killer.client_kill_filter(_type="pubsub") >= 1
        # Published while the hub's pub/sub connection is down: only history has them.
        for n in range(1, 6):
            await bus.publish("task:k1", {"type": "task_output", "n": n})
        again, *received = await collect(client, 6)
        # Told again, before the refill: history had everything, same epoch.
        assert again == subscribed
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
        await bus.publish("tasks", {"type": "task_status", "n": -1})
        subscribed, _ = await collect(client, 2)
        private_redis.restart()
        for _ in range(200):
            if hub.bus_connected:
                break
            await asyncio.sleep(0.05)
        # The restarted Redis may take the first events before the hub has resubscribed: keep
        # publishing until one arrives; from then on nothing may be lost or repeated.
        delivered: list[int] = []
        notices: list[dict[str, Any]] = []
        for n in range(100):
            await bus.publish("tasks", {"type": "task_status", "n": n})
            for frame in map(msgspec.json.decode, client._frames):
                if frame["type"] == "subscribed":
                    notices.append(frame)
                else:
                    delivered.append(frame["n"])
            client._frames.clear()
            if delivered:
                break
            await asyncio.sleep(0.1)
        assert delivered
        # Redis came back empty: the hub says continuity is broken, with a new epoch.
        assert len(notices) == 1
        assert notices[0]["recovered"] is False
        assert notices[0]["epoch"] != subscribed["epoch"]
        await bus.publish("tasks", {"type": "task_status", "n": 1000})
        while delivered[-1] != 1000:
            delivered += [frame["n"] for frame in await collect(client, 1)]
        assert delivered == sorted(set(delivered))
        assert delivered[-2] == n  # everything published after the first delivery arrived
    finally:
        await hub.stop()


async def test_a_resume_after_redis_lost_its_data_is_not_recovered(
    bus: RedisEventBus, private_redis: PrivateRedis
) -> None:
    hub = Hub(bus)
    await hub.start()
    try:
        client = hub.connect(capacity=1000)
        await hub.subscribe(client, "task:lost")
        seen = await bus.publish("task:lost", {"type": "task_output", "n": 1})
        subscribed, _ = await collect(client, 2)
        hub.disconnect(client)
        private_redis.restart()  # no persistence: history and epoch are gone
        await bus.publish("task:lost", {"type": "task_output", "n": 2})
        back = hub.connect(capacity=1000)
        await hub.subscribe(back, "task:lost", since=seen, epoch=subscribed["epoch"])
        told, *replayed = await collect(back, 2)
        assert told["recovered"] is False
        assert told["epoch"] != subscribed["epoch"]
        assert [frame["n"] for frame in replayed] == [2]  # what history holds now
    finally:
        await hub.stop()
