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
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    ScalarSelect,
    Select,
    Table,
    bindparam,
    cast,
    func,
    insert,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from dashboard_api.adapters.sqlalchemy.engine import write_transaction
from dashboard_api.adapters.sqlalchemy.store import SqlStore
from dashboard_api.adapters.sqlalchemy.tables import (
    DURATION_COLUMNS,
    rollup_day_changes,
    rollup_deltas,
    rollup_state,
    rollup_totals_daily,
    rollup_totals_hourly,
    tasks,
)
from dashboard_api.adapters.sqlalchemy.task_rows import task_of
from dashboard_api.domain.ports import (
    DayRange,
    PendingTotals,
    RollupQuery,
    RollupSource,
    RollupTotal,
    RollupVersion,
)
from dashboard_api.domain.rollups import (
    EMPTY,
    Figures,
    RollupChange,
    RollupKey,
    day_of,
    rollup_changes,
)

SCALAR_FIGURES = tuple(name for name in Figures.__struct_fields__ if name != "durations")
FIGURE_COLUMNS = (*SCALAR_FIGURES, *DURATION_COLUMNS)
KEY_COLUMNS = ("agent_type", "model", "status")
TOTAL_KEY_COLUMNS = ("agent_type", "model")  # the read tables' key, without status


def figure_values(figures: Figures) -> dict[str, int]:
    values = {name: getattr(figures, name) for name in SCALAR_FIGURES}
    values.update(zip(DURATION_COLUMNS, figures.durations, strict=True))
    return values


def figures_of(row: Any) -> Figures:
    mapping = row._mapping
    return Figures(
        **{name: int(mapping[name]) for name in SCALAR_FIGURES},
        durations=tuple(int(mapping[name]) for name in DURATION_COLUMNS),
    )


# For each day range: the deltas of tasks created in it, folded (counted per day by the
# compactor in the transaction that deletes them) plus pending. Every committed change adds a
# delta, so the sum grows with each one; compaction moves deltas from one term to the other and
# leaves it alone; only a rebuild deletes deltas uncounted, and it bumps `rebuilds`. One
# statement, so one snapshot: a compaction is seen whole or not at all.
VERSIONS_SQL = """
SELECT (SELECT rebuilds FROM rollup_state WHERE id = 1),
  (SELECT coalesce(sum(c.changes), 0) FROM rollup_day_changes c
   WHERE c.day >= r.s AND c.day < r.e),
  (SELECT count(*) FROM rollup_deltas d WHERE d.day >= r.s AND d.day < r.e)
FROM unnest($1::timestamptz[], $2::timestamptz[]) WITH ORDINALITY AS r(s, e, i)
ORDER BY r.i
"""
_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


def _in_days(column: ColumnElement[Any], start: Any, end: Any) -> list[ColumnElement[bool]]:
    """[start, end) as conditions (each a time or a bound parameter; None: unbounded)."""
    conditions: list[ColumnElement[bool]] = []
    if start is not None:
        conditions.append(column >= start)
    if end is not None:
        conditions.append(column < end)
    return conditions


def _folded(start: Any, end: Any) -> ScalarSelect[Any]:
    return (
        select(func.coalesce(func.sum(rollup_day_changes.c.changes), 0))
        .where(*_in_days(rollup_day_changes.c.day, start, end))
        .scalar_subquery()
    )


_REBUILDS = select(rollup_state.c.rebuilds).where(rollup_state.c.id == 1).scalar_subquery()


