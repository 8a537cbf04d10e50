"""RollupStore on SQL: writers append deltas, a compactor folds them into hour and day rows.

Why deltas: an upsert into the current hour's row makes every concurrent writer of the same
agent type, model and status queue on that row's lock (measured: 44% of write throughput
lost with 8 writers). Appending a delta row locks nothing shared. Readers sum compacted rows
and pending deltas in one statement, so they see each task change exactly once whether or not
it has been compacted yet (docs/analytics.md).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Hashable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    Table,
    bindparam,
    cast,
    func,
    insert,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from dashboard_api.adapters.sqlalchemy.engine import write_transaction
from dashboard_api.adapters.sqlalchemy.rollups.columns import (
    FIGURE_COLUMNS,
    TOTAL_KEY_COLUMNS,
    figure_values,
    figures_of,
)
from dashboard_api.adapters.sqlalchemy.store import SqlStore
from dashboard_api.adapters.sqlalchemy.tables import (
    rollup_deltas,
    rollup_state,
    rollup_totals_daily,
    rollup_totals_hourly,
    tasks,
)
from dashboard_api.adapters.sqlalchemy.task_rows import task_of
from dashboard_api.domain.model.buckets import day_of
from dashboard_api.domain.model.rollups import (
    EMPTY,
    Figures,
    RollupChange,
    RollupQuery,
    RollupSource,
    RollupTotal,
    rollup_changes,
)

# Changes whenever any rollup figure may have changed: writers only add deltas (the count
# grows), and the only transactions that remove deltas (compaction, rebuild) bump generation.
WATERMARK = select(
    select(rollup_state.c.generation).where(rollup_state.c.id == 1).scalar_subquery(),
    select(func.count()).select_from(rollup_deltas).scalar_subquery(),
)


# The same watermark as native SQL, for the read path that skips SQLAlchemy (SqlStore).
WATERMARK_SQL = (
    "SELECT (SELECT generation FROM rollup_state WHERE id = 1), "
    "(SELECT count(*) FROM rollup_deltas)"
)


class SqlRollupStore(SqlStore):
    """Bound to a unit of work's connection for writes, or to an engine for reads."""

    async def record(self, changes: Sequence[RollupChange]) -> None:
        if not changes:
            return
        rows = [
            {
                "hour": key.hour,
                "day": day_of(key.hour),
                "agent_type": key.agent_type,
                "model": key.model,
                "status": key.status,
                **figure_values(figures),
            }
            for key, figures in changes
        ]
        async with self._connection() as connection:
            await connection.execute(insert(rollup_deltas), rows)

    async def watermark(self) -> Hashable:
        # Writers only add deltas (the count grows); the only transactions that remove
        # deltas (compaction, rebuild) bump the generation.
        native = await self._fetch_fast(WATERMARK_SQL)
        if native is not None:
            return tuple(native[0])
        async with self._connection() as connection:
            return tuple((await connection.execute(WATERMARK)).one())

    async def read(self, *queries: RollupQuery) -> list[list[RollupTotal]]:
        async with self._connection() as connection:  # one checkout for all the parts
            return [
                await (_read_tasks if query.source is RollupSource.TASKS else _read_rollups)(
                    connection, query
                )
                for query in queries
            ]

    async def rebuild(self) -> int:
        from dashboard_api.adapters.sqlalchemy.rollups.rebuild import rebuild

        if self._engine is None:
            assert isinstance(self._source, AsyncConnection)
            return await rebuild(self._source)  # inside a unit of work: its commit applies it
        async with write_transaction(self._engine) as connection:
            counted = await rebuild(connection)
            await connection.commit()
            return counted


async def _read_rollups(connection: AsyncConnection, query: RollupQuery) -> list[RollupTotal]:
    statement, parameters = _statement_and_parameters(query)
    rows = (await connection.execute(statement, parameters)).all()
    return [
        RollupTotal(
            row.moment if query.by_time else None,
            row.agent_type if query.by_agent_type else None,
            row.model if query.by_model else None,
            figures_of(row),
        )
        for row in rows
        if row.tasks is not None
    ]


