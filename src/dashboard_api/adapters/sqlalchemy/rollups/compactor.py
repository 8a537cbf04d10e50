"""Folds appended rollup deltas into the hour and day rows, in the background.

Readers sum compacted rows and deltas, so compaction never changes an answer: it only keeps
the delta table short. Each run moves, in one transaction, the deltas it can see (DELETE ...
RETURNING skips rows of transactions not yet committed; the next run takes them), so a delta
is folded exactly once even with several replicas compacting at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import defaultdict
from typing import Any

import msgspec
from sqlalchemy import (
    ColumnElement,
    Table,
    case,
    delete,
    false,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dashboard_api.adapters.sqlalchemy.engine import autocommit, write_transaction
from dashboard_api.adapters.sqlalchemy.rollups.blocks import blocks_of_hour
from dashboard_api.adapters.sqlalchemy.rollups.columns import (
    FIGURE_COLUMNS,
    KEY_COLUMNS,
    TOTAL_KEY_COLUMNS,
    figure_values,
    figures_of,
)
from dashboard_api.adapters.sqlalchemy.store import unit_driver
from dashboard_api.adapters.sqlalchemy.tables import (
    rollup_day_changes,
    rollup_deltas,
    rollup_state,
    rollup_totals_blocks,
    rollup_totals_daily,
    rollup_totals_hourly,
    rollups_daily,
    rollups_hourly,
)
from dashboard_api.adapters.unavailable import FailureLog
from dashboard_api.domain.model.rollups import EMPTY, Figures

_Key = tuple[Any, ...]  # (hour or day, agent type, model[, status])


async def compact(connection: AsyncConnection) -> int:
    """Move every visible delta into its hour and day rows; returns how many were moved."""
    moved, _ = await _compact(connection)
    return moved


async def _compact(connection: AsyncConnection) -> tuple[int, bool]:
    """How many deltas were moved, and whether the blocks were refilled."""
    seen, blocked = (
        await connection.execute(
            select(rollup_state.c.generation, rollup_state.c.blocked).where(rollup_state.c.id == 1)
        )
    ).one()
    moved = (await connection.execute(delete(rollup_deltas).returning(rollup_deltas))).all()
    # Only PostgreSQL reads blocks (store.py's native statement): elsewhere they are not kept,
    # and `blocked` says so.
    blocks = connection.dialect.name == "postgresql"
    if not moved:
        if blocks and blocked != seen:  # an older release compacted last: refill the blocks now
            await connection.execute(delete(rollup_totals_blocks))
            await fill_blocks(connection)
            await bump_generation(connection, blocks_whole=rollup_state.c.generation == seen)
        return 0, blocks and blocked != seen
    hours: dict[_Key, Figures] = defaultdict(lambda: EMPTY)
    days: dict[_Key, Figures] = defaultdict(lambda: EMPTY)
    total_hours: dict[_Key, Figures] = defaultdict(lambda: EMPTY)
    total_days: dict[_Key, Figures] = defaultdict(lambda: EMPTY)
    day_changes: dict[Any, int] = defaultdict(int)
    for row in moved:
        day_changes[row.day] += 1
        figures = figures_of(row)
        hours[(row.hour, row.agent_type, row.model, row.status)] += figures
        days[(row.day, row.agent_type, row.model, row.status)] += figures
        total_hours[(row.hour, row.agent_type, row.model)] += figures
        total_days[(row.day, row.agent_type, row.model)] += figures
    await _add(connection, rollups_hourly, "hour", KEY_COLUMNS, hours)
    await _add(connection, rollups_daily, "day", KEY_COLUMNS, days)
    await _add(connection, rollup_totals_hourly, "hour", TOTAL_KEY_COLUMNS, total_hours)
    await _add(connection, rollup_totals_daily, "day", TOTAL_KEY_COLUMNS, total_days)
    if not blocks:
        still: ColumnElement[bool] = false()
    elif blocked == seen:  # the blocks hold every compaction so far: add these
        await _add(
            connection, rollup_totals_blocks, "block", TOTAL_KEY_COLUMNS, block_sums(total_hours)
        )
        still = rollup_state.c.blocked == rollup_state.c.generation
    else:  # a release before the blocks compacted since: refill them from the hour rows
        await connection.execute(delete(rollup_totals_blocks))
        await fill_blocks(connection)
        still = rollup_state.c.generation == seen
    await _count_changes(connection, day_changes)
    await bump_generation(connection, blocks_whole=still)
    return len(moved), blocks and blocked != seen


def block_sums(hours: dict[_Key, Figures]) -> dict[_Key, Figures]:
    """Figures per (hour, agent type, model) added into every block holding the hour."""
    blocks: dict[_Key, Figures] = defaultdict(lambda: EMPTY)
    for (hour, agent_type, model), figures in hours.items():
        for block in blocks_of_hour(hour):
            blocks[(block, agent_type, model)] += figures
    return blocks


async def _count_changes(connection: AsyncConnection, day_changes: dict[Any, int]) -> None:
    """Add the folded deltas to their days' counts (the rollup versions stay where they were)."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(rollup_day_changes).values(
        [{"day": day, "changes": count} for day, count in sorted(day_changes.items())]
    )
    await connection.execute(
        statement.on_conflict_do_update(
            index_elements=["day"],
            set_={"changes": rollup_day_changes.c.changes + statement.excluded.changes},
        )
    )


