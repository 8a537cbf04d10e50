"""Rate limits: each client (a token, or an address without tokens) has a budget of requests
per minute for reads, one for writes and one for ingestion, counted in fixed windows.

Counts live behind a `RequestCounter` (Redis, shared by replicas, or process memory). A round
trip to Redis per request would cost more CPU than the request it guards, so a process takes
its client's units in small *leases*: it adds `lease` units to the shared count at once and
admits that many requests locally before it asks again (2% of the budget, at most 50 units; 1
for budgets under 100, which are then counted exactly). Once the shared count reaches the budget,
the process refuses the client locally until the window ends: a flood costs no round trips.
The price: each replica may leave up to one lease unused per window (the budget is then reached
a little early), and a client may spend up to twice its budget across a window boundary.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from dashboard_api.domain.ports import RequestCounter

MAX_LEASE = 50


class Budget(StrEnum):
    READ = "read"
    WRITE = "write"
    INGEST = "ingest"


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer for one request, with what the RateLimit-* headers report."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int  # until the window ends and the budget is whole again


@dataclass(slots=True)
class _Lease:
    window: int
    counted_before: int  # the shared count before this lease's units
    usable: int  # units of the lease within the budget
    spent: bool  # the shared count reached the budget: refuse until the window ends
    used: int = 0

    def answers(self, window: int) -> bool:
        """Whether this lease decides a request of `window` without asking the counter."""
        return self.window == window and (self.used < self.usable or self.spent)


def lease_size(limit: int) -> int:
    """Units a process takes at once: 2% of the budget, between 1 and MAX_LEASE."""
    return max(1, min(limit // 50, MAX_LEASE))


class RateLimiter:
    """Checks each request against its client's budget. A limit of 0 means no limit."""

    def __init__(
        self,
        counter: RequestCounter,
        limits: dict[Budget, int],
        *,
        window_seconds: int = 60,
        clock: Callable[[], float] = time.time,
        prefix: str = "dashboard:ratelimit:",
    ) -> None:
        self._counter = counter
        self._limits = limits
        self._window = window_seconds
        self._clock = clock
        self._prefix = prefix
        self._leases: dict[tuple[str, Budget], _Lease] = {}
        self._pending: dict[tuple[str, Budget], asyncio.Future[None]] = {}
        self._current_window = 0

    def limits(self, budget: Budget) -> bool:
        """Whether `budget` is limited at all (0: unlimited, nothing is counted)."""
        return self._limits.get(budget, 0) > 0

    async def check(self, client: str, budget: Budget) -> Decision:
        """Count one request of `client` against `budget`."""
        limit = self._limits[budget]
        now = self._clock()
        window = int(now // self._window)
        reset = max(1, math.ceil((window + 1) * self._window - now))
        slot = (client, budget)
        lease = self._leases.get(slot)
        while lease is None or not lease.answers(window):
            await self._refill(slot, limit, window)
            lease = self._leases.get(slot)
        if lease.used >= lease.usable:
            return Decision(allowed=False, limit=limit, remaining=0, reset_seconds=reset)
        lease.used += 1
        remaining = max(0, limit - lease.counted_before - lease.used)
        return Decision(allowed=True, limit=limit, remaining=remaining, reset_seconds=reset)

    async def _refill(self, slot: tuple[str, Budget], limit: int, window: int) -> None:
        """Take a new lease for `slot`, once for all the requests that wait for one: under
        concurrent load they would otherwise each take one, a round trip per request."""
        pending = self._pending.get(slot)
        if pending is None:
            pending = asyncio.ensure_future(self._take_lease(slot, limit, window))
            self._pending[slot] = pending
            pending.add_done_callback(lambda _done: self._pending.pop(slot, None))
        # Shielded: a waiter that is cancelled (its client left) cancels only its own wait.
        await asyncio.shield(pending)

    async def _take_lease(self, slot: tuple[str, Budget], limit: int, window: int) -> None:
        client, budget = slot
        if window != self._current_window:
            # A new window: leases of past windows are dead weight (clients that went away).
            self._leases = {slot: old for slot, old in self._leases.items() if old.window == window}
            self._current_window = window
        size = lease_size(limit)
        # The window's index is part of the key: a new window starts from zero by itself.
        key = f"{self._prefix}{budget}:{client}:{window}"
        counted = await self._counter.add(key, size, ttl_seconds=self._window + 1)
        before = counted - size
        lease = _Lease(
            window=window,
            counted_before=before,
            usable=max(0, min(counted, limit) - before),
            spent=counted >= limit,
        )
        self._leases[slot] = lease
