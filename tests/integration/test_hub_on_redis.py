"""The hub on the real Redis: a resuming client gets every event once, in order, even when
events are still on their way from Redis while history is replayed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

from dashboard_api.adapters.redis.bus import RedisEventBus
from dashboard_api.domain.realtime.client import HubClient
from dashboard_api.domain.realtime.hub import Hub
from tests.redis_support import require_shared_redis, unique

pytestmark = pytest.mark.integration


@pytest.fixture
async def hub() -> AsyncIterator[tuple[Hub, RedisEventBus]]:
    bus = RedisEventBus.from_url(require_shared_redis())
    started = Hub(bus)
    await started.start()
    yield started, bus
    await started.stop()
    await bus.close()


async def events(client: HubClient) -> list[dict[str, Any]]:
    frames = await asyncio.wait_for(client.take(), 15)
    decoded = [msgspec.json.decode(frame) for frame in frames if isinstance(frame, str)]
    return [event for event in decoded if "n" in event]


@pytest.mark.parametrize("attempt", range(8))
async def test_resume_while_publishing_has_no_gap_and_no_duplicate(
    hub: tuple[Hub, RedisEventBus], attempt: int
) -> None:
    realtime, bus = hub
    channel = unique("task:resume-")
    total = 300

    async def publish() -> None:
        for n in range(total):
            await bus.publish(channel, {"type": "task_output", "n": n})
            if n % 10 == 0:
                await asyncio.sleep(0.002)

    first = realtime.connect(capacity=10_000)
    await realtime.subscribe(first, channel)
    publishing = asyncio.create_task(publish())
    seen: list[dict[str, Any]] = []
    while len(seen) < 50:
        seen += await events(first)
    seen = seen[:50]
    realtime.disconnect(first)
    await asyncio.sleep(0.01 * (attempt % 3))
    second = realtime.connect(capacity=10_000)
    await realtime.subscribe(second, channel, since=seen[-1]["id"])
    await publishing
    while seen[-1]["n"] < total - 1:
        seen += await events(second)
    assert [event["n"] for event in seen] == list(range(total))
