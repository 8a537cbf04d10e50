"""Durable ingestion against real faults: the server SIGKILLed mid-burst, Redis restarted without
its data, PostgreSQL stopped mid-burst (fast, then immediate), two replicas sharing the consumer
group through the death of one.

Each test streams lifecycle events (created, started, completed with a cost) the way an engine
does, on a private Redis, to real server processes on a database of their own, then counts
what was stored against what was sent: nothing lost, nothing doubled, each task's events in
order (an event applied out of order would be refused and dead-lettered), cost to the cent.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import asyncpg
import httpx
import msgspec
import pytest
import redis.asyncio as aioredis

from tests.e2e.conftest import Server
from tests.postgres_support import PrivatePostgres
from tests.redis_support import PrivateRedis

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

STREAM = "dashboard:ingest"
GROUP = "dashboard-api"
DEAD_LETTERS = "dashboard:ingest:rejected"


def start(database_url: str, redis: PrivateRedis, consumer: str = "replica-a") -> Server:
    server = Server(
        {
            "DASHBOARD_DATABASE_URL": database_url,
            "DASHBOARD_REDIS_URL": redis.url,
            "DASHBOARD_INGEST_CONSUMER": consumer,
            "DASHBOARD_INGEST_LEASE_MS": "2000",
        }
    )
    try:
        server.wait_ready(timeout=90)  # start-up alone takes 10-30 s on a loaded 2-core machine
    except Exception as exc:
        output = server.read_output()
        server.stop()
        raise AssertionError(f"server not ready: {exc}\n{output[-3000:]}") from exc
    return server


def kill(server: Server) -> None:
    """SIGKILL: no shutdown hook runs, nothing is acknowledged or resigned."""
    server.process.kill()
    server.process.wait()
    server.output.close()


@dataclass
class Burst:
    """Lifecycle events of `tasks` tasks, each task's three in order, tasks interleaved."""

    prefix: str = field(default_factory=lambda: f"k{uuid.uuid4().hex[:8]}-")
    tasks: int = 1000
    costs: dict[str, Decimal] = field(default_factory=dict)

    def ordered(self) -> list[bytes]:
        """Per task in order, tasks interleaved at random (the same every run)."""
        rng = random.Random(7)
        pending = {
            n: [
                {"type": "task.created", "agent_type": f"agent-{n % 4}"},
                {"type": "task.started"},
                {"type": "task.completed"},
            ]
            for n in range(self.tasks)
        }
        out: list[bytes] = []
        for n in range(self.tasks):
            self.costs[f"{self.prefix}{n}"] = Decimal(rng.randrange(1, 10**6)) / Decimal(10**6)
        alive = list(pending)
        while alive:
            n = alive[rng.randrange(len(alive))]
            event = pending[n].pop(0)
            task_id = f"{self.prefix}{n}"
            event |= {"task_id": task_id, "event_id": f"{task_id}:{event['type']}"}
            if event["type"] == "task.completed":
                event["cost_usd"] = str(self.costs[task_id])
            out.append(msgspec.json.encode(event))
            if not pending[n]:
                alive.remove(n)
        return out

    @property
    def total(self) -> int:
        return self.tasks * 3


async def send(redis: aioredis.Redis, events: list[bytes], per_second: float) -> None:
    """XADD in chunks of 100, paced like a busy engine fleet."""
    for start_at in range(0, len(events), 100):
        async with redis.pipeline(transaction=False) as pipe:
            for payload in events[start_at : start_at + 100]:
                pipe.xadd(STREAM, {"event": payload})
            await pipe.execute()
        await asyncio.sleep(100 / per_second)


def dsn(database_url: str) -> str:
    return database_url.replace("postgresql+asyncpg://", "postgresql://")


async def applied(db: asyncpg.Connection, burst: Burst) -> int:
    count: int = await db.fetchval(
        "SELECT count(*) FROM processed_events WHERE event_id LIKE $1", burst.prefix + "%"
    )
    return count


async def wait_applied(
    db: asyncpg.Connection, burst: Burst, fraction: float = 1.0, within: float = 30
) -> int:
    """How many events of the burst are applied, once at least `fraction` of them are."""
    deadline = time.monotonic() + within
    while True:
        count = await applied(db, burst)
        if count >= burst.total * fraction:
            return count
        assert time.monotonic() < deadline, f"{count} of {burst.total} events applied"
        await asyncio.sleep(0.02)


