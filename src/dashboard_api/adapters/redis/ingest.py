"""The ingest queue on a Redis Stream with a consumer group: at-least-once, survives restarts.

Engines XADD `{"event": <json>}` entries; every API process reads through the same group, so
each entry goes to one of them; it is acknowledged only after its change committed. Entries a
crashed consumer left unacknowledged are claimed (XAUTOCLAIM) once idle long enough. Refused
entries are copied to a dead-letter stream with the reason, then acknowledged.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from dashboard_api.domain.ports import IngestDelivery

DEAD_LETTER_LENGTH = 10_000


@dataclass(frozen=True)
class StreamDelivery:
    entry_id: str
    payload: bytes


class RedisIngestQueue:
    def __init__(
        self,
        redis: Redis,
        *,
        stream: str,
        group: str,
        dead_letter_stream: str,
        claim_idle_ms: int = 30_000,
        max_length: int = 1_000_000,
        consumer: str | None = None,
    ) -> None:
        self._redis = redis
        self.stream = stream
        self.group = group
        self.dead_letter_stream = dead_letter_stream
        self._claim_idle_ms = claim_idle_ms
        self._max_length = max_length
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self._group_ready = False

    async def add(self, payload: bytes) -> str:
        entry_id = await self._redis.xadd(
            self.stream, {"event": payload}, maxlen=self._max_length, approximate=True
        )
        return _text(entry_id)

    async def ensure_group(self) -> None:
        try:
            await self._redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def claim_stale(self, *, limit: int) -> list[IngestDelivery]:
        await self._ready()
        reply: Any = await self._redis.xautoclaim(
            self.stream, self.group, self.consumer, self._claim_idle_ms, "0-0", count=limit
        )
        entries: list[Any] = reply[1]
        return _deliveries(entries)

    async def read(self, *, limit: int, block_ms: int) -> list[IngestDelivery]:
        await self._ready()
        try:
            reply: Any = await self._redis.xreadgroup(
                self.group, self.consumer, {self.stream: ">"}, count=limit, block=block_ms
            )
        except ResponseError as exc:
            if "NOGROUP" in str(exc):  # Redis restarted empty: the group is gone
                self._group_ready = False
            raise
        return [delivery for _, entries in reply or [] for delivery in _deliveries(entries)]

    async def ack(self, delivery: IngestDelivery) -> None:
        await self._redis.xack(self.stream, self.group, delivery.entry_id)

    async def reject(self, delivery: IngestDelivery, reason: str) -> None:
        entry: dict[Any, Any] = {
            "event": delivery.payload,
            "reason": reason[:1000],
            "entry_id": delivery.entry_id,
        }
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(self.dead_letter_stream, entry, maxlen=DEAD_LETTER_LENGTH, approximate=True)
            pipe.xack(self.stream, self.group, delivery.entry_id)
            await pipe.execute()

    async def _ready(self) -> None:
        if not self._group_ready:
            await self.ensure_group()


def _deliveries(entries: list[Any]) -> list[IngestDelivery]:
    # A claimed entry trimmed from the stream comes back without fields: nothing to apply.
    return [
        StreamDelivery(_text(entry_id), fields.get(b"event", b""))
        for entry_id, fields in entries
        if fields
    ]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
