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
from dashboard_api.adapters.sqlalchemy.rollups.blocks import (
    DAY_BLOCKS_END,
    DAY_BLOCKS_START,
    day_blocks,
    hour_blocks,
)
from dashboard_api.adapters.sqlalchemy.rollups.columns import (
    FIGURE_COLUMNS,
    SCALAR_FIGURES,
    TASK_FIGURE_COLUMNS,
    TOTAL_KEY_COLUMNS,
    figure_values,
    figures_of,
)
from dashboard_api.adapters.sqlalchemy.store import SqlStore, insert_json_sql, json_rows
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
from dashboard_api.domain.model.buckets import day_of
from dashboard_api.domain.model.rollups import (
    EMPTY,
    CompactedTotals,
    DayRange,
    Figures,
    FigureSet,
    PendingChanges,
    RollupChange,
    RollupQuery,
    RollupSource,
    RollupState,
    RollupTotal,
    Watermark,
    rollup_changes,
)

# The epoch of the versions: rebuilds (which delete deltas uncounted), and compactions by a
# process of the previous release during a rolling upgrade (which fold deltas uncounted).
_EPOCH_SQL = "SELECT rebuilds + generation - counted FROM rollup_state WHERE id = 1"


# Where the rollups stand (RollupState), in one statement, so one snapshot: the epoch of the
# versions; the pending deltas summed per hour, agent type and model (a few rows: the compactor
# empties the table every couple of seconds); and per day range, the deltas the compactor
# folded (counted per day in the transaction that deletes them, so a compaction is seen whole
# or not at all). First, the watermark: (rebuilds, generation, count of deltas). Every
# committed change appends a delta (the count grows) and only a compaction or a rebuild
# removes deltas, bumping the generation in the same transaction, so it never comes back to a
# value it had. When it equals the caller's ($1-$3: nothing changed since), the rest is not
# evaluated (uncorrelated subqueries are init plans, run when first needed, and CASE needs
# them only on a change): measured 32-36 µs of backend CPU per hit against 40-46 for the whole
# state of three ranges with nothing pending, 430-530 with 1,200 pending deltas (the old two
# counts alone: 14-16; the rest is executor start-up of the unused init plans and parameters).
# Two plain parameters per range, not arrays: PostgreSQL then keeps one generic plan (with
# unnest($1) it re-planned every execution, 225 against 67 µs of backend CPU per call).
@functools.cache
def state_sql(ranges: int) -> str:
    sums = ", ".join(f"sum({name})::bigint" for name in FIGURE_COLUMNS)
    folded = "".join(
        f", CASE WHEN w.same THEN NULL ELSE (SELECT coalesce(sum(changes), 0)"
        f" FROM rollup_day_changes WHERE day >= ${2 * i + 4} AND day < ${2 * i + 5}) END"
        for i in range(ranges)
    )
    return (
        "SELECT w.rebuilds, w.generation, w.deltas, w.epoch, "
        # The hour as epoch seconds: a timestamp inside a record is decoded in the binary form,
        # which the pool's text codec for timestamps cannot read (engine.py, _text_timestamps).
        "CASE WHEN w.same THEN NULL ELSE ARRAY(SELECT (extract(epoch FROM hour)::bigint,"
        f" agent_type, model, count(*), {sums})"
        f" FROM rollup_deltas GROUP BY hour, agent_type, model) END{folded} "
        "FROM (SELECT s.rebuilds, s.generation, d.deltas,"
        " s.rebuilds + s.generation - s.counted AS epoch,"
        " (s.rebuilds, s.generation, d.deltas) = ($1::bigint, $2::bigint, $3::bigint) AS same"
        " FROM rollup_state s, (SELECT count(*) AS deltas FROM rollup_deltas) d"
        " WHERE s.id = 1) w"
    )


_NO_WATERMARK = (-1, -1, -1)  # what no state has: read everything


_PENDING_COLUMNS = ("hour", "agent_type", "model")


def _pending_of(row: Sequence[Any]) -> PendingChanges:
    hour, agent_type, model, changes, *figures = row
    values = [int(value) for value in figures]
    scalars = dict(zip(SCALAR_FIGURES, values, strict=False))
    durations = tuple(values[len(SCALAR_FIGURES) :])
    return PendingChanges(
        hour, agent_type, model, int(changes), Figures(**scalars, durations=durations)
    )


