"""The EventBus contract, run against the memory bus and the Redis bus on the real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import msgspec
import pytest
from redis.asyncio import Redis

from dashboard_api.adapters.memory import MemoryEventBus
from dashboard_api.adapters.redis.bus import EPOCH_PREFIX, HISTORY_PREFIX, RedisEventBus
from dashboard_api.domain.ports import EventBus
from tests.redis_support import require_shared_redis, unique


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[EventBus]:
    if request.param == "memory":
        memory = MemoryEventBus(history_length=5)
        yield memory
        await memory.close()
        return
    redis_bus = RedisEventBus.from_url(require_shared_redis(), history_length=5)
    yield redis_bus
    await redis_bus.close()


def decode(message: bytes) -> dict[str, object]:
    decoded: dict[str, object] = msgspec.json.decode(message)
    return decoded


async def test_history_keeps_the_latest_events_with_their_ids(bus: EventBus) -> None:
    channel = unique("task:contract-")
    ids = [await bus.publish(channel, {"type": "task_output", "n": n}) for n in range(8)]
    kept = [decode(message) for message in await bus.history(channel, after=None, limit=100)]
    assert [event["n"] for event in kept] == [3, 4, 5, 6, 7]  # bounded to history_length
    assert [event["id"] for event in kept] == ids[3:]


async def test_history_after_an_id_holds_only_what_came_later(bus: EventBus) -> None:
    channel = unique("task:contract-")
    ids = [await bus.publish(channel, {"type": "task_output", "n": n}) for n in range(4)]
    later = [decode(message) for message in await bus.history(channel, after=ids[1], limit=100)]
    assert [event["id"] for event in later] == ids[2:]
    assert await bus.history(channel, after=ids[-1], limit=100) == []
    assert len(await bus.history(channel, after=ids[0], limit=2)) == 2


async def test_an_unknown_channel_has_no_history(bus: EventBus) -> None:
    assert await bus.history(unique("task:none-"), after=None, limit=10) == []


async def test_a_replay_is_complete_while_history_still_holds_its_start(bus: EventBus) -> None:
    channel = unique("task:replay-")
    empty = await bus.replay(channel, after=None, epoch=None, limit=1)
    assert (empty.messages, empty.complete) == ([], True)
    ids = [await bus.publish(channel, {"type": "task_output", "n": n}) for n in range(8)]
    # Publishing keeps the epoch the channel had: nothing was lost.
    assert (await bus.replay(channel, after=ids[7], epoch=None, limit=10)).epoch == empty.epoch
    held = await bus.replay(channel, after=ids[3], epoch=empty.epoch, limit=10)
    assert held.complete
    assert [decode(message)["n"] for message in held.messages] == [4, 5, 6, 7]
    trimmed = await bus.replay(channel, after=ids[1], epoch=empty.epoch, limit=10)
    assert not trimmed.complete  # 2 fell off the history: 3-7 are all it can give
    assert [decode(message)["n"] for message in trimmed.messages] == [3, 4, 5, 6, 7]
    assert not (await bus.replay(channel, after="0-0", epoch=None, limit=10)).complete
    beyond_limit = await bus.replay(channel, after=ids[3], epoch=None, limit=2)
    assert (len(beyond_limit.messages), beyond_limit.complete) == (2, False)
    tail = await bus.replay(channel, after=None, epoch=None, limit=2)
    assert [decode(message)["id"] for message in tail.messages] == ids[6:]


async def test_a_replay_from_another_epoch_or_unknown_id_is_not_complete(bus: EventBus) -> None:
    channel = unique("task:epoch-")
    ids = [await bus.publish(channel, {"type": "task_output", "n": n}) for n in range(3)]
    fresh = await bus.replay(channel, after="0-0", epoch=None, limit=10)
    assert fresh.complete  # nothing seen yet, nothing trimmed: everything is there
    other = await bus.replay(channel, after=ids[2], epoch="not-" + fresh.epoch, limit=10)
    assert not other.complete  # history was lost since that epoch: all it holds now
    assert [decode(message)["n"] for message in other.messages] == [0, 1, 2]
    foreign = await bus.replay(channel, after="1-0", epoch=fresh.epoch, limit=10)
    assert not foreign.complete
    gone = await bus.replay(unique("task:gone-"), after=ids[0], epoch=None, limit=10)
    assert (gone.messages, gone.complete) == ([], False)


async def test_the_feed_delivers_subscribed_channels_live_with_ids(bus: EventBus) -> None:
    wanted, other = unique("task:live-"), unique("task:other-")
    received: list[tuple[str, bytes]] = []
    arrived = asyncio.Event()

    def deliver(channel: str, message: bytes) -> None:
        received.append((channel, message))
        if len(received) == 3:
            arrived.set()

    feed = await bus.open_feed(deliver, lambda channels: None)
    try:
        await feed.subscribe(wanted)
        assert feed.connected
        await bus.publish(other, {"type": "task_output", "n": -1})
        ids = [await bus.publish(wanted, {"type": "task_output", "n": n}) for n in range(3)]
        await asyncio.wait_for(arrived.wait(), 10)
        assert [channel for channel, _ in received] == [wanted] * 3
        assert [decode(message)["id"] for _, message in received] == ids
        assert [decode(message)["n"] for _, message in received] == [0, 1, 2]
        # What goes live is what history keeps, byte for byte: a resume replays the same frames.
        assert [message for _, message in received] == await bus.history(
            wanted, after=None, limit=3
        )
    finally:
        await feed.close()


async def test_the_feed_stops_after_unsubscribe(bus: EventBus) -> None:
    first, second = unique("task:a-"), unique("task:b-")
    received: list[str] = []
    done = asyncio.Event()

    def deliver(channel: str, message: bytes) -> None:
        received.append(channel)
        if channel == second:
            done.set()

    feed = await bus.open_feed(deliver, lambda channels: None)
    try:
        await feed.subscribe(first)
        await feed.subscribe(second)
        feed.unsubscribe(first)
        await bus.publish(first, {"type": "task_output"})
        await bus.publish(second, {"type": "task_output"})
        await asyncio.wait_for(done.wait(), 10)
        assert received == [second]
    finally:
        await feed.close()


async def test_publish_many_keeps_each_channels_order_and_returns_the_ids(bus: EventBus) -> None:
    first, second = unique("task:many-a-"), unique("task:many-b-")
    events = [(first if n % 3 else second, {"type": "task_output", "n": n}) for n in range(7)]
    ids = await bus.publish_many(events)
    assert len(ids) == len(events)
    for channel in (first, second):
        sent = [
            (event_id, event["n"])
            for event_id, (name, event) in zip(ids, events, strict=True)
            if name == channel
        ]
        kept = [decode(message) for message in await bus.history(channel, after=None, limit=100)]
        assert [(event["id"], event["n"]) for event in kept] == sent
    assert await bus.publish_many([]) == []


async def test_batch_published_events_resume_like_published_ones(bus: EventBus) -> None:
    channel = unique("task:many-resume-")
    before = await bus.replay(channel, after=None, epoch=None, limit=1)
    ids = await bus.publish_many([(channel, {"type": "task_output", "n": n}) for n in range(4)])
    ids.append(await bus.publish(channel, {"type": "task_output", "n": 4}))
    later = [decode(message) for message in await bus.history(channel, after=ids[1], limit=100)]
    assert [event["id"] for event in later] == ids[2:]
    held = await bus.replay(channel, after=ids[0], epoch=before.epoch, limit=10)
    assert held.epoch == before.epoch  # a batch keeps the channel's epoch, as publish does
    assert held.complete
    assert [decode(message)["n"] for message in held.messages] == [1, 2, 3, 4]


async def test_the_feed_delivers_a_batch_live_in_order(bus: EventBus) -> None:
    channel = unique("task:many-live-")
    received: list[bytes] = []
    arrived = asyncio.Event()

    def deliver(name: str, message: bytes) -> None:
        received.append(message)
        if len(received) == 4:
            arrived.set()

    feed = await bus.open_feed(deliver, lambda channels: None)
    try:
        await feed.subscribe(channel)
        events = [(channel, {"type": "task_output", "n": n}) for n in range(4)]
        ids = await bus.publish_many(events)
        await asyncio.wait_for(arrived.wait(), 10)
        assert [decode(message)["id"] for message in received] == ids
        assert received == await bus.history(channel, after=None, limit=4)
    finally:
        await feed.close()


@pytest.mark.integration
async def test_publish_many_on_redis_sets_the_epoch_keys_as_publish_does() -> None:
    url = require_shared_redis()
    redis_bus = RedisEventBus.from_url(url, history_length=5, history_ttl_seconds=60)
    client = Redis.from_url(url)
    single, batched = unique("task:epoch-one-"), unique("task:epoch-many-")
    try:
        await redis_bus.publish(single, {"type": "task_output"})
        await redis_bus.publish_many([(batched, {"type": "task_output"})] * 2)
        for channel in (single, batched):
            assert await client.get(EPOCH_PREFIX + channel)
            assert 0 < await client.pttl(EPOCH_PREFIX + channel) <= 60_000
            assert 0 < await client.pttl(HISTORY_PREFIX + channel) <= 60_000
    finally:
        await client.delete(
            *(
                prefix + name
                for prefix in (EPOCH_PREFIX, HISTORY_PREFIX)
                for name in (single, batched)
            )
        )
        await client.aclose()
        await redis_bus.close()


@pytest.mark.integration
async def test_publish_many_on_redis_in_several_script_calls_is_publish_event_by_event() -> None:
    """Chunks of 3 (one script call each): history trimmed, ids in order, one event object
    given for two channels, the epoch kept with the engine SDK's single-event script."""
    url = require_shared_redis()
    redis_bus = RedisEventBus(Redis.from_url(url), url=url, history_length=5, publish_chunk=3)
    client = Redis.from_url(url)
    task, tasks = unique("task:chunks-"), unique("tasks-chunks-")
    received: list[tuple[str, bytes]] = []
    arrived = asyncio.Event()

    def deliver(name: str, message: bytes) -> None:
        received.append((name, message))
        if len(received) == 16:  # -1, seven events on two channels, 7
            arrived.set()

    feed = await redis_bus.open_feed(deliver, lambda channels: None)
    try:
        await feed.subscribe(task)
        await feed.subscribe(tasks)
        first = await redis_bus.publish(task, {"type": "task_status", "n": -1})
        epoch = (await redis_bus.replay(task, after=None, epoch=None, limit=1)).epoch
        events: list[tuple[str, dict[str, object]]] = []
        for n in range(7):
            event: dict[str, object] = {"type": "task_status", "n": n}
            events += [(task, event), (tasks, event)]
        ids = await redis_bus.publish_many(events)
        ids.append(await redis_bus.publish(task, {"type": "task_status", "n": 7}))
        await asyncio.wait_for(arrived.wait(), 10)
        assert [(name, decode(message)["id"]) for name, message in received[1:]] == list(
            zip([name for name, _ in events] + [task], ids, strict=True)
        )
        assert [decode(message)["n"] for _, message in received] == [
            -1,
            *(n for n in range(7) for _ in range(2)),
            7,
        ]
        kept = [decode(message) for message in await redis_bus.history(task, after=None, limit=9)]
        assert [event["n"] for event in kept] == [3, 4, 5, 6, 7]  # bounded to history_length
        held = await redis_bus.replay(task, after=ids[-3], epoch=epoch, limit=10)
        assert (held.epoch, held.complete) == (epoch, True)  # the epoch of the single publish
        assert [decode(message)["n"] for message in held.messages] == [7]
        trimmed = await redis_bus.replay(task, after=first, epoch=epoch, limit=10)
        assert not trimmed.complete
        for channel in (task, tasks):
            assert 0 < await client.pttl(EPOCH_PREFIX + channel) <= 86_400_000
            assert 0 < await client.pttl(HISTORY_PREFIX + channel) <= 86_400_000
        assert await client.xlen(HISTORY_PREFIX + tasks) == 5
    finally:
        await client.delete(
            *(prefix + name for prefix in (EPOCH_PREFIX, HISTORY_PREFIX) for name in (task, tasks))
        )
        await client.aclose()
        await redis_bus.close()


