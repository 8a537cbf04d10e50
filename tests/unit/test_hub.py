"""The hub on the in-process bus: fan-out, resume without gap or duplicate, slow clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any
from unittest.mock import ANY

import msgspec
import pytest

from dashboard_api.adapters.memory import MemoryEventBus
from dashboard_api.domain.model.channels import Replay
from dashboard_api.domain.realtime.client import TRY_AGAIN_LATER, HubClient
from dashboard_api.domain.realtime.hub import Hub
from dashboard_api.domain.realtime.protocol import ErrorCode, FrameError


class RacingBus(MemoryEventBus):
    """Publishes while a history read is under way, as another process would: two events land
    before the snapshot (live and in history) and two after it (live only)."""

    racing_channel = ""

    async def replay(
        self, channel: str, *, after: str | None, epoch: str | None, limit: int
    ) -> Replay:
        if channel != self.racing_channel or after is None:
            return await super().replay(channel, after=after, epoch=epoch, limit=limit)
        for n in ("during-1", "during-2"):
            await self.publish(channel, {"type": "task_output", "output": n})
        snapshot = await super().replay(channel, after=after, epoch=epoch, limit=limit)
        for n in ("after-1", "after-2"):
            await self.publish(channel, {"type": "task_output", "output": n})
        return snapshot


@pytest.fixture
async def bus() -> AsyncIterator[RacingBus]:
    racing = RacingBus()
    yield racing
    await racing.close()


async def finished(task_id: str) -> Mapping[str, Any] | None:
    if task_id == "done":
        return {"type": "task_status", "task_id": "done", "status": "completed"}
    return None


@pytest.fixture
async def hub(bus: RacingBus) -> AsyncIterator[Hub]:
    started = Hub(bus, max_subscriptions=3, final_status=finished)
    await started.start()
    yield started
    await started.stop()


def subscribed(channel: str, *, recovered: bool = True) -> dict[str, Any]:
    return {"type": "subscribed", "channel": channel, "recovered": recovered, "epoch": ANY}


def frames(client: HubClient) -> list[dict[str, Any]]:
    queued = list(client._frames)
    client._frames.clear()
    return [msgspec.json.decode(frame) for frame in queued]


async def test_a_subscriber_receives_events_of_its_channel_only(hub: Hub, bus: RacingBus) -> None:
    client = hub.connect(capacity=100)
    await hub.subscribe(client, "task:1")
    await bus.publish("task:2", {"type": "task_output", "output": "elsewhere"})
    event_id = await bus.publish("task:1", {"type": "task_output", "output": "hi"})
    assert frames(client) == [
        subscribed("task:1"),
        {"channel": "task:1", "id": event_id, "type": "task_output", "output": "hi"},
    ]
    assert (hub.connections, hub.subscriptions, hub.channels) == (1, 1, 1)


async def test_since_replays_what_was_missed_without_gap_or_duplicate(
    hub: Hub, bus: RacingBus
) -> None:
    bus.racing_channel = "task:7"
    first = await bus.publish("task:7", {"type": "task_output", "output": "seen"})
    await bus.publish("task:7", {"type": "task_output", "output": "missed"})
    client = hub.connect(capacity=100)
    await hub.subscribe(client, "task:7", since=first)
    await bus.publish("task:7", {"type": "task_output", "output": "live"})
    received = frames(client)
    assert received[0] == subscribed("task:7")
    outputs = [frame["output"] for frame in received[1:]]
    assert outputs == ["missed", "during-1", "during-2", "after-1", "after-2", "live"]
    ids = [frame["id"] for frame in received[1:]]
    assert ids == sorted(ids, key=lambda text: int(text.split("-")[1]))


async def test_resume_under_concurrent_publishing_loses_nothing(hub: Hub, bus: RacingBus) -> None:
    start = await bus.publish("task:9", {"type": "task_output", "n": -1})

    async def publish_many() -> None:
        for n in range(300):
            await bus.publish("task:9", {"type": "task_output", "n": n})
            if n % 7 == 0:
                await asyncio.sleep(0)

    publisher = asyncio.create_task(publish_many())
    await asyncio.sleep(0)
    client = hub.connect(capacity=1000)
    await hub.subscribe(client, "task:9", since=start)
    await publisher
    numbers = [frame["n"] for frame in frames(client)[1:]]
    assert numbers == list(range(300))


async def test_a_finished_task_reports_its_final_status_at_once(hub: Hub) -> None:
    client = hub.connect(capacity=10)
    await hub.subscribe(client, "task:done")
    await hub.subscribe(client, "task:running")
    received = frames(client)
    assert received[1] == {
        "channel": "task:done",
        "type": "task_status",
        "task_id": "done",
        "status": "completed",
    }
    assert received[2:] == [subscribed("task:running")]


async def test_a_slow_client_is_closed_and_the_others_go_on(hub: Hub, bus: RacingBus) -> None:
    slow, fast = hub.connect(capacity=5), hub.connect(capacity=1000)
    await hub.subscribe(slow, "tasks")
    await hub.subscribe(fast, "tasks")
    for n in range(50):
        await bus.publish("tasks", {"type": "task_status", "n": n})
        frames(fast)  # the fast client keeps reading
    assert slow.close_code == TRY_AGAIN_LATER
    assert slow.queued == 0  # its backlog is freed at once
    assert hub.dropped_slow_clients == 1
    assert hub.connections == 1
    await bus.publish("tasks", {"type": "task_status", "n": 50})
    assert frames(fast)[-1]["n"] == 50


async def test_unsubscribe_stops_delivery_and_forgets_the_channel(hub: Hub, bus: RacingBus) -> None:
    client = hub.connect(capacity=10)
    await hub.subscribe(client, "task:1")
    hub.unsubscribe(client, "task:1")
    await bus.publish("task:1", {"type": "task_output"})
    assert frames(client) == [subscribed("task:1")]
    assert hub.channels == 0


async def test_subscriptions_per_connection_are_bounded(hub: Hub) -> None:
    client = hub.connect(capacity=10)
    for n in range(3):
        await hub.subscribe(client, f"task:{n}")
    with pytest.raises(FrameError) as refused:
        await hub.subscribe(client, "task:overflow")
    assert refused.value.code is ErrorCode.TOO_MANY_SUBSCRIPTIONS


async def test_a_raw_publish_without_id_is_delivered_and_garbage_is_not(
    hub: Hub, bus: RacingBus
) -> None:
    client = hub.connect(capacity=10)
    await hub.subscribe(client, "task:raw")
    bus.publish_raw("task:raw", b"not json")
    bus.publish_raw("task:raw", b'{"no_type":1}')
    bus.publish_raw("task:raw", b'{"type":"task_output","task_id":"raw","output":"x"}')
    assert frames(client)[1:] == [
        {"channel": "task:raw", "type": "task_output", "task_id": "raw", "output": "x"}
    ]


async def test_disconnect_removes_every_subscription(hub: Hub) -> None:
    client = hub.connect(capacity=10)
    await hub.subscribe(client, "task:1")
    await hub.subscribe(client, "tasks")
    hub.disconnect(client)
    assert (hub.connections, hub.subscriptions, hub.channels) == (0, 0, 0)


async def test_a_resume_from_beyond_the_history_says_it_is_not_recovered() -> None:
    bus = MemoryEventBus(history_length=3)
    hub = Hub(bus, history_limit=3)
    await hub.start()
    seen = await bus.publish("task:t", {"type": "task_output", "n": 0})
    for n in range(1, 4):
        await bus.publish("task:t", {"type": "task_output", "n": n})
    late = hub.connect(capacity=100)
    await hub.subscribe(late, "task:t", since=seen)  # event 0 was trimmed: 1-3 are left
    received = frames(late)
    assert received[0] == subscribed("task:t", recovered=False)
    assert [frame["n"] for frame in received[1:]] == [1, 2, 3]
    in_time = hub.connect(capacity=100)
    await hub.subscribe(in_time, "task:t", since=received[1]["id"], epoch=received[0]["epoch"])
    resumed = frames(in_time)
    assert resumed[0] == subscribed("task:t") | {"epoch": received[0]["epoch"]}
    assert [frame["n"] for frame in resumed[1:]] == [2, 3]
    await hub.stop()


async def test_a_resume_after_history_was_lost_names_the_new_epoch() -> None:
    now = [0.0]
    bus = MemoryEventBus(history_ttl_seconds=60, monotonic=lambda: now[0])
    hub = Hub(bus)
    await hub.start()
    first = hub.connect(capacity=100)
    await hub.subscribe(first, "task:e")
    last = await bus.publish("task:e", {"type": "task_output", "n": 1})
    old_epoch = frames(first)[0]["epoch"]
    hub.disconnect(first)
    now[0] = 120.0  # the channel's history expired: it is gone
    await bus.publish("task:e", {"type": "task_output", "n": 2})
    back = hub.connect(capacity=100)
    await hub.subscribe(back, "task:e", since=last, epoch=old_epoch)
    received = frames(back)
    assert received[0] == subscribed("task:e", recovered=False)
    assert received[0]["epoch"] != old_epoch
    assert [frame["n"] for frame in received[1:]] == [2]  # what the new history holds
    await hub.stop()


async def test_nothing_seen_yet_resumes_completely_until_history_is_trimmed() -> None:
    bus = MemoryEventBus(history_length=2)
    hub = Hub(bus)
    await hub.start()
    client = hub.connect(capacity=100)
    await bus.publish("tasks", {"type": "task_status", "n": 1})
    await hub.subscribe(client, "tasks", since="0-0")
    assert frames(client)[0] == subscribed("tasks")
    for n in range(2, 4):
        await bus.publish("tasks", {"type": "task_status", "n": n})
    other = hub.connect(capacity=100)
    await hub.subscribe(other, "tasks", since="0-0")
    assert frames(other)[0] == subscribed("tasks", recovered=False)
    await hub.stop()