_from_epoch = datetime.fromtimestamp
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


_REBUILDS = (
    select(rollup_state.c.rebuilds + rollup_state.c.generation - rollup_state.c.counted)
    .where(rollup_state.c.id == 1)
    .scalar_subquery()
)


def _folded_statement(ranges: Sequence[DayRange]) -> Select[Any]:
    """state_sql's rebuilds and folded counts in SQLAlchemy Core, for the other backends."""
    return select(_REBUILDS, *(_folded(*days) for days in ranges))


_WATERMARK_STATEMENT = select(
    rollup_state.c.rebuilds,
    rollup_state.c.generation,
    select(func.count()).select_from(rollup_deltas).scalar_subquery(),
).where(rollup_state.c.id == 1)

_PENDING_STATEMENT = select(
    *(rollup_deltas.c[name] for name in _PENDING_COLUMNS),
    func.count(),
    *(cast(func.sum(rollup_deltas.c[name]), BigInteger) for name in FIGURE_COLUMNS),
).group_by(*(rollup_deltas.c[name] for name in _PENDING_COLUMNS))


# `record` on asyncpg: a batch's deltas as one JSON parameter (delta_id from its sequence).
_RECORD_SQL = insert_json_sql(rollup_deltas, skip=("delta_id",))


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
        driver = await self._unit_asyncpg()
        if driver is not None:  # an ingest batch's deltas: one statement, no SQLAlchemy
            await driver.execute(_RECORD_SQL, json_rows(rows))
            return
        async with self._connection() as connection:
            await connection.execute(insert(rollup_deltas), rows)

    async def state(
        self, *days: DayRange, unchanged_since: Watermark | None = None
    ) -> RollupState | None:
        bounds = [
            bound
            for item in days
            for bound in (
                _EARLIEST if item.start is None else item.start,
                _LATEST if item.end is None else item.end,
            )
        ]
        since = _NO_WATERMARK if unchanged_since is None else unchanged_since
        native = await self._fetch_fast(state_sql(len(days)), *since, *bounds)
        if native is not None:
            rebuilds, generation, deltas, epoch, pending, *folded = native[0]
            watermark = (int(rebuilds), int(generation), int(deltas))
            if watermark == unchanged_since:
                return None
            return RollupState(
                int(epoch),
                [int(count) for count in folded],
                [_pending_of((_from_epoch(p[0], UTC), *p[1:])) for p in pending],
                watermark,
            )
        async with self._connection() as connection, connection.begin():  # one snapshot
            rebuilds, generation, deltas = (await connection.execute(_WATERMARK_STATEMENT)).one()
            watermark = (int(rebuilds), int(generation), int(deltas))
            if watermark == unchanged_since:
                return None
            epoch, *folded = (await connection.execute(_folded_statement(days))).one()
            pending = (await connection.execute(_PENDING_STATEMENT)).all()
        return RollupState(
            int(epoch),
            [int(count) for count in folded],
            [_pending_of(p) for p in pending],
            watermark,
        )

    async def read(self, *queries: RollupQuery) -> list[list[RollupTotal]]:
        rollups = [i for i, query in enumerate(queries) if query.source is not RollupSource.TASKS]
        if rollups:
            # PostgreSQL: every rollup part in one statement on asyncpg (docs/analytics.md,
            # "Blocks"); the tasks of partial edge hours, if any, after it.
            parts = [queries[i] for i in rollups]
            native = await self._fetch_fast(*_native_read(parts))
            if native is not None:
                results: list[list[RollupTotal]] = [[] for _ in queries]
                for index, totals in zip(rollups, _native_totals(parts, native), strict=True):
                    results[index] = totals
                if len(rollups) < len(queries):
                    async with self._connection() as connection:
                        for index, query in enumerate(queries):
                            if query.source is RollupSource.TASKS:
                                results[index] = await _read_tasks(connection, query)
                return results
        async with self._connection() as connection:  # one checkout for all the parts
            return [
                await (_read_tasks if query.source is RollupSource.TASKS else _read_rollups)(
                    connection, query
                )
                for query in queries
            ]

    async def read_compacted(self, *queries: RollupQuery) -> list[CompactedTotals]:
        async with self._connection() as connection:
            return [await _read_compacted(connection, query) for query in queries]

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
    return _totals(query, rows)