async def test_staged_events_are_published_once_in_order_or_dropped(bus: EventBus) -> None:
    """An outbox: nothing is live before `publish_staged`; each token is published once, in
    order; a dropped one never is."""
    outbox, channel = unique("test:outbox:"), unique("task:staged-")
    first = [(channel, {"type": "task_status", "n": n}) for n in range(3)]
    assert await bus.stage(outbox, "b1", first) == []
    # A stage says what the outbox held before it (read in the same step).
    assert await bus.stage(outbox, "b2", [(channel, {"type": "task_status", "n": 9})]) == ["b1"]
    assert await bus.history(channel, after=None, limit=10) == []
    assert await bus.staged(outbox) == ["b1", "b2"]
    await bus.drop_staged(outbox, "b2")
    await bus.publish_staged(outbox, "b1")
    await bus.publish_staged(outbox, "b1")  # again: nothing is left to publish
    history = await bus.history(channel, after=None, limit=10)
    assert [decode(message)["n"] for message in history] == [0, 1, 2]
    assert await bus.staged(outbox) == []


@pytest.mark.integration
async def test_announcements_a_dead_process_left_half_published_are_finished_once() -> None:
    """A process staged three chunks, published the first and died: another process publishes
    the other two, once, in order (each chunk leaves the outbox in the script that publishes
    it), and the outbox is empty afterwards."""
    url = require_shared_redis()
    dying = RedisEventBus(Redis.from_url(url), url=url, history_length=50, publish_chunk=2)
    outbox, channel = unique("test:outbox:"), unique("task:left-over-")
    await dying.stage(
        outbox, "batch-1", [(channel, {"type": "task_status", "n": n}) for n in range(5)]
    )
    mark, (keys, args) = dying._staged.pop((outbox, "batch-1"))[0]
    await dying._publish_staged(keys=[*keys, f"{outbox}:batch-1"], args=[*args, mark])
    await dying.close()
    other = RedisEventBus(Redis.from_url(url), url=url, history_length=50, publish_chunk=2)
    client = Redis.from_url(url)
    try:
        assert await other.staged(outbox) == ["batch-1"]
        await other.publish_staged(outbox, "batch-1")
        history = await other.history(channel, after=None, limit=50)
        assert [decode(message)["n"] for message in history] == [0, 1, 2, 3, 4]
        assert await other.staged(outbox) == []
        assert not await client.exists(outbox, f"{outbox}:batch-1")
    finally:
        await client.delete(HISTORY_PREFIX + channel, EPOCH_PREFIX + channel)
        await client.aclose()
        await other.close()


