"""PostgreSQL CPU per list page, first page against a deep one, one statement shape per
connection (issue 15 item 2; docs/benchmarks.md "The cursor statement planned once").

    .venv/bin/python -m bench.deep_plan --database-url postgresql://postgres@127.0.0.1/DB \
        [--rounds 7] [--statements 2000] [--deep-offset 500000] [--list tasks|conversations]

Each variant runs on a connection of its own (its own plan cache), warmed up past PostgreSQL's
five custom plans; then rounds of --statements executions alternate between the variants.
Per execution: the backend's CPU (its /proc/<pid>/schedstat run time, so the database runs on
this machine) and the client's (this process). Prints medians and min-max over the rounds, and
per round the deep variants over the first page.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import asyncpg

from dashboard_api.adapters.sqlalchemy import task_sql
from dashboard_api.adapters.sqlalchemy.conversations import _conversations_sql
from dashboard_api.domain.model.conversations import ConversationCursor, ConversationQuery
from dashboard_api.domain.model.tasks import TaskCursor, TaskQuery

PAGE = 50

# The cursor statement as it was before (custom plan on every execution).
_PLANNED = (
    f"SELECT {task_sql.SUMMARY_COLUMNS} FROM tasks WHERE (created_at, task_id) < ($1, $2) "
    f"ORDER BY created_at DESC, task_id DESC LIMIT {PAGE + 1}"
)
# Option b: the same query in a PL/pgSQL function whose plan is forced generic.
_FUNCTION = f"""
CREATE OR REPLACE FUNCTION pg_temp.tasks_before(at timestamptz, id text)
RETURNS TABLE (task_id text, status text, agent_type text, source text,
    created_at timestamptz, input_preview text, assigned_agent text, session_id text,
    conversation_id text, model text, cost_micros bigint, input_tokens bigint,
    output_tokens bigint, started_at timestamptz, completed_at timestamptz)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $body$
BEGIN
    RETURN QUERY SELECT t.task_id::text, t.status::text, t.agent_type::text, t.source::text,
        t.created_at, substr(t.input_message, 1, 200), t.assigned_agent::text,
        t.session_id::text, t.conversation_id::text, t.model::text, t.cost_micros,
        t.input_tokens, t.output_tokens, t.started_at, t.completed_at
    FROM tasks t WHERE (t.created_at, t.task_id) < (at, id)
    ORDER BY t.created_at DESC, t.task_id DESC LIMIT {PAGE + 1};
END
$body$
"""


Variants = dict[str, tuple[str, tuple[Any, ...], dict[str, str]]]


async def _task_variants(setup: asyncpg.Connection, deep_offset: int) -> Variants:
    at, task_id = await setup.fetchrow(
        "SELECT created_at, task_id FROM tasks ORDER BY created_at DESC, task_id DESC "
        "OFFSET $1 LIMIT 1",
        deep_offset - 1,
    )
    first_sql, _ = task_sql.find_tasks(TaskQuery(limit=PAGE + 1))
    cursor = TaskCursor(at, task_id)
    deep_sql, deep_args = task_sql.find_tasks(TaskQuery(limit=PAGE + 1, after=cursor))
    return {
        "first page": (first_sql, (), {}),
        "deep, as before (custom plan)": (_PLANNED, (at, task_id), {}),
        "deep, force_generic_plan": (
            _PLANNED,
            (at, task_id),
            {"plan_cache_mode": "force_generic_plan"},
        ),
        "deep, PL/pgSQL function": (
            "SELECT * FROM pg_temp.tasks_before($1, $2)",
            (at, task_id),
            {},
        ),
        "deep, as now (task_sql)": (deep_sql, tuple(deep_args), {}),
    }


async def _conversation_variants(setup: asyncpg.Connection, deep_offset: int) -> Variants:
    """The conversation list (bench/conversations_generate.py data) before and now."""
    at, conversation_id = await setup.fetchrow(
        "SELECT updated_at, conversation_id FROM conversations "
        "ORDER BY updated_at DESC, conversation_id DESC OFFSET $1 LIMIT 1",
        deep_offset - 1,
    )
    columns = "SELECT * FROM conversations "
    order = "ORDER BY updated_at DESC, conversation_id DESC "
    after = "WHERE (updated_at, conversation_id) < ($1, $2) "
    first_sql, *_ = _conversations_sql(ConversationQuery(limit=PAGE + 1))
    cursor = ConversationCursor(at, conversation_id)
    deep_sql, *deep_args = _conversations_sql(ConversationQuery(limit=PAGE + 1, after=cursor))
    return {
        "first page, as before (LIMIT $1)": (f"{columns}{order}LIMIT $1", (PAGE + 1,), {}),
        "first page, as now": (first_sql, (), {}),
        "deep, as before": (
            f"{columns}{after}{order}LIMIT $3",
            (at, conversation_id, PAGE + 1),
            {},
        ),
        "deep, as now": (deep_sql, tuple(deep_args), {}),
    }


def cpu_ns(pid: int) -> int:
    with open(f"/proc/{pid}/schedstat") as stat:
        return int(stat.read().split()[0])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--statements", type=int, default=2000)
    parser.add_argument("--deep-offset", type=int, default=500_000)
    parser.add_argument("--list", choices=("tasks", "conversations"), default="tasks")
    options = parser.parse_args()
    url = options.database_url.replace("+asyncpg", "")

    setup = await asyncpg.connect(url)
    if options.list == "conversations":
        variants = await _conversation_variants(setup, options.deep_offset)
    else:
        variants = await _task_variants(setup, options.deep_offset)
    await setup.close()
    connections: dict[str, tuple[asyncpg.Connection, int]] = {}
    for name, (sql, args, settings) in variants.items():
        connection = await asyncpg.connect(url, server_settings=settings)
        if "function" in name:  # only for tasks
            await connection.execute(_FUNCTION)
        pid = connection.get_server_pid()
        for _ in range(20):
            rows = await connection.fetch(sql, *args)
            assert len(rows) == PAGE + 1, name
        connections[name] = (connection, pid)

    server: dict[str, list[float]] = {name: [] for name in variants}
    client: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for round_ in range(options.rounds):
        order = names[round_ % len(names) :] + names[: round_ % len(names)]
        for name in order:
            sql, args, _ = variants[name]
            connection, pid = connections[name]
            fetch: Callable[..., Any] = connection.fetch
            server_before, client_before = cpu_ns(pid), time.process_time_ns()
            for _ in range(options.statements):
                await fetch(sql, *args)
            server[name].append((cpu_ns(pid) - server_before) / options.statements / 1000)
            client[name].append(
                (time.process_time_ns() - client_before) / options.statements / 1000
            )
    plans = {}
    for name, (connection, _) in connections.items():
        plans[name] = await connection.fetch(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE generic_plans + custom_plans > 0"
        )
        await connection.close()

    def spread(values: list[float]) -> str:
        return f"{statistics.median(values):.0f} ({min(values):.0f}-{max(values):.0f})"

    print(f"load average {os.getloadavg()}, {options.rounds} rounds x {options.statements}")
    print("variant | PostgreSQL CPU us/page | client CPU us/page | PG deep/first per round | plans")
    first = server[names[0]]
    for name in names:
        ratios = [s / f for s, f in zip(server[name], first, strict=True)]
        print(
            f"{name} | {spread(server[name])} | {spread(client[name])} | "
            f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}) | plans "
            + ", ".join(
                f"{p['generic_plans']} generic {p['custom_plans']} custom" for p in plans[name]
            )
        )


if __name__ == "__main__":
    asyncio.run(main())
