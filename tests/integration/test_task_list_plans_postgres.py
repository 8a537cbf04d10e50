"""The task list's cursor statement on PostgreSQL: an unfiltered page after a cursor keeps one
generic plan per connection (with `(created_at, task_id) < ($1, $2)` it was planned again on
every request, docs/benchmarks.md), and pages the same rows as that plain statement did, ties
on created_at included."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dashboard_api.adapters.sqlalchemy import task_sql
from dashboard_api.domain.model.tasks import TaskCursor, TaskQuery

pytestmark = pytest.mark.integration

ROWS = 20_000
# Three tasks per second (ties on created_at, broken by the id), inserted in random order: with
# the plain statement the heap fetches made a page near the head look cheaper to PostgreSQL
# planned for its values than with a generic plan, and it kept planning every page.
FILL = f"""
INSERT INTO tasks (task_id, status, agent_type, source, input_message, cost_micros,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, created_at, version)
SELECT format('t-%s', lpad(i::text, 6, '0')), 'completed', 'coder', 'api', 'x', 0, 0, 0, 0, 0,
    timestamptz '2026-01-01 00:00:00+00' + (i / 3) * interval '1 second', 1
FROM generate_series(1, {ROWS}) AS i ORDER BY md5(i::text)
"""
PLAIN = (
    "SELECT task_id FROM tasks WHERE (created_at, task_id) < ($1, $2) "
    "ORDER BY created_at DESC, task_id DESC LIMIT 51"
)


async def test_an_unfiltered_page_after_a_cursor_keeps_a_generic_plan(
    clean_postgres: AsyncEngine,
) -> None:
    async with clean_postgres.begin() as connection:
        await connection.execute(text(FILL))
    async with clean_postgres.connect() as connection:
        await connection.execute(text("ANALYZE tasks"))
        await connection.commit()
    pooled = await clean_postgres.raw_connection()
    try:
        driver = pooled.driver_connection
        assert driver is not None
        order = await driver.fetch(
            "SELECT created_at, task_id FROM tasks ORDER BY created_at DESC, task_id DESC"
        )
        sql, position = "", 0
        for _ in range(20):  # a client paging from the head of the table, 51 rows a page
            cursor = TaskCursor(order[position]["created_at"], order[position]["task_id"])
            sql, args = task_sql.find_tasks(TaskQuery(limit=51, after=cursor))
            page = [record["task_id"] for record in await driver.fetch(sql, *args)]
            assert page == [record["task_id"] for record in await driver.fetch(PLAIN, *args)]
            assert page == [record["task_id"] for record in order[position + 1 : position + 52]]
            position += 51
        plans = await driver.fetchrow(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1",
            sql,
        )
        assert plans is not None
        assert plans["generic_plans"] > 0
        assert plans["custom_plans"] <= 5
    finally:
        pooled.close()
