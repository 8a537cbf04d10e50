"""The TicketStore and RequestCounter contracts, on memory and on the real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis

from dashboard_api.adapters.memory.edge import MemoryRequestCounter, MemoryTicketStore
from dashboard_api.adapters.redis.edge import RedisRequestCounter, RedisTicketStore
from dashboard_api.domain.ports import RequestCounter, TicketStore
from dashboard_api.domain.services.rate_limits import Budget, RateLimiter
from tests.redis_support import require_shared_redis, unique


@dataclass
class Edge:
    tickets: TicketStore
    counter: RequestCounter
    prefix: str


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
async def edge(request: pytest.FixtureRequest) -> AsyncIterator[Edge]:
    prefix = unique("test:edge:")
    if request.param == "memory":
        yield Edge(MemoryTicketStore(), MemoryRequestCounter(), prefix)
        return
    client = aioredis.Redis.from_url(require_shared_redis())
    yield Edge(RedisTicketStore(client, prefix=prefix), RedisRequestCounter(client), prefix)
    keys = [key async for key in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_a_ticket_is_redeemed_once(edge: Edge) -> None:
    await edge.tickets.issue("t-1", "holder-a", ttl_seconds=30)
    assert await edge.tickets.redeem("t-1") == "holder-a"
    assert await edge.tickets.redeem("t-1") is None
    assert await edge.tickets.redeem("never-issued") is None


async def test_a_ticket_redeemed_concurrently_goes_to_one_caller(edge: Edge) -> None:
    await edge.tickets.issue("t-2", "holder-b", ttl_seconds=30)
    results = await asyncio.gather(*(edge.tickets.redeem("t-2") for _ in range(10)))
    assert results.count("holder-b") == 1


async def test_a_ticket_expires(edge: Edge) -> None:
    await edge.tickets.issue("t-3", "holder-c", ttl_seconds=1)
    await asyncio.sleep(1.2)
    assert await edge.tickets.redeem("t-3") is None


async def test_counts_add_up_per_key(edge: Edge) -> None:
    first, second = edge.prefix + "a", edge.prefix + "b"
    counts = [await edge.counter.add(first, 1, ttl_seconds=60) for _ in range(3)]
    assert counts == [1, 2, 3]
    assert await edge.counter.add(first, 10, ttl_seconds=60) == 13
    assert await edge.counter.add(second, 1, ttl_seconds=60) == 1


async def test_a_count_is_forgotten_after_its_ttl(edge: Edge) -> None:
    key = edge.prefix + "short"
    await edge.counter.add(key, 5, ttl_seconds=1)
    await edge.counter.add(key, 1, ttl_seconds=1)  # a later count does not extend its life
    await asyncio.sleep(1.2)
    assert await edge.counter.add(key, 1, ttl_seconds=1) == 1


async def test_the_limiter_refuses_past_the_budget_until_the_next_window(edge: Edge) -> None:
    now = [1_000_000.0]
    limiter = RateLimiter(
        edge.counter, {Budget.READ: 3, Budget.WRITE: 1}, clock=lambda: now[0], prefix=edge.prefix
    )
    decisions = [await limiter.check("token:ui", Budget.READ) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert decisions[-1].reset_seconds == 20  # 1,000,000 s is 40 s into a minute
    # Budgets are separate, and clients too.
    assert (await limiter.check("token:ui", Budget.WRITE)).allowed
    assert (await limiter.check("token:other", Budget.READ)).allowed
    now[0] += 20
    assert (await limiter.check("token:ui", Budget.READ)).allowed


async def test_replicas_take_units_in_leases_and_stop_asking_once_spent(edge: Edge) -> None:
    calls = 0
    counter = edge.counter

    class Counting:
        async def add(self, key: str, amount: int, *, ttl_seconds: int) -> int:
            nonlocal calls
            calls += 1
            return await counter.add(key, amount, ttl_seconds=ttl_seconds)

    now = [1_000_000.0]
    limits = {Budget.READ: 500}  # leases of 10 units
    replicas = [
        RateLimiter(Counting(), limits, clock=lambda: now[0], prefix=edge.prefix) for _ in range(2)
    ]
    allowed = 0
    for n in range(600):
        allowed += (await replicas[n % 2].check("token:ui", Budget.READ)).allowed
    # Both replicas together admit the budget, not more; at most a lease each short of it.
    assert 500 - 2 * 10 <= allowed <= 500
    assert calls <= 500 // 10 + 2 * 2
    asked = calls
    for n in range(100):  # a flood past the budget costs no round trip
        assert not (await replicas[n % 2].check("token:ui", Budget.READ)).allowed
    assert calls == asked
    now[0] += 20  # the next window
    assert (await replicas[0].check("token:ui", Budget.READ)).allowed


async def test_concurrent_requests_share_one_lease_round_trip(edge: Edge) -> None:
    calls = 0
    counter = edge.counter

    class Slow:
        async def add(self, key: str, amount: int, *, ttl_seconds: int) -> int:
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.01)  # a round trip: every request arrives meanwhile
            return await counter.add(key, amount, ttl_seconds=ttl_seconds)

    limiter = RateLimiter(Slow(), {Budget.READ: 1000}, prefix=edge.prefix)  # leases of 20
    decisions = await asyncio.gather(*(limiter.check("token:ui", Budget.READ) for _ in range(64)))
    assert all(decision.allowed for decision in decisions)
    assert calls == 4  # 64 requests, 20 units a lease