def _versions_statement(ranges: Sequence[DayRange]) -> Select[Any]:
    """VERSIONS_SQL in SQLAlchemy Core, for the other backends."""
    counts = [
        column
        for days in ranges
        for column in (
            _folded(*days),
            select(func.count())
            .select_from(rollup_deltas)
            .where(*_in_days(rollup_deltas.c.day, *days))
            .scalar_subquery(),
        )
    ]
    return select(_REBUILDS, *counts)


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

    async def versions(self, *days: DayRange) -> list[RollupVersion]:
        if not days:
            return []
        starts = [_EARLIEST if item.start is None else item.start for item in days]
        ends = [_LATEST if item.end is None else item.end for item in days]
        native = await self._fetch_fast(VERSIONS_SQL, starts, ends)
        if native is not None:
            return [RollupVersion(int(row[0]), int(row[1]), int(row[2])) for row in native]
        async with self._connection() as connection:
            rebuilds, *counts = (await connection.execute(_versions_statement(days))).one()
        return [
            RollupVersion(int(rebuilds), int(folded), int(pending))
            for folded, pending in zip(counts[::2], counts[1::2], strict=True)
        ]

    async def read(self, *queries: RollupQuery) -> list[list[RollupTotal]]:
        async with self._connection() as connection:  # one checkout for all the parts
            return [
                await (_read_tasks if query.source is RollupSource.TASKS else _read_rollups)(
                    connection, query
                )
                for query in queries
            ]

    async def read_pending(self, *queries: RollupQuery) -> list[PendingTotals]:
        async with self._connection() as connection:
            return [await _read_pending(connection, query) for query in queries]

    async def rebuild(self) -> int:
        from dashboard_api.adapters.sqlalchemy.rollup_rebuild import rebuild

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
    return _totals(query, rows)


async def _read_pending(connection: AsyncConnection, query: RollupQuery) -> PendingTotals:
    # The deltas' totals beside the compacted version of their days, in one statement (one
    # snapshot): a compaction between two statements could otherwise count a delta twice.
    assert query.source is not RollupSource.TASKS
    statement, parameters = _statement_and_parameters(query, pending=True)
    days = query.days
    parameters["days_start"] = _EARLIEST if days.start is None else days.start
    parameters["days_end"] = _LATEST if days.end is None else days.end
    rows = (await connection.execute(statement, parameters)).all()
    return PendingTotals((int(rows[0].v_rebuilds), int(rows[0].v_folded)), _totals(query, rows))


def _totals(query: RollupQuery, rows: Sequence[Any]) -> list[RollupTotal]:
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
    branches: str  # "both", "compacted" or "pending"
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
    branches = {
        "both": [compacted, rollup_deltas],
        "compacted": [compacted],
        "pending": [rollup_deltas],
    }[shape.branches]
    selects = [_branch(table, time_column, shape) for table in branches]
    rows = (union_all(*selects) if len(selects) > 1 else selects[0]).subquery("rows")
    groups: list[ColumnElement[Any]] = []
    if shape.by_time:
        groups.append(rows.c.moment)
    if shape.by_agent_type:
        groups.append(rows.c.agent_type)
    if shape.by_model:
        groups.append(rows.c.model)
    # PostgreSQL sums BIGINT into NUMERIC: cast back so every backend returns integers.
    sums = [cast(func.sum(rows.c[name]), BigInteger).label(name) for name in FIGURE_COLUMNS]
    totals = select(*groups, *sums).group_by(*groups)
    if shape.branches != "pending":
        return totals
    # One row of the compacted version, joined to every total (or to none: still one row).
    day = rollup_day_changes.c.day
    folded = _folded(bindparam("days_start", type_=day.type), bindparam("days_end", type_=day.type))
    version = select(_REBUILDS.label("v_rebuilds"), folded.label("v_folded")).subquery()
    grouped = totals.subquery("totals")
    return select(version, grouped).select_from(version.outerjoin(grouped, true()))


def _statement_and_parameters(
    query: RollupQuery, *, pending: bool = False
) -> tuple[Select[Any], dict[str, Any]]:
    shape = _Shape(
        branches="pending" if pending else "compacted" if query.compacted_only else "both",
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


def key_of(row: Any, time_column: str) -> RollupKey:
    return RollupKey(row._mapping[time_column], row.agent_type, row.model, row.status)
