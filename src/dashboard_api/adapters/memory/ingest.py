"""The in-process ingest queue: the embedded default, with the Redis Stream's delivery rules."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from dashboard_api.domain.model.ingestion import IngestStats, Lease
from dashboard_api.domain.ports import IngestDelivery


@dataclass(frozen=True)
class MemoryDelivery:
    entry_id: str
    payload: bytes
    added_at: float = field(default_factory=time.time, compare=False)


def _position(entry_id: str) -> tuple[int, int]:
    first, _, second = entry_id.partition("-")
    return int(first), int(second or 0)


class MemoryIngestQueue:
    """Entries are handed out once by `read` and stay pending until acknowledged; `pending`
    hands them out again, oldest first. One process, so its consumer always holds the lease.
    Lost when the process ends."""

    def __init__(self, *, max_length: int = 100_000) -> None:
        self._max_length = max_length
        self._new: list[MemoryDelivery] = []
        self._pending: dict[str, MemoryDelivery] = {}
        self._sequence = itertools.count(1)
        self._arrived = asyncio.Event()
        self._leading = False
        self.rejected: list[tuple[MemoryDelivery, str]] = []
        self.dead_letters = 0

    async def add(self, payload: bytes) -> str:
        if len(self._new) >= self._max_length:
            raise OverflowError("the ingest queue is full")
        delivery = MemoryDelivery(f"0-{next(self._sequence)}", payload)
        self._new.append(delivery)
        self._arrived.set()
        return delivery.entry_id

    async def lead(self) -> Lease:
        acquired, self._leading = not self._leading, True
        return Lease.ACQUIRED if acquired else Lease.KEPT

    async def resign(self) -> None:
        self._leading = False

    async def take_over(self) -> int:
        return len(self._pending)

    async def pending(self, *, after: str, limit: int) -> list[IngestDelivery]:
        start = _position(after)
        later = sorted(
            (d for d in self._pending.values() if _position(d.entry_id) > start),
            key=lambda delivery: _position(delivery.entry_id),
        )
        return list(later[:limit])

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

    async def ack(self, deliveries: Sequence[IngestDelivery]) -> None:
        for delivery in deliveries:
            self._pending.pop(delivery.entry_id, None)

    async def reject(self, delivery: IngestDelivery, reason: str) -> None:
        self.rejected.append((MemoryDelivery(delivery.entry_id, delivery.payload), reason))
        self.rejected = self.rejected[-1000:]
        self.dead_letters += 1
        await self.ack([delivery])

    async def stats(self) -> IngestStats:
        oldest = min((d.added_at for d in self._pending.values()), default=None)
        age = 0.0 if oldest is None else max(0.0, time.time() - oldest)
        return IngestStats(len(self._pending), age, len(self._new), self.dead_letters)

    @property
    def pending_count(self) -> int:
        return len(self._pending)
