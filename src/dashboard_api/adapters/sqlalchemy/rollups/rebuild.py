"""Recompute every rollup from the tasks (`dashboard-api analytics rebuild`).

PostgreSQL does it in two INSERT ... SELECT statements (10 million tasks in minutes); SQLite
streams the tasks through the same domain function the writers use. Writers are held off for
the duration (a SHARE lock on tasks, or SQLite's single writer), so no change is lost.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import BigInteger, cast, delete, func, insert, select, text, true, update
from sqlalchemy.ext.asyncio import AsyncConnection

from dashboard_api.adapters.sqlalchemy.rollups.columns import (
    FIGURE_COLUMNS,
    KEY_COLUMNS,
    TASK_FIGURE_COLUMNS,
    figure_values,
)
from dashboard_api.adapters.sqlalchemy.rollups.compactor import bump_generation, fill_blocks
from dashboard_api.adapters.sqlalchemy.tables import (
    rollup_deltas,
    rollup_state,
    rollup_totals_blocks,
    rollup_totals_daily,
    rollup_totals_hourly,
    rollups_daily,
    rollups_hourly,
)
from dashboard_api.adapters.sqlalchemy.task_rows import task_of
from dashboard_api.domain.model.buckets import day_of
from dashboard_api.domain.model.rollups import (
    DURATION_BOUNDS_SECONDS,
    EMPTY,
    Figures,
    RollupKey,
    rollup_changes,
)

_BATCH = 5_000


async def rebuild(connection: AsyncConnection) -> int:
    """Replace the rollups with figures recomputed from the tasks; returns the task count.

    Runs in the caller's transaction: nothing changes until it commits."""
    if connection.dialect.name == "postgresql":
        await connection.execute(text("LOCK TABLE tasks IN SHARE MODE"))
    for table in (
        rollup_deltas,
        rollups_hourly,
        rollups_daily,
        rollup_totals_hourly,
        rollup_totals_daily,
        rollup_totals_blocks,
    ):
        await connection.execute(delete(table))
    if connection.dialect.name == "postgresql":
        counted = await _rebuild_in_postgres(connection)
    else:
        counted = await _rebuild_streaming(connection)
    await fill_totals(connection)
    await fill_blocks(connection)
    if connection.dialect.name == "postgresql":
        # Fresh statistics for the read tables: the reads' plans depend on them (a block read's
        # estimate; store.py), and autovacuum may be minutes away or off.
        await connection.execute(
            text("ANALYZE rollup_totals_blocks, rollup_totals_daily, rollup_totals_hourly")
        )
    await bump_generation(connection, blocks_whole=true())
    # It deleted deltas uncounted: every rollup version moves (SqlRollupStore.state).
    await connection.execute(
        update(rollup_state)
        .where(rollup_state.c.id == 1)
        .values(rebuilds=rollup_state.c.rebuilds + 1)
    )
    return counted


async def fill_totals(connection: AsyncConnection) -> None:
    """The read tables from the rows by status (both empty beforehand)."""
    for source, target, time_column in (
        (rollups_hourly, rollup_totals_hourly, "hour"),
        (rollups_daily, rollup_totals_daily, "day"),
    ):
        keys = [source.c[time_column], source.c.agent_type, source.c.model]
        sums = [cast(func.sum(source.c[name]), BigInteger).label(name) for name in FIGURE_COLUMNS]
        await connection.execute(
            insert(target).from_select(
                [time_column, "agent_type", "model", *FIGURE_COLUMNS],
                select(*keys, *sums).group_by(*keys),
            )
        )


async def _rebuild_streaming(connection: AsyncConnection) -> int:
    hours: dict[RollupKey, Figures] = defaultdict(lambda: EMPTY)
    counted = 0
    statement = select(*TASK_FIGURE_COLUMNS)
    result = await connection.stream(statement.execution_options(yield_per=_BATCH))
    async for row in result:
        counted += 1
        for key, figures in rollup_changes(None, task_of(row._mapping)):
            hours[key] += figures
    days: dict[RollupKey, Figures] = defaultdict(lambda: EMPTY)
    for key, figures in hours.items():
        days[key._replace(hour=day_of(key.hour))] += figures
    for table, time_column, sums in (
        (rollups_hourly, "hour", hours),
        (rollups_daily, "day", days),
    ):
        rows = [
            {
                time_column: key.hour,
                **dict(zip(KEY_COLUMNS, key[1:], strict=True)),
                **figure_values(figures),
            }
            for key, figures in sums.items()
        ]
        for start in range(0, len(rows), _BATCH):
            await connection.execute(insert(table), rows[start : start + _BATCH])
    return counted


def _postgres_hourly_sql() -> str:
    duration = "(EXTRACT(EPOCH FROM completed_at - created_at) * 1000000)::bigint"
    bounds = [bound * 1_000_000 for bound in DURATION_BOUNDS_SECONDS]
    buckets = []
    lower = None
    for upper in bounds:
        low = "" if lower is None else f"d > {lower} AND "
        buckets.append(f"count(*) FILTER (WHERE {low}d <= {upper})")
        lower = upper
    buckets.append(f"count(*) FILTER (WHERE d > {lower})")
    columns = ", ".join(("hour", *KEY_COLUMNS, *FIGURE_COLUMNS))
    # Truncation in UTC whatever the session's time zone.
    return f"""
        INSERT INTO rollups_hourly ({columns})
        SELECT date_trunc('hour', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
               agent_type, coalesce(model, ''), status,
               count(*),
               count(*) FILTER (WHERE status = 'completed'),
               count(*) FILTER (WHERE status = 'failed'),
               count(completed_at),
               sum(cost_micros), sum(input_tokens), sum(output_tokens),
               sum(cache_read_tokens), sum(cache_write_tokens),
               coalesce(sum(d), 0),
               {", ".join(buckets)}
        FROM (SELECT *, {duration} AS d FROM tasks) AS timed
        GROUP BY 1, 2, 3, 4
    """


def _postgres_daily_sql() -> str:
    columns = ", ".join(("day", *KEY_COLUMNS, *FIGURE_COLUMNS))
    sums = ", ".join(f"sum({name})::bigint" for name in FIGURE_COLUMNS)
    return f"""
        INSERT INTO rollups_daily ({columns})
        SELECT date_trunc('day', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
               {", ".join(KEY_COLUMNS)}, {sums}
        FROM rollups_hourly GROUP BY 1, 2, 3, 4
    """


async def _rebuild_in_postgres(connection: AsyncConnection) -> int:
    await connection.execute(text(_postgres_hourly_sql()))
    await connection.execute(text(_postgres_daily_sql()))
    total: Any = await connection.scalar(select(func.coalesce(func.sum(rollups_daily.c.tasks), 0)))
    return int(total)