async def bump_generation(
    connection: AsyncConnection, *, blocks_whole: ColumnElement[bool]
) -> None:
    """Deltas were removed: the watermark of the previous release (generation, pending count)
    must move for a process of that release still running beside this one. `counted` moves
    with it: this release counted them (the epoch of SqlRollupStore.state stays). `blocked`
    moves too when the blocks are whole (`blocks_whole`, evaluated on the row as this update
    finds it: a compaction by an older release committed meanwhile makes it false)."""
    generation = rollup_state.c.generation
    await connection.execute(
        update(rollup_state)
        .where(rollup_state.c.id == 1)
        .values(
            generation=generation + 1,
            counted=rollup_state.c.counted + 1,
            blocked=case((blocks_whole, generation + 1), else_=rollup_state.c.blocked),
        )
    )


async def fill_blocks(connection: AsyncConnection) -> None:
    """The block rows from the hourly read rows (a few tens of thousands: 30 days of groups),
    into an empty table."""
    hourly = rollup_totals_hourly
    rows = await connection.execute(
        select(
            hourly.c.hour,
            *(hourly.c[n] for n in TOTAL_KEY_COLUMNS),
            *(hourly.c[n] for n in FIGURE_COLUMNS),
        )
    )
    hours = {(row.hour, row.agent_type, row.model): figures_of(row) for row in rows}
    values = [
        {"block": key[0], **dict(zip(TOTAL_KEY_COLUMNS, key[1:], strict=True)), **figure_values(f)}
        for key, f in block_sums(hours).items()
        if not f.is_empty
    ]
    for start in range(0, len(values), _BATCH):
        await connection.execute(insert(rollup_totals_blocks), values[start : start + _BATCH])


_BATCH = 5_000