async def _read_compacted(connection: AsyncConnection, query: RollupQuery) -> CompactedTotals:
    # The rows beside the version of their days, in one statement (one snapshot): a compaction
    # after the caller's RollupState would otherwise go unnoticed and count its deltas twice.
    assert query.source is not RollupSource.TASKS
    statement, parameters = _statement_and_parameters(query, compacted=True)
    days = query.days
    parameters["days_start"] = _EARLIEST if days.start is None else days.start
    parameters["days_end"] = _LATEST if days.end is None else days.end
    rows = (await connection.execute(statement, parameters)).all()
    version = (int(rows[0].v_rebuilds), int(rows[0].v_folded))
    return CompactedTotals(version, _totals(query, rows))


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
    statement = select(*TASK_FIGURE_COLUMNS)
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
    compacted: bool  # the compacted rows alone, beside their version; else with the deltas
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
    selects = [_branch(compacted, time_column, shape)]
    if not shape.compacted:
        selects.append(_branch(rollup_deltas, time_column, shape))
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
    if not shape.compacted:
        return totals
    # One row of the compacted version, joined to every total (or to none: still one row).
    day = rollup_day_changes.c.day
    folded = _folded(bindparam("days_start", type_=day.type), bindparam("days_end", type_=day.type))
    version = select(_REBUILDS.label("v_rebuilds"), folded.label("v_folded")).subquery()
    grouped = totals.subquery("totals")
    return select(version, grouped).select_from(version.outerjoin(grouped, true()))


