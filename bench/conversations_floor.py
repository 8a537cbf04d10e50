"""The floors of the conversations and webhook benchmarks: each real endpoint's query with
asyncpg, nothing else, as a bare Litestar app (`app`) and as a bare ASGI callable (`bare`).

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/dashboard_bench_conversations \\
        .venv/bin/uvicorn bench.conversations_floor:app --port 5111

The least work each answer needs (issue 15), as bench/floor_app.py: the pool of the service's
size with no reset round trip (`open_pool`), rows encoded by msgspec straight to the body. Like
the service, a page reads one row more than it shows, to know whether a next page exists, and
then carries a cursor (the service's format: base64url of the JSON array of the sort keys). The
stats answer runs the service's two queries (the rollup sums, then the configured webhook ids)
but returns the per-status sums as they come: the service's folding into one line per webhook
with latency percentiles (~80 rows of Python) is not done here, which favours the floor.
"""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import asyncpg
from litestar import Litestar, MediaType, Response, get

from bench.floor_app import _send_json, bare_lifespan, encode, open_pool

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/dashboard_bench_conversations"
)
# The same pool as the task floor (bench/floor_app.py): the service's size, no reset round trip.
CONVERSATION_COLUMNS = (
    "conversation_id, title, agent_type, user_id, archived, created_at, updated_at, "
    "message_count, task_count, cost_micros, input_tokens, output_tokens"
)
# The page size as a literal and the cursor's values as InitPlans, as the service sends an
# unfiltered page (adapters/sqlalchemy/conversations.py): PostgreSQL keeps one plan for each.
_CONVERSATIONS = (
    f"SELECT {CONVERSATION_COLUMNS} FROM conversations "
    "{where}ORDER BY updated_at DESC, conversation_id DESC LIMIT {limit}"
)
_AFTER = "WHERE (updated_at, conversation_id) < ((SELECT $1::timestamptz), (SELECT $2::text)) "
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
CONFIGURED = "SELECT webhook_id FROM webhook_configs"
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)

pool: asyncpg.Pool


def _page(rows: Sequence[asyncpg.Record], limit: int, *keys: str) -> bytes:
    """The first `limit` rows, and a cursor after the last of them if one more row came."""
    cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        raw = encode([last[key] for key in keys])
        cursor = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return encode({"items": [dict(row) for row in rows[:limit]], "next_cursor": cursor})


async def conversation_page(
    limit: int, updated_at: datetime | None, conversation_id: str | None
) -> bytes:
    if updated_at is not None and conversation_id is not None:
        sql = _CONVERSATIONS.format(where=_AFTER, limit=int(limit) + 1)
        rows = await pool.fetch(sql, updated_at, conversation_id)
    else:
        rows = await pool.fetch(_CONVERSATIONS.format(where="", limit=int(limit) + 1))
    return _page(rows, limit, "updated_at", "conversation_id")


async def message_page(
    conversation_id: str, created_at: datetime, message_id: str, limit: int
) -> bytes:
    rows = await pool.fetch(MESSAGES_NEXT, conversation_id, created_at, message_id, limit + 1)
    return _page(rows, limit, "created_at", "message_id")


async def stats_body() -> bytes:
    now = datetime.now(UTC)
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    rows = await pool.fetch(STATS, EARLIEST, today, end)
    configured = [row[0] for row in await pool.fetch(CONFIGURED)]
    return encode({"items": [dict(row) for row in rows], "configured": configured})


@asynccontextmanager
async def lifespan(_: Litestar) -> AsyncIterator[None]:
    global pool
    pool = await open_pool(DATABASE_URL)
    try:
        yield
    finally:
        await pool.close()


def _json(body: bytes) -> Response[bytes]:
    return Response(body, media_type=MediaType.JSON)


@get("/api/conversations")
async def conversations(
    limit: int = 50, updated_at: datetime | None = None, conversation_id: str | None = None
) -> Response[bytes]:
    return _json(await conversation_page(limit, updated_at, conversation_id))


@get("/api/conversations/{conversation_id:str}/messages")
async def messages(
    conversation_id: str, created_at: datetime, message_id: str, limit: int = 50
) -> Response[bytes]:
    return _json(await message_page(conversation_id, created_at, message_id, limit))


@get("/api/webhooks/stats")
async def stats() -> Response[bytes]:
    return _json(await stats_body())


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


app = Litestar(route_handlers=[conversations, messages, stats, health], lifespan=[lifespan])


# The same answers without a framework (`uvicorn bench.conversations_floor:bare`): what an
# outside floor written as a bare asyncpg + msgspec handler costs.
async def bare(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        return await bare_lifespan(receive, send, DATABASE_URL, globals())
    path: str = scope["path"]
    query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
    limit = int(query.get("limit", "50"))
    if path == "/api/conversations":
        after = query.get("updated_at")
        updated_at = datetime.fromisoformat(after) if after else None
        body = await conversation_page(limit, updated_at, query.get("conversation_id"))
    elif path.startswith("/api/conversations/") and path.endswith("/messages"):
        conversation_id = path[len("/api/conversations/") : -len("/messages")]
        created_at = datetime.fromisoformat(query["created_at"])
        body = await message_page(conversation_id, created_at, query["message_id"], limit)
    elif path == "/api/webhooks/stats":
        body = await stats_body()
    elif path == "/health":
        body = b'{"status":"ok"}'
    else:
        await _send_json(send, 404, b'{"status":404}')
        return
    await _send_json(send, 200, body)