@pytest.mark.integration
async def test_two_processes_publishing_the_same_staged_batch_publish_each_chunk_once() -> None:
    """A leader that stalled past its lease wakes while the new leader's recovery publishes
    the batch it staged: each publishes its calls in turn, and each chunk goes out once (the
    script publishes a chunk only when it finds it at the head of the list), in order."""
    url = require_shared_redis()
    stalled = RedisEventBus(Redis.from_url(url), url=url, history_length=50, publish_chunk=2)
    recovering = RedisEventBus(Redis.from_url(url), url=url, history_length=50, publish_chunk=2)
    outbox, channel = unique("test:outbox:"), unique("task:raced-")
    client = Redis.from_url(url)
    try:
        await stalled.stage(
            outbox, "batch-1", [(channel, {"type": "task_status", "n": n}) for n in range(5)]
        )
        left = await client.lrange(f"{outbox}:batch-1", 0, -1)
        assert len(left) == 3  # chunks of 2, 2 and 1
        mine = stalled._staged.pop((outbox, "batch-1"))
        mark, (keys, args) = mine[0]
        await stalled._publish_staged(keys=[*keys, f"{outbox}:batch-1"], args=[*args, mark])
        await recovering.publish_staged(outbox, "batch-1")  # reads back chunks 2 and 3
        for mark, (keys, args) in mine:  # the stalled one goes on with every call it held
            await stalled._publish_staged(keys=[*keys, f"{outbox}:batch-1"], args=[*args, mark])
        history = await client.xrange(HISTORY_PREFIX + channel)
        assert [decode(fields[b"event"])["n"] for _, fields in history] == [0, 1, 2, 3, 4]
        assert not await client.exists(f"{outbox}:batch-1")
    finally:
        await client.delete(HISTORY_PREFIX + channel, EPOCH_PREFIX + channel, outbox)
        await client.aclose()
        await stalled.close()
        await recovering.close()


