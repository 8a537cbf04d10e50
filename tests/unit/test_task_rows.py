"""`task_of_full` (a full row by position) builds exactly the task `task_of` (by name) builds,
and its column order is the table's."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from dashboard_api.adapters.sqlalchemy.tables import tasks
from dashboard_api.adapters.sqlalchemy.task_rows import FULL_COLUMNS, task_of, task_of_full
from dashboard_api.adapters.sqlalchemy.tasks import _row
from dashboard_api.domain.model.cost import CostBreakdown, CostSource
from dashboard_api.domain.model.tasks import Task, TaskStatus

_AT = datetime(2026, 11, 30, 12, 0, 1, 250_000, tzinfo=UTC)


def _tasks() -> list[Task]:
    bare = Task(
        task_id="t-1", status=TaskStatus.QUEUED, agent_type="coder", source="api", created_at=_AT
    )
    full = Task(
        task_id="t-2",
        status=TaskStatus.COMPLETED,
        agent_type="coder",
        source="engine",
        created_at=_AT,
        input_message='Fix the build "now"',
        assigned_agent="agent-7",
        session_id="s-1",
        conversation_id="c-1",
        output="done",
        error="none",
        model="claude",
        cost_usd=Decimal("1.234567"),
        price_version="2026-11",
        input_tokens=10,
        output_tokens=20,
        cache_read_tokens=3,
        cache_write_tokens=4,
        cache_write_1h_tokens=2,
        reasoning_tokens=5,
        cost_source=CostSource.COMPUTED,
        cost_breakdown=CostBreakdown(
            input=Decimal("0.1"),
            output=Decimal("0.2"),
            reasoning=Decimal("0.3"),
            cache_read=Decimal("0.4"),
            cache_write_5m=Decimal("0.5"),
            cache_write_1h=Decimal("0.034567"),
            pattern="claude*",
            effective_from=_AT,
        ),
        reported_cost_usd=Decimal("1.5"),
        retry_of="t-0",
        started_at=_AT,
        completed_at=_AT,
        version=3,
    )
    return [bare, full]


def test_full_columns_are_the_table_order() -> None:
    assert tuple(column.name for column in tasks.columns) == FULL_COLUMNS


def test_task_of_full_is_task_of() -> None:
    for task in _tasks():
        row = _row(task)  # the row the store writes for `task`
        positional = tuple(row[name] for name in FULL_COLUMNS)
        assert task_of_full(positional) == task_of(row) == task
