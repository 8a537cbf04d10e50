"""The in-process ingest queue: the embedded default, with the Redis Stream's delivery rules."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass

from dashboard_api.domain.ports import IngestDelivery


@dataclass(frozen=True)
class MemoryDelivery:
    entry_id: str
    payload: bytes


class MemoryIngestQueue:
    """Entries are handed out once by `read`, stay pending until acknowledged, and come back
    through `claim_stale` (what a restarted consumer calls). Lost when the process ends."""

    def __init__(self, *, max_length: int = 100_000) -> None:
        self._max_length = max_length
        self._new: list[MemoryDelivery] = []
        self._pending: dict[str, MemoryDelivery] = {}
        self._sequence = itertools.count(1)
        self._arrived = asyncio.Event()
        self.rejected: list[tuple[MemoryDelivery, str]] = []

    async def add(self, payload: bytes) -> str:
        if len(self._new) >= self._max_length:
            raise OverflowError("the ingest queue is full")
        delivery = MemoryDelivery(f"0-{next(self._sequence)}", payload)
        self._new.append(delivery)
        self._arrived.set()
        return delivery.entry_id

    async def claim_stale(self, *, limit: int) -> list[IngestDelivery]:
        stale: list[IngestDelivery] = list(self._pending.values())
        return stale[:limit]

    async def read(self, *, limit: int, block_ms: int) -> list[IngestDelivery]:
        if not self._new:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), block_ms / 1000)
            except TimeoutError:
                return []
        taken, self._new = self._new[:limit], self._new[limit:]
        handed: list[IngestDelivery] = []
        for delivery in taken:
            self._pending[delivery.entry_id] = delivery
            handed.append(delivery)
        return handed

    async def ack(self, delivery: IngestDelivery) -> None:
        self._pending.pop(delivery.entry_id, None)

    async def reject(self, delivery: IngestDelivery, reason: str) -> None:
        self.rejected.append((MemoryDelivery(delivery.entry_id, delivery.payload), reason))
        self.rejected = self.rejected[-1000:]
        await self.ack(delivery)

    @property
    def pending(self) -> int:
        return len(self._pending)
