"""The floor of the conversations and webhook benchmarks: a bare Litestar app doing each real
endpoint's single query with asyncpg, nothing else.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/dashboard_bench_conversations \\
        .venv/bin/uvicorn bench.conversations_floor:app --port 5111
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import asyncpg
from litestar import Litestar, Response, get

from bench.floor_app import json_body, open_pool

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/dashboard_bench_conversations"
)
# The same pool as the task floor (bench/floor_app.py): the service's size, no reset round trip.
CONVERSATION_COLUMNS = (
    "conversation_id, title, agent_type, user_id, archived, created_at, updated_at, "
    "message_count, task_count, cost_micros, input_tokens, output_tokens"
)
CONVERSATIONS_FIRST = (
    f"SELECT {CONVERSATION_COLUMNS} FROM conversations "
    "ORDER BY updated_at DESC, conversation_id DESC LIMIT $1"
)
CONVERSATIONS_NEXT = (
    f"SELECT {CONVERSATION_COLUMNS} FROM conversations "
    "WHERE (updated_at, conversation_id) < ($1, $2) "
    "ORDER BY updated_at DESC, conversation_id DESC LIMIT $3"
)
MESSAGES_NEXT = (
    "SELECT message_id, conversation_id, role, content, task_id, created_at FROM messages "
    "WHERE conversation_id = $1 AND (created_at, message_id) > ($2, $3) "
    "ORDER BY created_at, message_id LIMIT $4"
)
LATENCY = ", ".join(f"sum(latency_{i}) AS latency_{i}" for i in range(12))
# All time, as the service asks it: whole days from the daily rows, today from the hourly rows.
STATS = (
    "SELECT webhook_id, provider, status, sum(events) AS events, "
    f"max(last_received_at) AS last_received_at, {LATENCY} FROM webhook_rollups "
    "WHERE (span = 'day' AND bucket_start >= $1 AND bucket_start < $2) "
    "OR (span = 'hour' AND bucket_start >= $2 AND bucket_start < $3) "
    "GROUP BY webhook_id, provider, status HAVING sum(events) > 0 "
    "ORDER BY webhook_id, provider, status"
)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)

pool: asyncpg.Pool


@asynccontextmanager
async def lifespan(_: Litestar) -> AsyncIterator[None]:
    global pool
    pool = await open_pool(DATABASE_URL)
    try:
        yield
    finally:
        await pool.close()


@get("/api/conversations")
async def conversations(
    limit: int = 50, updated_at: datetime | None = None, conversation_id: str | None = None
) -> Response[bytes]:
    if updated_at is not None and conversation_id is not None:
        rows = await pool.fetch(CONVERSATIONS_NEXT, updated_at, conversation_id, limit)
    else:
        rows = await pool.fetch(CONVERSATIONS_FIRST, limit)
    return json_body({"items": [dict(row) for row in rows], "next_cursor": None})


@get("/api/conversations/{conversation_id:str}/messages")
async def messages(
    conversation_id: str, created_at: datetime, message_id: str, limit: int = 50
) -> Response[bytes]:
    rows = await pool.fetch(MESSAGES_NEXT, conversation_id, created_at, message_id, limit)
    return json_body({"items": [dict(row) for row in rows], "next_cursor": None})


@get("/api/webhooks/stats")
async def stats() -> Response[bytes]:
    now = datetime.now(UTC)
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    rows = await pool.fetch(STATS, EARLIEST, today, end)
    return json_body({"items": [dict(row) for row in rows]})


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


app = Litestar(route_handlers=[conversations, messages, stats, health], lifespan=[lifespan])
