"""`RedisEventBus._chunk_calls` (built with C-level maps) gives the keys and plan the per-publish
loop it replaced gave: channels and payloads numbered in order of first appearance, each event
object encoded once per chunk."""

from __future__ import annotations

import random
from typing import Any

import msgspec
from redis.asyncio import Redis

from dashboard_api.adapters.redis.bus import RedisEventBus, encode_event
from dashboard_api.domain.model.channels import Event
from dashboard_engine.protocol import EPOCH_PREFIX, HISTORY_PREFIX


def _reference(events: list[tuple[str, Event]], size: int) -> list[tuple[list[Any], bytes]]:
    calls = []
    for start in range(0, len(events), size):
        channels: dict[str, int] = {}
        payloads: list[str] = []
        slots: dict[int, int] = {}
        order: list[int] = []
        for channel, event in events[start : start + size]:
            place = channels.get(channel)
            if place is None:
                place = channels[channel] = len(channels) + 1
            slot = slots.get(id(event))
            if slot is None:
                payloads.append(encode_event(event).decode())
                slot = slots[id(event)] = len(payloads)
            order += (place, slot)
        keys = [k for c in channels for k in (HISTORY_PREFIX + c, EPOCH_PREFIX + c)]
        calls.append((keys, msgspec.msgpack.encode((list(channels), payloads, order))))
    return calls


def test_chunk_calls_match_the_per_publish_loop() -> None:
    rng = random.Random(5)
    for size in (1, 3, 250):
        bus = RedisEventBus(Redis(), publish_chunk=size)  # never connects
        for _ in range(40):
            pool = [{"type": "x", "n": n} for n in range(rng.randrange(1, 30))]
            channels = [f"task:{n}" for n in range(rng.randrange(1, 10))] + ["tasks"]
            events: list[tuple[str, Event]] = [
                (rng.choice(channels), rng.choice(pool)) for _ in range(rng.randrange(0, 700))
            ]
            calls = bus._chunk_calls(events)
            assert [(keys, args[3]) for keys, args in calls] == _reference(events, size)
