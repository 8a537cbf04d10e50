"""TaskStore on SQLAlchemy Core, and the unit of work that gives it one transaction.

Core, not the ORM or an Advanced Alchemy repository: a request maps rows straight to the
domain's msgspec structs, skipping identity-map and unit-of-work bookkeeping that a
request-scoped read never needs (see docs/benchmarks.md for what that buys).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import asyncpg
import msgspec
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    Select,
    String,
    bindparam,
    func,
    insert,
    literal,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from dashboard_api.adapters.sqlalchemy import session_sql, task_sql
from dashboard_api.adapters.sqlalchemy.cost_columns import cost_columns
from dashboard_api.adapters.sqlalchemy.store import SqlStore, unit_driver
from dashboard_api.adapters.sqlalchemy.tables import tasks
from dashboard_api.adapters.sqlalchemy.task_rows import (
    FULL_COLUMNS,
    STATUS_OF,
    task_of,
    task_of_full,
    view_of_full,
)
from dashboard_api.domain.errors import Conflict
from dashboard_api.domain.model.tasks import (
    ACTIVE_STATUSES,
    INPUT_PREVIEW_CHARS,
    AgentActivity,
    Task,
    TaskCounts,
    TaskQuery,
    TaskStatus,
    TaskSummary,
    TaskView,
    TaskWindow,
)
from dashboard_api.domain.money import from_micros, to_micros

_SUMMARY_COLUMNS = (
    tasks.c.task_id,
    tasks.c.status,
    tasks.c.agent_type,
    tasks.c.source,
    tasks.c.created_at,
    func.substr(tasks.c.input_message, 1, INPUT_PREVIEW_CHARS).label("input_preview"),
    tasks.c.assigned_agent,
    tasks.c.session_id,
    tasks.c.conversation_id,
    tasks.c.model,
    tasks.c.cost_micros,
    tasks.c.input_tokens,
    tasks.c.output_tokens,
    tasks.c.started_at,
    tasks.c.completed_at,
)


class SqlTaskStore(SqlStore):
    """Bound to one connection inside a unit of work, or to an engine for standalone reads."""

    async def add(self, task: Task) -> None:
        async with self._connection() as connection:
            try:
                await connection.execute(insert(tasks).values(_row(task)))
            except IntegrityError as exc:
                raise Conflict(f"task {task.task_id} already exists", task_id=task.task_id) from exc

    async def get(self, task_id: str) -> Task | None:
        native = await self._fetch_fast(task_sql.GET_TASK, task_id)
        if native is not None:
            return task_of_full(native[0]) if native else None
        async with self._connection() as connection:
            result = await connection.execute(select(tasks).where(tasks.c.task_id == task_id))
            row = result.first()
        return None if row is None else task_of_full(row)

    async def get_view(self, task_id: str) -> TaskView | None:
        native = await self._fetch_fast(task_sql.GET_TASK, task_id)
        if native is not None:
            return view_of_full(native[0]) if native else None
        task = await self.get(task_id)
        return None if task is None else TaskView.of(task)

    async def get_many(self, task_ids: Sequence[str]) -> dict[str, Task]:
        if not task_ids:
            return {}
        wanted = list(set(task_ids))
        # In a unit of work the rows are locked (FOR UPDATE; SQLite locks the whole database
        # for a writer anyway): nobody changes them before `replace_many` writes them back.
        in_unit = self._engine is None
        native = await self._fetch_fast(
            task_sql.GET_TASKS_LOCKED if in_unit else task_sql.GET_TASKS, wanted
        )
        if native is None:
            statement = select(tasks).where(tasks.c.task_id.in_(wanted))
            async with self._connection() as connection:
                result = await connection.execute(
                    statement.with_for_update() if in_unit else statement
                )
                native = list(result)
        found = (task_of_full(row) for row in native)
        return {task.task_id: task for task in found}

    async def replace_many(self, changed: Sequence[Task]) -> None:
        if not changed:
            return
        driver = await self._asyncpg_in_unit()
        if driver is not None:
            await driver.executemany(_UPDATE_SQL, [_values(task) for task in changed])
            return
        rows = []
        for task in changed:
            row = _row(task)
            row["key"] = row.pop("task_id")
            rows.append(row)
        columns = [name for name in rows[0] if name != "key"]
        statement = (
            update(tasks)
            .where(tasks.c.task_id == bindparam("key"))
            .values({name: bindparam(name) for name in columns})
        )
        async with self._connection() as connection:
            await connection.execute(statement, rows)

    async def add_many(self, new: Sequence[Task]) -> None:
        if not new:
            return
        driver = await self._asyncpg_in_unit()
        if driver is not None:
            try:
                await driver.executemany(_INSERT_SQL, [_values(task) for task in new])
            except asyncpg.UniqueViolationError as exc:
                raise Conflict("a task of the batch already exists") from exc
            return
        async with self._connection() as connection:
            try:
                await connection.execute(insert(tasks), [_row(task) for task in new])
            except IntegrityError as exc:
                raise Conflict("a task of the batch already exists") from exc

    async def save_many(self, added: Sequence[Task], replaced: Sequence[Task]) -> None:
        driver = await self._asyncpg_in_unit()
        if driver is None or not (added and replaced):
            await self.add_many(added)
            await self.replace_many(replaced)
            return
        rows = [_row(task) for task in (*added, *replaced)]
        written = await driver.fetch(_SAVE_SQL, _ROWS_JSON(rows).decode())
        if len(written) != len(rows):
            # An added task met a row that exists: its version is not older than ours.
            raise Conflict("a task of the batch already exists")

    async def _asyncpg_in_unit(self) -> asyncpg.Connection | None:
        """The unit of work's asyncpg connection (same transaction), or None outside a unit or
        on another backend. An ingest batch's task rows through SQLAlchemy's executemany (bind
        processing and parameter dicts per row) cost ~12 us of CPU per event; asyncpg's own
        executemany of tuples ~3 us (bench.ingest_profile, docs/benchmarks-realtime.md)."""
        connection = self._source
        if not isinstance(connection, AsyncConnection):
            return None
        return await unit_driver(connection)

    async def replace(self, task: Task, *, expected_version: int) -> bool:
        driver = await self._asyncpg_in_unit()
        if driver is not None:
            # One prepared statement: SQLAlchemy built, keyed and looked up an UPDATE of 27
            # values for every single change (~0.3 ms of CPU per OTLP span, cProfile).
            status = await driver.execute(_REPLACE_SQL, *_values(task), expected_version)
            return bool(status == "UPDATE 1")
        values = _row(task)
        del values["task_id"]
        statement = (
            update(tasks)
            .where(tasks.c.task_id == task.task_id, tasks.c.version == expected_version)
            .values(values)
        )
        async with self._connection() as connection:
            result = await connection.execute(statement)
        return bool(result.rowcount == 1)

    async def find(self, query: TaskQuery) -> list[TaskSummary]:
        sql, args = task_sql.find_tasks(query)
        native = await self._fetch_fast(sql, *args)
        if native is not None:
            return [_summary(row) for row in native]
        async with self._connection() as connection:
            result = await connection.execute(_list_statement(query))
            rows = result.all()
        return [_summary(row) for row in rows]

    async def agent_activity(self) -> list[AgentActivity]:
        # Two index walks instead of a scan of every task: the agent types and their latest
        # task come from ix_tasks_agent_type, the live counts from ix_tasks_status.
        live = (
            select(tasks.c.agent_type, tasks.c.status, func.count())
            .where(tasks.c.status.in_([TaskStatus.QUEUED.value, TaskStatus.RUNNING.value]))
            .group_by(tasks.c.agent_type, tasks.c.status)
        )
        async with self._connection() as connection:
            latest = (await connection.execute(_AGENT_TYPES)).all()
            counts = {(agent, status): n for agent, status, n in await connection.execute(live)}
        return [
            AgentActivity(
                agent_type=agent,
                queued=counts.get((agent, TaskStatus.QUEUED.value), 0),
                running=counts.get((agent, TaskStatus.RUNNING.value), 0),
                last_activity_at=last,
            )
            for agent, last in latest
        ]

    async def active_counts(self) -> TaskCounts:
        statement = (
            select(tasks.c.status, func.count())
            .where(tasks.c.status.in_([status.value for status in ACTIVE_STATUSES]))
            .group_by(tasks.c.status)
        )
        async with self._connection() as connection:
            counts = dict((await connection.execute(statement)).tuples().all())
        return TaskCounts(
            queued=counts.get(TaskStatus.QUEUED.value, 0),
            running=counts.get(TaskStatus.RUNNING.value, 0),
            waiting_input=counts.get(TaskStatus.WAITING_INPUT.value, 0),
        )

    async def session_ids(self, window: TaskWindow, *, after: str | None, limit: int) -> list[str]:
        async with self._connection() as connection:
            result = await connection.execute(session_sql.session_ids(window, after, limit))
            return list(result.scalars().all())

    async def session_tasks(self, window: TaskWindow, session_ids: Sequence[str]) -> list[Task]:
        if not session_ids:
            return []
        async with self._connection() as connection:
            result = await connection.execute(session_sql.session_tasks(window, session_ids))
            return [task_of(row._mapping) for row in result]


# A loose index scan: each step jumps to the next agent type in ix_tasks_agent_type.
_AGENT_TYPES = text(
    """
    WITH RECURSIVE agent_types(agent_type) AS (
        SELECT min(agent_type) FROM tasks
        UNION ALL
        SELECT (SELECT min(t.agent_type) FROM tasks t WHERE t.agent_type > a.agent_type)
        FROM agent_types a WHERE a.agent_type IS NOT NULL
    )
    SELECT a.agent_type,
           (SELECT max(t.created_at) FROM tasks t WHERE t.agent_type = a.agent_type) AS latest
    FROM agent_types a WHERE a.agent_type IS NOT NULL ORDER BY a.agent_type
    """
).columns(agent_type=String(), latest=DateTimeUTC(timezone=True))


def _list_statement(query: TaskQuery) -> Select[Any]:
    statement = select(*_SUMMARY_COLUMNS)
    equal_filters = (
        (tasks.c.agent_type, query.agent_type),
        (tasks.c.assigned_agent, query.assigned_agent),
        (tasks.c.source, query.source),
        (tasks.c.session_id, query.session_id),
        (tasks.c.conversation_id, query.conversation_id),
    )
    for column, wanted in equal_filters:
        if wanted is not None:
            statement = statement.where(column == wanted)
    if query.statuses:
        statement = statement.where(tasks.c.status.in_([status.value for status in query.statuses]))
    if query.created_after is not None:
        statement = statement.where(tasks.c.created_at >= query.created_after)
    if query.created_before is not None:
        statement = statement.where(tasks.c.created_at < query.created_before)
    if query.text:
        pattern = "%" + task_sql.escape_like(query.text) + "%"
        statement = statement.where(tasks.c.input_message.ilike(pattern, escape="\\"))
    if query.after is not None:
        position = tuple_(tasks.c.created_at, tasks.c.task_id)
        statement = statement.where(
            position
            < tuple_(
                literal(query.after.created_at, tasks.c.created_at.type),
                literal(query.after.task_id, tasks.c.task_id.type),
            )
        )
    return statement.order_by(tasks.c.created_at.desc(), tasks.c.task_id.desc()).limit(query.limit)


def _row(task: Task) -> dict[str, Any]:
    return {
        "task_id": task.task_id,
        "status": task.status.value,
        "agent_type": task.agent_type,
        "source": task.source,
        "assigned_agent": task.assigned_agent,
        "session_id": task.session_id,
        "conversation_id": task.conversation_id,
        "input_message": task.input_message,
        "output": task.output,
        "error": task.error,
        "model": task.model,
        "cost_micros": to_micros(task.cost_usd),
        "price_version": task.price_version,
        "input_tokens": task.input_tokens,
        "output_tokens": task.output_tokens,
        "cache_read_tokens": task.cache_read_tokens,
        "cache_write_tokens": task.cache_write_tokens,
        **cost_columns(task),
        "created_at": task.created_at,
        "started_at": task.started_at,
        "completed_at": task.completed_at,
        "version": task.version,
    }


# The batch writes on asyncpg: every column of `tasks`, in `_row`'s order (task_id first).
_COLUMNS = [column.name for column in tasks.columns]
# `select(tasks)` rows are unpacked by position (`task_of_full`).
assert tuple(_COLUMNS) == FULL_COLUMNS, "task_rows.FULL_COLUMNS is the table's column order"
_INSERT_SQL = "INSERT INTO tasks ({}) VALUES ({})".format(
    ", ".join(_COLUMNS), ", ".join(f"${n}" for n in range(1, len(_COLUMNS) + 1))
)
_UPDATE_SQL = "UPDATE tasks SET {} WHERE task_id = $1".format(
    ", ".join(f"{name} = ${n}" for n, name in enumerate(_COLUMNS[1:], start=2))
)
_REPLACE_SQL = f"{_UPDATE_SQL} AND version = ${len(_COLUMNS) + 1}"


# An ingest batch's new and changed tasks in one statement (one round trip instead of an
# INSERT and an UPDATE). A changed task (read and locked by `get_many`) has a higher version
# than the stored row, so it replaces it; a new task that meets an existing row (version 1,
# not higher) writes nothing and is missing from the returned rows: `Conflict`, as `add_many`
# raises. The rows go as one JSON parameter (`_row`'s dicts, one msgspec call) expanded by
# column name in SQL: sent as one array per column (27 arrays), asyncpg's array encoder
# checked every element against collections.abc, and the statement cost the client ~12.5 us
# of CPU per row against ~5.4 (bench: docs/benchmarks-realtime.md, "Durable ingestion").
_SAVE_SQL = (
    "INSERT INTO tasks ({columns}) SELECT {columns}"
    " FROM json_populate_recordset(NULL::tasks, $1::json)"
    " ON CONFLICT (task_id) DO UPDATE SET {updates} WHERE tasks.version < excluded.version"
    " RETURNING task_id"
).format(
    columns=", ".join(_COLUMNS),
    updates=", ".join(f"{name} = excluded.{name}" for name in _COLUMNS[1:]),
)
_ROWS_JSON = msgspec.json.Encoder().encode

# One C call instead of a generator step per column (~2% of an ingest batch's CPU).
_IN_ORDER = operator.itemgetter(*_COLUMNS)


def _values(task: Task) -> tuple[Any, ...]:
    values: tuple[Any, ...] = _IN_ORDER(_row(task))
    return values


def _summary(row: Sequence[Any]) -> TaskSummary:
    """A list row by position, in the order of `_SUMMARY_COLUMNS` and task_sql.SUMMARY_COLUMNS
    (an asyncpg Record or a SQLAlchemy Row): unpacking is ~2x cheaper than 15 lookups by name,
    ~20 us of a 50-row page (docs/benchmarks.md)."""
    (
        task_id,
        status,
        agent_type,
        source,
        created_at,
        input_preview,
        assigned_agent,
        session_id,
        conversation_id,
        model,
        cost_micros,
        input_tokens,
        output_tokens,
        started_at,
        completed_at,
    ) = row
    return TaskSummary(
        task_id=task_id,
        status=STATUS_OF[status],
        agent_type=agent_type,
        source=source,
        created_at=created_at,
        input_preview=input_preview,
        assigned_agent=assigned_agent,
        session_id=session_id,
        conversation_id=conversation_id,
        model=model,
        cost_usd=from_micros(cost_micros),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        started_at=started_at,
        completed_at=completed_at,
    )
