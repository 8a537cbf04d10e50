"""A `tasks` row (any selection of its columns, from SQLAlchemy or asyncpg) as a domain Task."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dashboard_api.adapters.sqlalchemy.cost_columns import (
    breakdown_of,
    cost_source_of,
    reported_cost_of,
)
from dashboard_api.domain.model.cost import CostSource
from dashboard_api.domain.model.tasks import (
    Task,
    TaskStatus,
    TaskView,
    inferred_source,
    seconds_between,
)
from dashboard_api.domain.money import from_micros

# A dict lookup: `TaskStatus(value)` goes through EnumMeta.__call__, ~5% of a list page's CPU.
STATUS_OF: dict[str, TaskStatus] = {status.value: status for status in TaskStatus}
_COST_SOURCE_OF: dict[str, CostSource] = {source.value: source for source in CostSource}


def task_of(row: Mapping[Any, Any]) -> Task:
    """Every read of tasks builds them here. Columns a read did not select (the large text
    for figures, most of them for rollups) keep the domain's defaults."""
    return Task(
        task_id=row["task_id"],
        status=STATUS_OF[row["status"]],
        agent_type=row["agent_type"],
        source=row.get("source", ""),
        created_at=row["created_at"],
        input_message=row.get("input_message", ""),
        assigned_agent=row.get("assigned_agent"),
        session_id=row.get("session_id"),
        conversation_id=row.get("conversation_id"),
        output=row.get("output"),
        error=row.get("error"),
        model=row.get("model"),
        cost_usd=from_micros(row.get("cost_micros", 0)),
        price_version=row.get("price_version"),
        input_tokens=row.get("input_tokens", 0),
        output_tokens=row.get("output_tokens", 0),
        cache_read_tokens=row.get("cache_read_tokens", 0),
        cache_write_tokens=row.get("cache_write_tokens", 0),
        cache_write_1h_tokens=row.get("cache_write_1h_tokens", 0),
        reasoning_tokens=row.get("reasoning_tokens", 0),
        cost_source=cost_source_of(row.get("cost_source")),
        retry_of=row.get("retry_of"),
        cost_breakdown=breakdown_of(row.get("cost_breakdown")),
        reported_cost_usd=reported_cost_of(row.get("reported_cost_micros")),
        started_at=row.get("started_at"),
        completed_at=row.get("completed_at"),
        version=row.get("version", 1),
    )


# Every column of `tasks`, in the order `task_of_full` unpacks them: the table's declared order
# (what `select(tasks)` returns). Spelled out in native SQL, never `*`: the columns revisions
# 0009 and 0010 added come last in PostgreSQL's own order.
FULL_COLUMNS = (
    "task_id",
    "status",
    "agent_type",
    "source",
    "assigned_agent",
    "session_id",
    "conversation_id",
    "input_message",
    "output",
    "error",
    "model",
    "cost_micros",
    "price_version",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "reasoning_tokens",
    "cost_source",
    "cost_breakdown",
    "retry_of",
    "reported_cost_micros",
    "created_at",
    "started_at",
    "completed_at",
    "version",
)


def task_of_full(row: Sequence[Any]) -> Task:
    """A row of every column in `FULL_COLUMNS`' order (an asyncpg Record or a SQLAlchemy Row of
    `select(tasks)`), unpacked by position: one C-level unpack instead of 27 lookups by name,
    ~5 us less per task an ingest batch reads (docs/benchmarks-realtime.md)."""
    (
        task_id,
        status,
        agent_type,
        source,
        assigned_agent,
        session_id,
        conversation_id,
        input_message,
        output,
        error,
        model,
        cost_micros,
        price_version,
        input_tokens,
        output_tokens,
        cache_read_tokens,
        cache_write_tokens,
        cache_write_1h_tokens,
        reasoning_tokens,
        cost_source,
        cost_breakdown,
        retry_of,
        reported_cost_micros,
        created_at,
        started_at,
        completed_at,
        version,
    ) = row
    return Task(
        task_id=task_id,
        status=STATUS_OF[status],
        agent_type=agent_type,
        source=source,
        created_at=created_at,
        input_message=input_message,
        assigned_agent=assigned_agent,
        session_id=session_id,
        conversation_id=conversation_id,
        output=output,
        error=error,
        model=model,
        cost_usd=from_micros(cost_micros),
        price_version=price_version,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read_tokens,
        cache_write_tokens=cache_write_tokens,
        cache_write_1h_tokens=cache_write_1h_tokens,
        reasoning_tokens=reasoning_tokens,
        cost_source=None if cost_source is None else _COST_SOURCE_OF[cost_source],
        retry_of=retry_of,
        cost_breakdown=breakdown_of(cost_breakdown),
        reported_cost_usd=reported_cost_of(reported_cost_micros),
        started_at=started_at,
        completed_at=completed_at,
        version=version,
    )


def view_of_full(row: Sequence[Any]) -> TaskView:
    """A row as `task_of_full` takes it, as the domain's `TaskView` of the task it holds
    (`TaskView.of(task_of_full(row))`), without the `Task` in between: one positional call
    (a by-id read's answer)."""
    (
        task_id,
        status,
        agent_type,
        source,
        assigned_agent,
        session_id,
        conversation_id,
        input_message,
        output,
        error,
        model,
        cost_micros,
        price_version,
        input_tokens,
        output_tokens,
        cache_read_tokens,
        cache_write_tokens,
        cache_write_1h_tokens,
        reasoning_tokens,
        cost_source,
        cost_breakdown,
        retry_of,
        reported_cost_micros,
        created_at,
        started_at,
        completed_at,
        _version,
    ) = row
    stored_source = None if cost_source is None else _COST_SOURCE_OF[cost_source]
    return TaskView(
        task_id,
        STATUS_OF[status],
        agent_type,
        source,
        assigned_agent,
        session_id,
        conversation_id,
        input_message,
        output,
        error,
        model,
        from_micros(cost_micros),
        price_version,
        input_tokens,
        output_tokens,
        cache_read_tokens,
        cache_write_tokens,
        cache_write_1h_tokens,
        reasoning_tokens,
        # The rule on the row's own values (a cost is non-zero when its micros are).
        inferred_source(stored_source, price_version, cost_micros),
        breakdown_of(cost_breakdown),
        reported_cost_of(reported_cost_micros),
        retry_of,
        created_at,
        started_at,
        completed_at,
        seconds_between(created_at, completed_at),
        seconds_between(started_at, completed_at),
    )
