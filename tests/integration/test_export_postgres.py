"""Exports on the real PostgreSQL: row by row what the REST pages show, across many pages."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from dashboard_api.adapters.sqlalchemy.tables import tasks
from dashboard_api.adapters.sqlalchemy.tasks import _row as task_row
from dashboard_api.domain.model.tasks import Task, TaskStatus
from dashboard_api.http import create_app
from dashboard_api.settings import Settings
from tests.factories import EPOCH

pytestmark = pytest.mark.integration

STATUSES = [TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.QUEUED]
AWKWARD_TEXT = ["plain", 'with, comma and "quotes"', "line\nbreak", "=HYPERLINK(1)", "ünï ✓"]


async def _fill(engine: AsyncEngine, count: int) -> None:
    rows = []
    for i in range(count):
        status = STATUSES[i % 3]
        # Pairs of tasks share a creation time: the keyset order breaks ties by id.
        created = EPOCH + timedelta(seconds=i // 2)
        finished = created + timedelta(seconds=1 + i % 7) if status.is_terminal else None
        task = Task(
            task_id=f"t-{i:05d}",
            status=status,
            agent_type="coder" if i % 4 else "planner",
            source=("api", "github", "slack")[i % 3],
            created_at=created,
            input_message=AWKWARD_TEXT[i % len(AWKWARD_TEXT)] * (1 + i % 3),
            model=("claude-sonnet-4", None)[i % 2],
            cost_usd=Decimal(i).scaleb(-6),
            input_tokens=i * 3,
            started_at=finished and created,
            completed_at=finished,
        )
        rows.append(task_row(task))
    # One multi-row insert: the store's one-by-one add would take most of the test's time.
    async with engine.begin() as connection:
        await connection.execute(insert(tasks), rows)


async def _rest_items(client: AsyncTestClient, query: str) -> list[dict[str, Any]]:  # type: ignore[type-arg]
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        response = await client.get(f"/api/tasks?{query}&limit=200{cursor}")
        page = json.loads(response.content, parse_float=Decimal)
        items += page["items"]
        if page["next_cursor"] is None:
            return items
        cursor = f"&cursor={page['next_cursor']}"


def _as_csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return str(value)


async def test_an_export_is_the_rest_pages_row_by_row(
    postgres_url: str, clean_postgres: AsyncEngine
) -> None:
    await _fill(clean_postgres, 2_100)
    query = "agent_type=coder&status=completed&status=queued"
    app = create_app(Settings(database_url=postgres_url))
    async with AsyncTestClient(app, base_url="http://127.0.0.1") as client:
        rest = await _rest_items(client, query)
        assert len(rest) > 2 * 500  # more than two pages of the export

        ndjson = await client.get(f"/api/exports/tasks?format=ndjson&{query}")
        assert ndjson.headers["content-type"].startswith("application/x-ndjson")
        lines = ndjson.content.decode().splitlines()
        assert [json.loads(line, parse_float=Decimal) for line in lines] == rest

        exported = await client.get(f"/api/exports/tasks?format=csv&{query}")
        assert exported.headers["content-type"].startswith("text/csv")
        header, *rows = list(csv.reader(io.StringIO(exported.content.decode())))
        assert header == list(rest[0])
        assert len(rows) == len(rest)
        for row, item in zip(rows, rest, strict=True):
            assert row == [_as_csv_cell(item[column]) for column in header]
