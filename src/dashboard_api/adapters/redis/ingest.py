"""The ingest queue on a Redis Stream with a consumer group: at-least-once, in order, survives
crashes and a Redis that lost its data.

Engines XADD `{"event": <json>}` entries. Every API process joins the same group under a stable
consumer name, but only the holder of a lease key consumes (see docs/realtime.md, "Durable
ingestion"): it claims whatever any consumer left unacknowledged, goes through its own pending
entries from the start, then reads new ones. An entry is acknowledged only after its change
committed. Refused entries are copied to a dead-letter stream with the reason, then
acknowledged. A `NOGROUP` error on any group command (Redis restarted empty, or the group or
the stream was deleted) recreates the group and repeats the command once.
"""

from __future__ import annotations

import functools
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import msgspec
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from dashboard_api.domain.model.ingestion import IngestStats, Lease
from dashboard_api.domain.ports import IngestDelivery

DEAD_LETTER_LENGTH = 10_000

# Renew the lease if this process holds it, take it if nobody does (also after Redis lost it).
_LEAD = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 2
end
return 0
"""
_RESIGN = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

_T = TypeVar("_T")


class StreamDelivery(msgspec.Struct, frozen=True, gc=False):
    """A msgspec Struct, not a frozen dataclass: one per ingested event, built ~4x cheaper
    (a frozen dataclass sets each field through `object.__setattr__`). Text and bytes only:
    untracked by the cyclic GC, as `Task` is."""

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
        max_length: int = 1_000_000,
        consumer: str | None = None,
        lease_ms: int = 10_000,
    ) -> None:
        self._redis = redis
        self.stream = stream
        self.group = group
        self.dead_letter_stream = dead_letter_stream
        self._max_length = max_length
        # Stable across restarts (the host name by default), so the group keeps one consumer
        # per replica instead of one per process that ever ran.
        self.consumer = consumer or socket.gethostname()
        self.lease_key = f"{stream}:lease:{group}"
        # Unique per process: two processes with one consumer name never both hold the lease.
        self._token = f"{self.consumer}/{uuid.uuid4().hex}"
        self._lease_ms = lease_ms
        self._group_ready = False

    async def add(self, payload: bytes) -> str:
        entry_id = await self._redis.xadd(
            self.stream, {"event": payload}, maxlen=self._max_length, approximate=True
        )
        return _text(entry_id)

    async def ensure_group(self) -> None:
        """Create the group (and the stream) if missing. From id 0: after a loss, whatever
        the stream holds is delivered; what was applied before is a duplicate by event id."""
        try:
            await self._redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def lead(self) -> Lease:
        held = await self._redis.eval(_LEAD, 1, self.lease_key, self._token, self._lease_ms)
        return {1: Lease.KEPT, 2: Lease.ACQUIRED}.get(int(held), Lease.ELSEWHERE)

    async def resign(self) -> None:
        await self._redis.eval(_RESIGN, 1, self.lease_key, self._token)

    async def holder(self) -> str | None:
        """The consumer name of the lease holder (for tests and operators)."""
        value = await self._redis.get(self.lease_key)
        return None if value is None else _text(value).rpartition("/")[0]

    async def take_over(self) -> int:
        taken = 0
        start = "0-0"
        while True:
            reply: Any = await self._grouped(functools.partial(self._claim, start))
            start, claimed = _text(reply[0]), reply[1]
            taken += len(claimed)
            if start == "0-0":
                return taken

    def _claim(self, start: str) -> Awaitable[Any]:
        # Idle 0: the lease says this is the only consumer now; whoever held these is gone.
        return self._redis.xautoclaim(self.stream, self.group, self.consumer, 0, start, count=1000)

    async def pending(self, *, after: str, limit: int) -> list[IngestDelivery]:
        reply: Any = await self._grouped(
            lambda: self._redis.xreadgroup(
                self.group, self.consumer, {self.stream: after}, count=limit
            )
        )
        entries: list[Any] = [
            entry for _, stream_entries in reply or [] for entry in stream_entries
        ]
        # An entry trimmed from the stream while pending comes back without fields: nothing
        # to apply, and it would stay pending for ever.
        gone = [_text(entry_id) for entry_id, fields in entries if not fields]
        if gone:
            await self._redis.xack(self.stream, self.group, *gone)
        return _deliveries(entries)

    async def read(self, *, limit: int, block_ms: int) -> list[IngestDelivery]:
        reply: Any = await self._grouped(
            lambda: self._redis.xreadgroup(
                self.group, self.consumer, {self.stream: ">"}, count=limit, block=block_ms
            )
        )
        return [delivery for _, entries in reply or [] for delivery in _deliveries(entries)]

    async def ack(self, deliveries: Sequence[IngestDelivery]) -> None:
        if deliveries:
            ids = [delivery.entry_id for delivery in deliveries]
            await self._redis.xack(self.stream, self.group, *ids)

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

    async def stats(self) -> IngestStats:
        summary: Any = await self._grouped(lambda: self._redis.xpending(self.stream, self.group))
        groups: Any = await self._redis.xinfo_groups(self.stream)
        dead_letters = int(await self._redis.xlen(self.dead_letter_stream))
        undelivered = 0
        for group in groups:
            if _text(group["name"]) == self.group:
                undelivered = int(group.get("lag") or 0)
        oldest = summary.get("min")
        age = 0.0
        if summary["pending"] and oldest is not None:
            added_ms = int(_text(oldest).partition("-")[0])
            age = max(0.0, time.time() - added_ms / 1000)
        return IngestStats(int(summary["pending"]), age, undelivered, dead_letters)

    async def _grouped(self, command: Callable[[], Awaitable[_T]]) -> _T:
        """Run a command of the group; if Redis says the group is gone, recreate it and run
        the command once more."""
        if not self._group_ready:
            await self.ensure_group()
        try:
            return await command()
        except ResponseError as exc:
            # NOGROUP: Redis restarted empty or the group was destroyed; UNBLOCKED: the stream
            # was deleted while XREADGROUP waited on it.
            if "NOGROUP" not in str(exc) and "UNBLOCKED" not in str(exc):
                raise
        self._group_ready = False
        await self.ensure_group()
        return await command()


def _deliveries(entries: list[Any]) -> list[IngestDelivery]:
    return [
        StreamDelivery(
            entry_id.decode() if type(entry_id) is bytes else entry_id,
            fields.get(b"event", b""),
        )
        for entry_id, fields in entries
        if fields
    ]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
