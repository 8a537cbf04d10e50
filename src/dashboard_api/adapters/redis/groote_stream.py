"""The groote-ai engine's `task_events` stream, read through a consumer group of our own.

Their stream is theirs: another service of theirs reads it through its own group, so this
adapter never trims it, never claims from another group, and writes nothing to it (refused
entries go to a dead-letter stream of ours). Each entry is handed to the ingestor as one JSON
object, its fields plus `entry_id` and an `event_id` derived from its content, so a
redelivered entry, or one appended twice, is the same event. Entry types nothing here
handles are acknowledged as they are read.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from dashboard_api.domain.groote_events import event_id_of
from dashboard_api.domain.ports import IngestDelivery

DEAD_LETTER_LENGTH = 10_000


@dataclass(frozen=True)
class GrooteDelivery:
    entry_id: str
    payload: bytes


class GrooteStreamQueue:
    def __init__(
        self,
        redis: Redis,
        *,
        stream: str,
        group: str,
        dead_letter_stream: str,
        handled_types: Collection[str],
        start_id: str = "0",
        claim_idle_ms: int = 30_000,
        consumer: str | None = None,
    ) -> None:
        self._redis = redis
        self.stream = stream
        self.group = group
        self.dead_letter_stream = dead_letter_stream
        self._handled = frozenset(handled_types)
        self._start_id = start_id
        self._claim_idle_ms = claim_idle_ms
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self._group_ready = False

    async def add(self, payload: bytes) -> str:
        """Append an entry as groote-ai writes one (tests and benchmarks): a JSON object of
        its string fields."""
        fields: dict[Any, Any] = msgspec.json.decode(payload)
        entry_id = await self._redis.xadd(self.stream, fields)
        return _text(entry_id)

    async def ensure_group(self) -> None:
        try:
            await self._redis.xgroup_create(
                self.stream, self.group, id=self._start_id, mkstream=True
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def claim_stale(self, *, limit: int) -> list[IngestDelivery]:
        await self._ready()
        reply: Any = await self._redis.xautoclaim(
            self.stream, self.group, self.consumer, self._claim_idle_ms, "0-0", count=limit
        )
        return await self._deliveries(reply[1])

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
        return [d for _, entries in reply or [] for d in await self._deliveries(entries)]

    async def ack(self, delivery: IngestDelivery) -> None:
        await self._redis.xack(self.stream, self.group, delivery.entry_id)

    async def reject(self, delivery: IngestDelivery, reason: str) -> None:
        entry: dict[Any, Any] = {
            "event": delivery.payload,
            "reason": reason[:1000],
            "entry_id": delivery.entry_id,
        }
        # Two commands on two streams, not a transaction: theirs may live in a cluster slot
        # apart from ours. A crash in between dead-letters the entry twice, never loses it.
        await self._redis.xadd(
            self.dead_letter_stream, entry, maxlen=DEAD_LETTER_LENGTH, approximate=True
        )
        await self._redis.xack(self.stream, self.group, delivery.entry_id)

    async def _deliveries(self, entries: list[Any]) -> list[IngestDelivery]:
        deliveries: list[IngestDelivery] = []
        skipped: list[str] = []
        for raw_id, fields in entries:
            entry_id = _text(raw_id)
            if not fields:
                skipped.append(entry_id)  # claimed after being trimmed: nothing to apply
                continue
            event = {_text(key): _text(value) for key, value in fields.items()}
            if event.get("type") not in self._handled:
                skipped.append(entry_id)
                continue
            event["event_id"] = event_id_of(event)
            event["entry_id"] = entry_id
            deliveries.append(GrooteDelivery(entry_id, msgspec.json.encode(event)))
        if skipped:
            await self._redis.xack(self.stream, self.group, *skipped)
        return deliveries

    async def _ready(self) -> None:
        if not self._group_ready:
            await self.ensure_group()


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value