async def _add(
    connection: AsyncConnection,
    table: Table,
    time_column: str,
    key_columns: tuple[str, ...],
    sums: dict[_Key, Figures],
) -> None:
    # Sorted keys: two compactors lock rows in the same order and cannot deadlock.
    ordered = [
        (key, f) for key, f in sorted(sums.items(), key=lambda item: item[0]) if not f.is_empty
    ]
    if not ordered:
        return
    keys = [table.c[time_column], *(table.c[name] for name in key_columns)]
    driver = await unit_driver(connection)
    if driver is not None:
        # PostgreSQL: one prepared statement over column arrays. SQLAlchemy's multi-row VALUES
        # is compiled anew for every row count: ~0.5 ms of Python per row, 430 ms for the ~750
        # block rows of a compaction of 500 deltas (measured; 75 ms for the other four tables).
        columns: list[list[Any]] = [[] for _ in range(1 + len(key_columns) + len(FIGURE_COLUMNS))]
        for key, f in ordered:
            *scalars, durations = msgspec.structs.astuple(f)
            for column, value in zip(columns, (*key, *scalars, *durations), strict=True):
                column.append(value)
        emptied = await driver.fetch(_upsert_sql(table.name, time_column, key_columns), *columns)
    else:
        rows = [
            {
                time_column: key[0],
                **dict(zip(key_columns, key[1:], strict=True)),
                **figure_values(f),
            }
            for key, f in ordered
        ]
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(table).values(rows)
        statement = statement.on_conflict_do_update(
            index_elements=[time_column, *key_columns],
            set_={name: table.c[name] + statement.excluded[name] for name in FIGURE_COLUMNS},
        )
        emptied = (await connection.execute(statement.returning(*keys, table.c.tasks))).all()
    # A row whose tasks all moved elsewhere sums to zero everywhere: drop it.
    gone = [tuple(row[:-1]) for row in emptied if row[-1] == 0]
    if gone:
        await connection.execute(delete(table).where(tuple_(*keys).in_(gone)))


@functools.cache
def _upsert_sql(table: str, time_column: str, key_columns: tuple[str, ...]) -> str:
    time_type = "bigint" if time_column == "block" else "timestamptz"
    types = [time_type, *(["text"] * len(key_columns)), *(["bigint"] * len(FIGURE_COLUMNS))]
    names = [time_column, *key_columns, *FIGURE_COLUMNS]
    arrays = ", ".join(f"${n}::{kind}[]" for n, kind in enumerate(types, start=1))
    keys = ", ".join((time_column, *key_columns))
    added = ", ".join(f"{name} = {table}.{name} + excluded.{name}" for name in FIGURE_COLUMNS)
    return (
        f"INSERT INTO {table} ({', '.join(names)}) SELECT * FROM unnest({arrays})"
        f" ON CONFLICT ({keys}) DO UPDATE SET {added} RETURNING {keys}, tasks"
    )


class RollupCompactor:
    """Runs `compact` every `interval` seconds until stopped; errors are logged and retried."""

    def __init__(self, engine: AsyncEngine, *, interval: float) -> None:
        self._engine = engine
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_once(self) -> int:
        async with write_transaction(self._engine) as connection:
            moved, refilled = await _compact(connection)
            await connection.commit()
        if self._engine.dialect.name == "postgresql":
            if moved:
                await self._vacuum("rollup_deltas")
            if refilled:  # every block row was deleted and written again
                await self._vacuum("rollup_totals_blocks")
        return moved

    async def _vacuum(self, table: str) -> None:
        # Every compaction deletes the rows it folded, and every read (and the state query of
        # the answer cache) scans what is left of the table, dead rows included, until a vacuum
        # frees them: measured 1,045 pages for 136 live rows after minutes of writes without
        # autovacuum, 3,578 buffers per uncached performance answer against 443 vacuumed.
        # Autovacuum visits a table at most once a naptime (1 min): vacuum it here, right away,
        # skipping it while another replica's compactor does the same.
        async with autocommit(self._engine).connect() as connection:
            await connection.exec_driver_sql(f"VACUUM (SKIP_LOCKED) {table}")

    async def run(self) -> None:
        """The loop itself, for a supervisor that owns the task (bootstrap/workers.py)."""
        failures = FailureLog(
            "rollup compaction (deltas stay readable)",
            logger=logging.getLogger("dashboard_api.rollups"),
        )
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.run_once()
            except Exception as exc:
                failures.failed(exc)
            else:
                failures.succeeded()