def _statement_and_parameters(
    query: RollupQuery, *, compacted: bool = False
) -> tuple[Select[Any], dict[str, Any]]:
    shape = _Shape(
        compacted=compacted,
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


# --- One statement for all the parts of an answer (PostgreSQL, on asyncpg) ---
#
# Per part, its grouped sums: compacted rows plus pending deltas of its range. A part not
# grouped by time sums block rows (rollups/blocks.py: a 30-day range is ~4 rows per group
# instead of 30), a part grouped by time the day or hour rows. Measured on 1 M tasks: the
# database's cost is rows x summed columns (~15 ns each) plus ~0.2 µs per group and column to
# finish; SQLAlchemy's statement execution ~100 µs of Python per statement. Hence one native
# statement, blocks, and only the figures the queries ask for (RollupQuery.figures).


class _NativeShape(NamedTuple):
    source: RollupSource
    blocks: bool  # summed from block rows
    outside: bool  # and day rows outside the days blocks cover (an unbounded range)
    one_agent_type: bool
    by_time: bool
    by_agent_type: bool
    by_model: bool


# Block numbers go in one array padded to at least 10 (with -1, which no block is): for an
# array parameter PostgreSQL's generic plan assumes 10 elements, so the custom plans' estimate
# is then no lower and it keeps the generic plan. Unpadded, it re-planned at every call
# (620-800 against 200 µs of backend CPU for an all-time summary on 1 M tasks); as 32 fixed
# parameters, the generic plan's estimate made it run the parts in parallel workers (1.6 ms).
_PADDED = 10


def _blocks_of(query: RollupQuery) -> list[int] | None:
    """The blocks a query not grouped by time sums (padded), or None when it reads rows (by
    time, or an unbounded hour range)."""
    if query.by_time:
        return None
    if query.source is RollupSource.DAYS:
        blocks = day_blocks(
            _EARLIEST if query.start is None else query.start,
            _LATEST if query.end is None else query.end,
        )
    elif query.start is not None and query.end is not None:
        blocks = hour_blocks(query.start, query.end)
    else:
        return None
    return blocks + [-1] * (_PADDED - len(blocks))


def _beyond(end: datetime | None) -> bool:
    return end is None or end > DAY_BLOCKS_END


def _native_shape(query: RollupQuery, blocks: list[int] | None) -> _NativeShape:
    return _NativeShape(
        query.source,
        blocks is not None,
        blocks is not None
        and query.source is RollupSource.DAYS
        and (query.start is None or query.start < DAY_BLOCKS_START or _beyond(query.end)),
        query.agent_type is not None,
        query.by_time,
        query.by_agent_type,
        query.by_model,
    )


def _native_read(queries: list[RollupQuery]) -> tuple[str, ...]:
    names = _names(queries)
    blocks = [_blocks_of(query) for query in queries]
    shapes = tuple(_native_shape(q, b) for q, b in zip(queries, blocks, strict=True))
    sql = _native_sql(shapes, names)
    parameters: list[Any] = []
    for query, shape, numbers in zip(queries, shapes, blocks, strict=True):
        start = _EARLIEST if query.start is None else query.start
        end = _LATEST if query.end is None else query.end
        parameters += (start, end)
        if numbers is not None:
            parameters.append(numbers)
        if shape.outside:
            parameters += (start, min(end, DAY_BLOCKS_START), max(start, DAY_BLOCKS_END), end)
        if shape.one_agent_type:
            parameters.append(query.agent_type)
    return (sql, *parameters)


# Whether every compaction so far added to the blocks (rollup_state.blocked; compactor.py).
_BLOCKS_WHOLE = "(SELECT blocked = generation FROM rollup_state WHERE id = 1)"


def _names(queries: list[RollupQuery]) -> tuple[str, ...]:
    """The columns a statement sums: the figures its queries ask for (all when they differ)."""
    asked = {query.figures for query in queries}
    return _columns(*asked) if len(asked) == 1 else FIGURE_COLUMNS


@functools.cache
def _columns(figures: FigureSet) -> tuple[str, ...]:
    return tuple(
        column
        for name in figures.names
        for column in (DURATION_COLUMNS if name == "durations" else (name,))
    )


@functools.cache
def _native_sql(shapes: tuple[_NativeShape, ...], names: tuple[str, ...]) -> str:
    columns = ", ".join(names)
    sums = ", ".join(f"sum({name})::bigint" for name in names)
    parts = []
    number = 0

    def parameter() -> str:
        nonlocal number
        number += 1
        return f"${number}"

    for index, shape in enumerate(shapes):
        table, time_column = (
            ("rollup_totals_daily", "day")
            if shape.source is RollupSource.DAYS
            else ("rollup_totals_hourly", "hour")
        )
        start, end = parameter(), parameter()
        within = f"{time_column} >= {start} AND {time_column} < {end}"
        branches = []
        if shape.blocks:
            blocks = f"block = ANY({parameter()}::bigint[])"
            branches.append(("rollup_totals_blocks", f"{blocks} AND {_BLOCKS_WHOLE}"))
            # The rows instead while the blocks are not whole (rolling upgrade; never both).
            branches.append((table, f"{within} AND NOT {_BLOCKS_WHOLE}"))
            if shape.outside:  # days outside the blocks' (normally none)
                for _ in range(2):
                    outside = f"day >= {parameter()} AND day < {parameter()}"
                    branches.append((table, f"{outside} AND {_BLOCKS_WHOLE}"))
        else:
            branches.append((table, within))
        branches.append(("rollup_deltas", within))
        agent = f" AND agent_type = {parameter()}" if shape.one_agent_type else ""
        moment = time_column if shape.by_time else "NULL::timestamptz"
        rows = " UNION ALL ".join(
            f"SELECT {moment} AS moment, agent_type, model, {columns}"
            f" FROM {name} WHERE {condition}{agent}"
            for name, condition in branches
        )
        keys = [
            "moment" if shape.by_time else "NULL::timestamptz",
            "agent_type" if shape.by_agent_type else "NULL::varchar",
            "model" if shape.by_model else "NULL::varchar",
        ]
        groups = [key for key in keys if not key.startswith("NULL")]
        group_by = f" GROUP BY {', '.join(groups)}" if groups else ""
        parts.append(f"SELECT {index}, {', '.join(keys)}, {sums} FROM ({rows}) r{group_by}")
    return " UNION ALL ".join(parts)


def _native_totals(queries: list[RollupQuery], rows: list[Any]) -> list[list[RollupTotal]]:
    results: list[list[RollupTotal]] = [[] for _ in queries]
    names = _names(queries)
    full = names == FIGURE_COLUMNS
    fields = [name for name in names if name not in DURATION_COLUMNS]
    for part, moment, agent_type, model, *values in rows:
        if values[0] is None:  # no rows at all: an aggregate without GROUP BY still answers
            continue
        if full:
            figures = Figures(*values[:_SCALARS], durations=tuple(values[_SCALARS:]))  # type: ignore[misc]
        else:
            figures = Figures(**dict(zip(fields, values, strict=True)))
        results[part].append(RollupTotal(moment, agent_type, model, figures))
    return results


_SCALARS = len(SCALAR_FIGURES)
