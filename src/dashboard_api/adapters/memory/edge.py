"""Tickets and request counters in process memory: the embedded default (one process)."""

from __future__ import annotations

import time
from collections.abc import Callable


class _Expiring:
    """A dict whose entries expire; expired entries are dropped as new ones arrive."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[float, object]] = {}
        self._next_sweep = 0.0

    def _sweep(self, now: float) -> None:
        # At most once a second: a sweep walks every entry.
        if now >= self._next_sweep:
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            self._next_sweep = now + 1.0

    def get(self, key: str) -> object | None:
        now = self._clock()
        found = self._entries.get(key)
        if found is None or found[0] <= now:
            return None
        return found[1]

    def put(self, key: str, value: object, ttl_seconds: float, *, keep_expiry: bool) -> None:
        now = self._clock()
        self._sweep(now)
        found = self._entries.get(key)
        expires = found[0] if keep_expiry and found and found[0] > now else now + ttl_seconds
        self._entries[key] = (expires, value)

    def pop(self, key: str) -> object | None:
        value = self.get(key)
        self._entries.pop(key, None)
        return value


class MemoryTicketStore:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._tickets = _Expiring(clock)

    async def issue(self, ticket: str, holder: str, ttl_seconds: int) -> None:
        self._tickets.put(ticket, holder, ttl_seconds, keep_expiry=False)

    async def redeem(self, ticket: str) -> str | None:
        holder = self._tickets.pop(ticket)
        return holder if isinstance(holder, str) else None


class MemoryRequestCounter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._counts = _Expiring(clock)

    async def add(self, key: str, amount: int, *, ttl_seconds: int) -> int:
        found = self._counts.get(key)
        count = (found if isinstance(found, int) else 0) + amount
        self._counts.put(key, count, ttl_seconds, keep_expiry=True)
        return count
