"""The floor: a bare Litestar app doing the real endpoints' single query, nothing else.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/dashboard_bench \
        .venv/bin/uvicorn bench.floor_app:app --port 5101

No project code: what the service costs above this is what its layers cost. It does the least
work the service's answers need (issue 15): a pool of the service's size (DASHBOARD_DB_POOL_SIZE,
default 20) opened at start, no reset round trip when a connection goes back to the pool (the
service's pool sends none outside a transaction; asyncpg's default sends `pg_advisory_unlock_all();
CLOSE ALL; UNLISTEN *; RESET ALL`, which cost the old floor ~50 us of PostgreSQL CPU per read),
and rows encoded by msgspec straight to the response body.

`bare_text` is the bare handler with one driver setting more, the service's: timestamps read in
their text form (`datetime.fromisoformat`) instead of asyncpg's binary codec, which builds each
value from a timedelta (~1 us per value; adapters/sqlalchemy/engine.py). `bare` keeps asyncpg's
defaults, as a handler written without this project's knowledge would.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

import asyncpg
import msgspec
from litestar import Litestar, MediaType, Response, get
from litestar.exceptions import NotFoundException

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/dashboard_bench"
)
SUMMARY = (
    "task_id, status, agent_type, source, created_at, substr(input_message, 1, 200) AS "
    "input_preview, assigned_agent, session_id, conversation_id, model, cost_micros, "
    "input_tokens, output_tokens, started_at, completed_at"
)
_ORDER = "ORDER BY created_at DESC, task_id DESC"


def first_page(limit: int) -> str:
    """The page size as a literal, as the service sends it (adapters/sqlalchemy/task_sql.py): a
    statement without parameters is planned once per connection, where PostgreSQL plans
    `LIMIT $1` on every execution (~40 us of its CPU, docs/benchmarks.md)."""
    return f"SELECT {SUMMARY} FROM tasks {_ORDER} LIMIT {int(limit)}"


def next_page(limit: int) -> str:
    """A page after a cursor ($1, $2), the values as InitPlans as the service sends them
    (task_sql.py): PostgreSQL keeps one generic plan per connection. With `< ($1, $2)` it
    planned every execution (its generic plan estimated a third of the table, dearer than a
    custom plan)."""
    after = "WHERE (created_at, task_id) < ((SELECT $1::timestamptz), (SELECT $2::text))"
    return f"SELECT {SUMMARY} FROM tasks {after} {_ORDER} LIMIT {int(limit)}"


ONE = "SELECT * FROM tasks WHERE task_id = $1"

POOL_SIZE = int(os.environ.get("DASHBOARD_DB_POOL_SIZE") or 20)
encode = msgspec.json.Encoder().encode

pool: asyncpg.Pool


async def _no_reset(_: Any) -> None:
    """Given as the pool's `reset`: asyncpg then skips its reset query on release."""


async def _text_timestamps(connection: asyncpg.Connection) -> None:
    await connection.set_type_codec(
        "timestamptz",
        schema="pg_catalog",
        encoder=lambda value: value.isoformat(),
        decoder=datetime.fromisoformat,
        format="text",
    )


async def open_pool(url: str, *, text_timestamps: bool = False) -> asyncpg.Pool:
    """The floors' pool: the service's size, all opened at start, no reset round trip."""
    created = await asyncpg.create_pool(
        url,
        min_size=POOL_SIZE,
        max_size=POOL_SIZE,
        reset=_no_reset,
        server_settings={"TimeZone": "UTC", "DateStyle": "ISO"},
        init=_text_timestamps if text_timestamps else None,
    )
    assert created is not None
    return created


@asynccontextmanager
async def lifespan(_: Litestar) -> AsyncIterator[None]:
    global pool
    pool = await open_pool(DATABASE_URL)
    try:
        yield
    finally:
        await pool.close()


def json_body(content: object) -> Response[bytes]:
    return Response(encode(content), media_type=MediaType.JSON)


@get("/api/tasks/{task_id:str}")
async def get_task(task_id: str) -> Response[bytes]:
    row = await pool.fetchrow(ONE, task_id)
    if row is None:
        raise NotFoundException()
    return json_body(dict(row))


@get("/api/tasks")
async def list_tasks(
    limit: int = 50, created_at: datetime | None = None, task_id: str | None = None
) -> Response[bytes]:
    if created_at is not None and task_id is not None:
        rows = await pool.fetch(next_page(limit), created_at, task_id)
    else:
        rows = await pool.fetch(first_page(limit))
    return json_body({"items": [dict(row) for row in rows], "next_cursor": None})


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


app = Litestar(route_handlers=[get_task, list_tasks, health], lifespan=[lifespan])


# The same answers without a framework: a bare ASGI callable on the same pool
# (`uvicorn bench.floor_app:bare`). How far the service is from this is the framework's cost
# plus its own; how far the Litestar floor above is from it is Litestar's share.
_HEADERS = [(b"content-type", b"application/json")]


async def _send_json(send: Any, status: int, body: bytes) -> None:
    headers = [*_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def bare_lifespan(
    receive: Any,
    send: Any,
    url: str,
    namespace: dict[str, Any],
    text_timestamps: bool = False,
) -> None:
    """A bare floor's ASGI lifespan: the floors' pool opened at start-up as `pool` in the
    floor module's `namespace` (its `globals()`), closed at shutdown."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            namespace["pool"] = await open_pool(url, text_timestamps=text_timestamps)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if "pool" in namespace:
                await namespace["pool"].close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def bare(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        return await bare_lifespan(receive, send, DATABASE_URL, globals())
    await _bare_answer(scope, send, pool)


_TEXT: dict[str, asyncpg.Pool] = {}  # bare_text's pool, as "pool"


async def bare_text(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """`bare` on a pool that reads timestamps as text (module docstring)."""
    if scope["type"] == "lifespan":
        return await bare_lifespan(receive, send, DATABASE_URL, _TEXT, text_timestamps=True)
    await _bare_answer(scope, send, _TEXT["pool"])


async def _bare_answer(scope: dict[str, Any], send: Any, pool: asyncpg.Pool) -> None:
    path: str = scope["path"]
    if path.startswith("/api/tasks/"):
        row = await pool.fetchrow(ONE, path[len("/api/tasks/") :])
        if row is None:
            await _send_json(send, 404, b'{"status":404}')
        else:
            await _send_json(send, 200, encode(dict(row)))
    elif path == "/api/tasks":
        query = parse_qs(scope["query_string"].decode())
        limit = int(query.get("limit", ["50"])[0])
        if "created_at" in query and "task_id" in query:
            created_at = datetime.fromisoformat(query["created_at"][0])
            rows = await pool.fetch(next_page(limit), created_at, query["task_id"][0])
        else:
            rows = await pool.fetch(first_page(limit))
        await _send_json(send, 200, encode({"items": [dict(r) for r in rows], "next_cursor": None}))
    elif path == "/health":
        await _send_json(send, 200, b'{"status":"ok"}')
    else:
        await _send_json(send, 404, b'{"status":404}')