async def _read_tasks(connection: AsyncConnection, query: RollupQuery) -> list[RollupTotal]:
    # Partial edge hours: the window's own tasks through the created_at index, priced into
    # rollup figures by the same domain function the writers use.
    statement = select(
        tasks.c.task_id,
        tasks.c.status,
        tasks.c.agent_type,
        tasks.c.model,
        tasks.c.created_at,
        tasks.c.completed_at,
        tasks.c.cost_micros,
        tasks.c.input_tokens,
        tasks.c.output_tokens,
        tasks.c.cache_read_tokens,
        tasks.c.cache_write_tokens,
    )
    if query.start is not None:
        statement = statement.where(tasks.c.created_at >= query.start)
    if query.end is not None:
        statement = statement.where(tasks.c.created_at < query.end)
    if query.agent_type is not None:
        statement = statement.where(tasks.c.agent_type == query.agent_type)
    groups: dict[tuple[datetime | None, str | None, str | None], Figures] = defaultdict(
        lambda: EMPTY
    )
    rows = (await connection.execute(statement)).all()
    for row in rows:
        for key, figures in rollup_changes(None, task_of(row._mapping)):
            group = (
                key.hour if query.by_time else None,
                key.agent_type if query.by_agent_type else None,
                key.model if query.by_model else None,
            )
            groups[group] = groups[group] + figures
    return [RollupTotal(*group, figures) for group, figures in groups.items()]


def _branch(table: Table, time_column: str, shape: _Shape) -> Select[Any]:
    moment = table.c[time_column]
    statement = select(
        moment.label("moment"),
        *(table.c[name] for name in TOTAL_KEY_COLUMNS),
        *(table.c[name] for name in FIGURE_COLUMNS),
    )
    if shape.bounded_start:
        statement = statement.where(moment >= bindparam("start", type_=moment.type))
    if shape.bounded_end:
        statement = statement.where(moment < bindparam("end", type_=moment.type))
    if shape.one_agent_type:
        statement = statement.where(table.c.agent_type == bindparam("agent_type"))
    return statement


class _Shape(NamedTuple):
    days: bool
    bounded_start: bool
    bounded_end: bool
    one_agent_type: bool
    by_time: bool
    by_agent_type: bool
    by_model: bool


# One statement object per shape of query, with bound parameters: SQLAlchemy memoizes its
# cache key on the object, so a request neither builds nor re-hashes a 60-column statement.
@functools.cache
def _rollup_statement(shape: _Shape) -> Select[Any]:
    compacted, time_column = (
        (rollup_totals_daily, "day") if shape.days else (rollup_totals_hourly, "hour")
    )
    rows = union_all(
        _branch(compacted, time_column, shape), _branch(rollup_deltas, time_column, shape)
    ).subquery("rows")
    groups: list[ColumnElement[Any]] = []
    if shape.by_time:
        groups.append(rows.c.moment)
    if shape.by_agent_type:
        groups.append(rows.c.agent_type)
    if shape.by_model:
        groups.append(rows.c.model)
    # PostgreSQL sums BIGINT into NUMERIC: cast back so every backend returns integers.
    sums = [cast(func.sum(rows.c[name]), BigInteger).label(name) for name in FIGURE_COLUMNS]
    return select(*groups, *sums).group_by(*groups)


def _statement_and_parameters(query: RollupQuery) -> tuple[Select[Any], dict[str, Any]]:
    shape = _Shape(
        days=query.source is RollupSource.DAYS,
        bounded_start=query.start is not None,
        bounded_end=query.end is not None,
        one_agent_type=query.agent_type is not None,
        by_time=query.by_time,
        by_agent_type=query.by_agent_type,
        by_model=query.by_model,
    )
    parameters = {"start": query.start, "end": query.end, "agent_type": query.agent_type}
    return _rollup_statement(shape), {k: v for k, v in parameters.items() if v is not None}