@pytest.mark.integration
async def test_a_chunk_staged_by_the_previous_release_without_a_mark_is_still_published() -> None:
    """Left over by a process of the release before marks (the call alone, MessagePack) and
    published by this one during an upgrade: popped unchecked, as that release did."""
    url = require_shared_redis()
    bus = RedisEventBus(Redis.from_url(url), url=url, history_length=50)
    outbox, channel = unique("test:outbox:"), unique("task:legacy-")
    client = Redis.from_url(url)
    try:
        await bus.stage(outbox, "b1", [(channel, {"type": "task_status", "n": 1})])
        _, call = bus._staged.pop((outbox, "b1"))[0]
        await client.delete(f"{outbox}:b1")
        await client.rpush(f"{outbox}:b1", msgspec.msgpack.encode(call))  # the old format
        await bus.publish_staged(outbox, "b1")
        history = await bus.history(channel, after=None, limit=10)
        assert [decode(message)["n"] for message in history] == [1]
        assert not await client.exists(f"{outbox}:b1", outbox)
    finally:
        await client.delete(HISTORY_PREFIX + channel, EPOCH_PREFIX + channel, outbox)
        await client.aclose()
        await bus.close()


async def test_staging_a_token_again_replaces_what_it_held(bus: EventBus) -> None:
    """A batch that did not commit is applied again under the same token (its first event):
    only the new stage is published, and the token moves behind those staged since."""
    outbox, channel = unique("test:outbox:"), unique("task:restaged-")
    first = [(channel, {"type": "task_status", "n": n}) for n in range(3)]
    assert await bus.stage(outbox, "b1", first) == []
    # A stage says what the outbox held before it (read in the same step).
    assert await bus.stage(outbox, "b2", [(channel, {"type": "task_status", "n": 9})]) == ["b1"]
    await bus.stage(outbox, "b1", [(channel, {"type": "task_status", "n": 7})])
    assert await bus.staged(outbox) == ["b2", "b1"]
    await bus.publish_staged(outbox, "b2")
    await bus.publish_staged(outbox, "b1")
    history = await bus.history(channel, after=None, limit=10)
    assert [decode(message)["n"] for message in history] == [9, 7]
    assert await bus.staged(outbox) == []
