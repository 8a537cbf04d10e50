"""The floor: a bare Litestar app doing the real endpoints' single query, nothing else.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/dashboard_bench \
        .venv/bin/uvicorn bench.floor_app:app --port 5101

No project code: what the service costs above this is what its layers cost.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
from litestar import Litestar, get
from litestar.exceptions import NotFoundException

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/dashboard_bench"
)
SUMMARY = (
    "task_id, status, agent_type, source, created_at, substr(input_message, 1, 200) AS "
    "input_preview, assigned_agent, session_id, conversation_id, model, cost_micros, "
    "input_tokens, output_tokens, started_at, completed_at"
)
FIRST_PAGE = f"SELECT {SUMMARY} FROM tasks ORDER BY created_at DESC, task_id DESC LIMIT $1"
NEXT_PAGE = (
    f"SELECT {SUMMARY} FROM tasks WHERE (created_at, task_id) < ($1, $2) "
    "ORDER BY created_at DESC, task_id DESC LIMIT $3"
)
ONE = "SELECT * FROM tasks WHERE task_id = $1"

pool: asyncpg.Pool


@asynccontextmanager
async def lifespan(_: Litestar) -> AsyncIterator[None]:
    global pool
    pool = await asyncpg.create_pool(DATABASE_URL, min_size=10, max_size=20)
    try:
        yield
    finally:
        await pool.close()


@get("/api/tasks/{task_id:str}")
async def get_task(task_id: str) -> dict[str, Any]:
    row = await pool.fetchrow(ONE, task_id)
    if row is None:
        raise NotFoundException()
    return dict(row)


@get("/api/tasks")
async def list_tasks(
    limit: int = 50, created_at: datetime | None = None, task_id: str | None = None
) -> dict[str, Any]:
    if created_at is not None and task_id is not None:
        rows = await pool.fetch(NEXT_PAGE, created_at, task_id, limit)
    else:
        rows = await pool.fetch(FIRST_PAGE, limit)
    return {"items": [dict(row) for row in rows], "next_cursor": None}


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


app = Litestar(route_handlers=[get_task, list_tasks, health], lifespan=[lifespan])
