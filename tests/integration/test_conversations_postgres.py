"""Chat on the real PostgreSQL and Redis: under concurrent load a message never exists without
its task or the reverse, totals stay exact, and every task reaches the engine's stream once."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dashboard_api.http import create_app
from dashboard_api.settings import Settings
from tests.conftest import REDIS_URL, unavailable

pytestmark = pytest.mark.integration


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (OSError, ConnectionError) as exc:
        unavailable(f"Redis unreachable at {REDIS_URL}: {exc}")
    yield client
    await client.aclose()


@pytest.fixture
async def engine_stream(redis: Redis) -> AsyncIterator[str]:
    name = f"test:engine:{uuid.uuid4().hex}"
    yield name
    await redis.delete(name)
    # The bus keeps per-channel history under keys of its own; remove what this test made.
    async for key in redis.scan_iter(match="dashboard:history:conversation:test-*"):
        await redis.delete(key)


async def _scalar(engine: AsyncEngine, sql: str) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text(sql))).scalar_one())


async def _stream_task_ids(redis: Redis, stream: str) -> list[str]:
    entries = await redis.xrange(stream)
    return [json.loads(fields[b"payload"])["task_id"] for _, fields in entries]


async def test_concurrent_messages_never_split_from_their_tasks(
    postgres_url: str, clean_postgres: AsyncEngine, redis: Redis, engine_stream: str
) -> None:
    settings = Settings(
        database_url=postgres_url, redis_url=REDIS_URL, engine_queue=engine_stream, db_pool_size=6
    )
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    async with AsyncTestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        ids = []
        for i in range(4):
            body = {"agent_type": "coder", "conversation_id": f"{prefix}-{i}"}
            ids.append(
                (await client.post("/api/conversations", json=body)).json()["conversation_id"]
            )

        async def post(n: int) -> int:
            conversation_id = ids[n % len(ids)]
            body: dict[str, object] = {"role": "user", "content": f"request {n}"}
            if n % 5 == 0:
                # Duplicate message ids: one wins, the others fail after their task was written.
                body["message_id"] = f"{prefix}-dup-{n % 3}"
            if n % 7 == 0:
                body = {"role": "assistant", "content": "reply", "task_id": "no-such-task"}
            response = await client.post(
                f"/api/conversations/{conversation_id}/messages", json=body
            )
            return response.status_code

        codes = Counter(await asyncio.gather(*(post(n) for n in range(60))))
        assert set(codes) <= {201, 409, 422}
        assert codes[409] > 0
        assert codes[422] > 0

    orphan_tasks = await _scalar(
        clean_postgres,
        "SELECT count(*) FROM tasks t WHERE NOT EXISTS "
        "(SELECT 1 FROM messages m WHERE m.task_id = t.task_id)",
    )
    orphan_messages = await _scalar(
        clean_postgres,
        "SELECT count(*) FROM messages m WHERE m.task_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM tasks t WHERE t.task_id = m.task_id "
        "AND t.conversation_id = m.conversation_id)",
    )
    assert (orphan_tasks, orphan_messages) == (0, 0)
    assert await _scalar(clean_postgres, "SELECT count(*) FROM messages") == codes[201]
    drift = await _scalar(
        clean_postgres,
        "SELECT count(*) FROM conversations c WHERE message_count <> "
        "(SELECT count(*) FROM messages m WHERE m.conversation_id = c.conversation_id) "
        "OR task_count <> "
        "(SELECT count(*) FROM tasks t WHERE t.conversation_id = c.conversation_id)",
    )
    assert drift == 0
    assert await _scalar(clean_postgres, "SELECT count(*) FROM handoff_outbox") == 0
    handed = await _stream_task_ids(redis, engine_stream)
    async with clean_postgres.connect() as connection:
        tasks = set((await connection.execute(text("SELECT task_id FROM tasks"))).scalars())
    assert sorted(handed) == sorted(tasks)


async def test_a_hand_off_left_by_an_unreachable_queue_is_delivered_on_the_next_start(
    postgres_url: str, clean_postgres: AsyncEngine, redis: Redis, engine_stream: str
) -> None:
    down = Settings(
        database_url=postgres_url,
        redis_url="redis://127.0.0.1:1/0",
        engine_queue=engine_stream,
        handoff_retry_seconds=3600,
    )
    conversation_id = f"test-{uuid.uuid4().hex[:8]}"
    async with AsyncTestClient(create_app(down), base_url="http://127.0.0.1") as client:
        await client.post(
            "/api/conversations", json={"agent_type": "coder", "conversation_id": conversation_id}
        )
        # The bus is down too: its events are lost, but the stored message is answered 201.
        response = await client.post(
            f"/api/conversations/{conversation_id}/messages",
            json={"role": "user", "content": "run while the queue is down"},
        )
        assert response.status_code == 201
    assert await _scalar(clean_postgres, "SELECT count(*) FROM messages") == 1
    assert await _scalar(clean_postgres, "SELECT count(*) FROM handoff_outbox") == 1
    assert await _stream_task_ids(redis, engine_stream) == []

    up = Settings(database_url=postgres_url, redis_url=REDIS_URL, engine_queue=engine_stream)
    async with AsyncTestClient(create_app(up), base_url="http://127.0.0.1") as client:
        # Until the relay's round has ended: it pushes, then removes the entry in a
        # transaction committed after the push; a shutdown between the two leaves the entry
        # for the next start (at least once), which is not what this test looks at.
        for _ in range(200):
            if await _stream_task_ids(redis, engine_stream) and not await _scalar(
                clean_postgres, "SELECT count(*) FROM handoff_outbox"
            ):
                break
            await asyncio.sleep(0.05)
    async with clean_postgres.connect() as connection:
        task_id = (await connection.execute(text("SELECT task_id FROM tasks"))).scalar_one()
    assert await _stream_task_ids(redis, engine_stream) == [task_id]
    assert await _scalar(clean_postgres, "SELECT count(*) FROM handoff_outbox") == 0