async def get(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.get(url)


async def assert_exactly_once_in_order(
    db: asyncpg.Connection, redis: aioredis.Redis, burst: Burst, server: Server
) -> None:
    rows = await db.fetch(
        "SELECT task_id, status, version, cost_micros, started_at, completed_at FROM tasks"
        " WHERE task_id LIKE $1",
        burst.prefix + "%",
    )
    assert len(rows) == burst.tasks  # 0 lost
    assert {row["status"] for row in rows} == {"completed"}
    # One version per applied event: created, started, completed. A doubled event would add
    # one; one applied out of order would have been refused (and the version would be short).
    assert {row["version"] for row in rows} == {3}
    assert all(row["started_at"] <= row["completed_at"] for row in rows)
    stored = sum(Decimal(row["cost_micros"]) / 10**6 for row in rows)
    assert stored == sum(burst.costs.values())
    assert await applied(db, burst) == burst.total
    assert await redis.xlen(DEAD_LETTERS) == 0
    deadline = time.monotonic() + 10  # the last batch is acknowledged just after its commit
    while (await redis.xpending(STREAM, GROUP))["pending"]:
        assert time.monotonic() < deadline, "entries left unacknowledged"
        await asyncio.sleep(0.1)
    # The rollups saw every change once too: analytics (read from them) match the raw rows of
    # the whole database (other tests' tasks included) to the cent.
    count, micros = await db.fetchrow("SELECT count(*), sum(cost_micros) FROM tasks")
    response = await get(f"{server.url}/api/analytics/summary")
    assert response.status_code == 200, response.text
    summary = response.json()
    assert summary["total_tasks"] == count
    assert Decimal(str(summary["total_cost_usd"])) == Decimal(micros) / 10**6


@pytest.fixture
async def db(e2e_database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(dsn(e2e_database_url))
    yield connection
    await connection.close()


@pytest.fixture
async def redis(private_redis: PrivateRedis) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(private_redis.url)
    yield client
    await client.aclose()


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        if server.process.poll() is None:
            server.stop()


async def test_a_server_killed_mid_burst_loses_and_doubles_nothing(
    e2e_database_url: str,
    private_redis: PrivateRedis,
    db: asyncpg.Connection,
    redis: aioredis.Redis,
    servers: list[Server],
) -> None:
    burst = Burst(tasks=700)  # 2,100 events
    events = burst.ordered()
    servers.append(start(e2e_database_url, private_redis))
    sending = asyncio.create_task(send(redis, events, per_second=1500))
    await wait_applied(db, burst, 0.4)
    kill(servers[-1])  # in the middle of a batch, most likely; wherever it lands, it must hold
    killed_at = await applied(db, burst)
    # In a thread: the engine goes on sending while the server starts (10-30 s on a loaded
    # machine); started in the loop, it froze the sender's pending XADD past its timeout.
    servers.append(await asyncio.to_thread(start, e2e_database_url, private_redis))
    await sending
    await wait_applied(db, burst)
    assert 0 < killed_at < burst.total
    await assert_exactly_once_in_order(db, redis, burst, servers[-1])


async def test_ingestion_resumes_after_redis_restarts_without_its_data(
    e2e_database_url: str,
    private_redis: PrivateRedis,
    db: asyncpg.Connection,
    servers: list[Server],
) -> None:
    server = start(e2e_database_url, private_redis)
    servers.append(server)
    before = Burst(tasks=20)
    client = aioredis.Redis.from_url(private_redis.url)
    await send(client, before.ordered(), per_second=10_000)
    await client.aclose()
    await wait_applied(db, before)

    private_redis.stop()
    await wait_ready(server, expected=503)
    private_redis.start()  # empty: no stream, no group, no lease
    after = Burst(tasks=20)
    client = aioredis.Redis.from_url(private_redis.url)
    try:
        await send(client, after.ordered(), per_second=10_000)
        await wait_applied(db, after)
        await wait_ready(server, expected=200)
        await assert_exactly_once_in_order(db, client, after, server)
    finally:
        await client.aclose()


async def test_ready_names_ingestion_that_cannot_progress_while_redis_answers(
    e2e_database_url: str,
    private_redis: PrivateRedis,
    db: asyncpg.Connection,
    redis: aioredis.Redis,
    servers: list[Server],
) -> None:
    server = start(e2e_database_url, private_redis)
    servers.append(server)
    # The stream key replaced by a value of another type: every group command fails.
    await redis.delete(STREAM)
    await redis.set(STREAM, "not a stream")
    body = await wait_ready(server, expected=503, error="WRONGTYPE")
    assert body["checks"] == {"database": True, "redis": True, "ingestion": False}
    await redis.delete(STREAM)
    burst = Burst(tasks=10)
    await send(redis, burst.ordered(), per_second=10_000)
    await wait_applied(db, burst)
    await wait_ready(server, expected=200)
    metrics = (await get(f"{server.url}/metrics")).text
    assert "dashboard_ingest_healthy 1.0" in metrics
    assert "dashboard_ingest_dead_letters 0.0" in metrics


async def test_events_sent_while_postgres_is_down_are_applied_once_after_it_is_back(
    private_postgres: PrivatePostgres,
    private_redis: PrivateRedis,
    redis: aioredis.Redis,
    servers: list[Server],
) -> None:
    server = start(private_postgres.url, private_redis)
    servers.append(server)
    bursts: list[Burst] = []
    for mode in ("fast", "immediate"):
        burst = Burst(tasks=300)  # 900 events: PostgreSQL goes down while they are applied
        bursts.append(burst)
        sending = asyncio.create_task(send(redis, burst.ordered(), per_second=3000))
        db = await asyncpg.connect(dsn(private_postgres.url))
        try:
            await wait_applied(db, burst, 0.1)
        finally:
            await db.close()
        await asyncio.to_thread(private_postgres.shut_down, mode)
        await sending  # the rest of the burst reaches the stream while the database is down
        body = await wait_ready(server, expected=503)
        assert body["checks"]["database"] is False
        assert body["checks"]["ingestion"] is False, body  # its rounds fail meanwhile
        await assert_503_problems(server)
        await asyncio.to_thread(private_postgres.start_again)
        db = await asyncpg.connect(dsn(private_postgres.url))
        try:
            await wait_applied(db, burst)
            await wait_ready(server, expected=200)
            await rest_recovered(server)
            await assert_exactly_once_in_order(db, redis, burst, server)
        finally:
            await db.close()
    output = server.read_output()
    assert "unhandled error" not in output, output[-3000:]


async def rest_recovered(server: Server) -> None:
    """REST answers again: each pooled connection the restart dropped fails one request with a
    503 and is replaced (no pre-ping, docs/design.md), then 200s; never a 500."""
    streak = 0
    deadline = time.monotonic() + 15
    async with httpx.AsyncClient(base_url=server.url, timeout=15) as client:
        while streak < 10:
            assert time.monotonic() < deadline, "REST did not recover"
            response = await client.get("/api/analytics/summary")
            assert response.status_code in (200, 503), response.text
            streak = streak + 1 if response.status_code == 200 else 0


async def assert_503_problems(server: Server) -> None:
    """REST while the database is down: 503 problem documents with Retry-After, never a 500."""
    async with httpx.AsyncClient(base_url=server.url, timeout=15) as client:
        responses = [
            await client.get("/api/tasks"),
            await client.get("/api/tasks/anything"),
            await client.get("/api/analytics/summary"),
            await client.post("/api/tasks", json={"agent_type": "coder"}),
        ]
    for response in responses:
        assert response.status_code == 503, (response.request.url, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.headers["retry-after"]


async def test_two_replicas_share_the_group_through_the_death_of_one(
    e2e_database_url: str,
    private_redis: PrivateRedis,
    db: asyncpg.Connection,
    redis: aioredis.Redis,
    servers: list[Server],
) -> None:
    replicas = {
        name: start(e2e_database_url, private_redis, consumer=name)
        for name in ("replica-a", "replica-b")
    }
    servers.extend(replicas.values())
    burst = Burst(tasks=500)
    sending = asyncio.create_task(send(redis, burst.ordered(), per_second=1500))
    await wait_applied(db, burst, 0.3)
    holder = (await redis.get(f"{STREAM}:lease:{GROUP}") or b"").decode().rpartition("/")[0]
    kill(replicas.pop(holder))
    (survivor,) = replicas.values()
    await sending
    await wait_applied(db, burst)
    assert (
        (await redis.get(f"{STREAM}:lease:{GROUP}") or b"")
        .decode()
        .startswith(next(iter(replicas)))
    )
    await assert_exactly_once_in_order(db, redis, burst, survivor)


async def wait_ready(
    server: Server, *, expected: int, error: str = "", within: float = 20
) -> dict[str, object]:
    """The /ready body once it answers `expected` (and names `error`, when given)."""
    deadline = time.monotonic() + within
    while True:
        response = await get(f"{server.url}/ready")
        if response.status_code == expected and error in response.text:
            body: dict[str, object] = response.json()
            return body
        assert time.monotonic() < deadline, f"/ready stayed {response.status_code}"
        await asyncio.sleep(0.2)
