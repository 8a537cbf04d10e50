"""Rate limits: each client (a token, or an address without tokens) has a budget of requests
per minute for reads, one for writes and one for ingestion, counted in fixed windows.

A fixed window needs one counter and one round trip per request (an increment that also sets
the expiry), which is what keeps the limits cheap enough to check on every request; the price
is that a client may spend up to twice its budget across a window boundary.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from dashboard_api.domain.ports import RequestCounter


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

    def limits(self, budget: Budget) -> bool:
        """Whether `budget` is limited at all (0: unlimited, nothing is counted)."""
        return self._limits.get(budget, 0) > 0

    async def check(self, client: str, budget: Budget) -> Decision:
        """Count one request of `client` against `budget`."""
        limit = self._limits[budget]
        now = self._clock()
        window = int(now // self._window)
        # The window's index is part of the key: a new window starts from zero by itself.
        key = f"{self._prefix}{budget}:{client}:{window}"
        count = await self._counter.increment(key, self._window + 1)
        reset = max(1, int((window + 1) * self._window - now + 0.999))
        return Decision(
            allowed=count <= limit,
            limit=limit,
            remaining=max(0, limit - count),
            reset_seconds=reset,
        )
