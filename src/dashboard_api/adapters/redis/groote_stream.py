"""The groote-ai engine's `task_events` stream, read through a consumer group of our own.

Their stream is theirs: another service of theirs reads it through its own consumer group, so
this adapter never trims it, never claims from another group, and writes nothing to it (refused
entries go to a dead-letter stream of ours). It is the native ingest queue (lease, take-over,
pending first) with another entry format: each entry is handed to the ingestor as one JSON
object, its fields plus `entry_id` and an `event_id` derived from its content, so a
redelivered entry, or one appended twice, is the same event. Entry types nothing here
handles are acknowledged as they are read.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from dashboard_api.adapters.redis.ingest import RedisIngestQueue, StreamDelivery
from dashboard_api.domain.model.groote_events import event_id_of
from dashboard_api.domain.ports import IngestDelivery


class GrooteStreamQueue(RedisIngestQueue):
    def __init__(
        self,
        redis: Redis,
        *,
        stream: str,
        group: str,
        dead_letter_stream: str,
        handled_types: Collection[str],
        start_id: str = "0",
        consumer: str | None = None,
    ) -> None:
        super().__init__(
            redis,
            stream=stream,
            group=group,
            dead_letter_stream=dead_letter_stream,
            consumer=consumer,
        )
        self._handled = frozenset(handled_types)
        self._start_id = start_id

    async def add(self, payload: bytes) -> str:
        """Append an entry as groote-ai writes one (tests and benchmarks): a JSON object of
        its string fields. Never trimmed: the stream's length is theirs to decide."""
        fields: dict[Any, Any] = msgspec.json.decode(payload)
        entry_id = await self._redis.xadd(self.stream, fields)
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def ensure_group(self) -> None:
        try:
            await self._redis.xgroup_create(
                self.stream, self.group, id=self._start_id, mkstream=True
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def pending(self, *, after: str, limit: int) -> list[IngestDelivery]:
        reply: Any = await self._grouped(
            lambda: self._redis.xreadgroup(
                self.group, self.consumer, {self.stream: after}, count=limit
            )
        )
        return await self._deliveries([e for _, entries in reply or [] for e in entries])

    async def read(self, *, limit: int, block_ms: int) -> list[IngestDelivery]:
        reply: Any = await self._grouped(
            lambda: self._redis.xreadgroup(
                self.group, self.consumer, {self.stream: ">"}, count=limit, block=block_ms
            )
        )
        return await self._deliveries([e for _, entries in reply or [] for e in entries])

    async def _deliveries(self, entries: list[Any]) -> list[IngestDelivery]:
        deliveries: list[IngestDelivery] = []
        skipped: list[str] = []
        for raw_id, fields in entries:
            entry_id = _text(raw_id)
            if not fields:
                skipped.append(entry_id)  # trimmed while pending: nothing to apply
                continue
            event = {_text(key): _text(value) for key, value in fields.items()}
            if event.get("type") not in self._handled:
                skipped.append(entry_id)
                continue
            event["event_id"] = event_id_of(event)
            event["entry_id"] = entry_id
            deliveries.append(StreamDelivery(entry_id, msgspec.json.encode(event)))
        if skipped:
            await self._redis.xack(self.stream, self.group, *skipped)
        return deliveries


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value
