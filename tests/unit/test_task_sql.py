"""The task list's native SQL and its SQLAlchemy statement select the same columns in the same
order: list rows are read by position (adapters/sqlalchemy/tasks.py `_summary`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from dashboard_api.adapters.sqlalchemy import task_sql
from dashboard_api.adapters.sqlalchemy.tasks import _SUMMARY_COLUMNS, _summary
from dashboard_api.domain.model.tasks import TaskCursor, TaskQuery, TaskStatus, TaskSummary


def test_native_and_core_list_columns_are_in_the_same_order() -> None:
    # commas outside parentheses separate the columns; an expression's name is its alias
    parts = re.split(r",\s*(?![^()]*\))", task_sql.SUMMARY_COLUMNS)
    native = [part.split()[-1] for part in parts]
    assert native == [column.name for column in _SUMMARY_COLUMNS]


def test_a_list_row_maps_by_position_to_the_summary_fields() -> None:
    fields = list(TaskSummary.__struct_fields__)
    row = [f"v-{name}" for name in fields]
    row[fields.index("status")] = "running"
    row[fields.index("cost_usd")] = 1_500_000
    summary = _summary(row)
    assert summary.task_id == "v-task_id"
    assert summary.input_preview == "v-input_preview"
    assert summary.completed_at == "v-completed_at"
    assert str(summary.cost_usd) == "1.500000"
    assert [column.name for column in _SUMMARY_COLUMNS] == [
        "cost_micros" if name == "cost_usd" else name for name in fields
    ]


def test_the_first_page_is_a_statement_without_parameters() -> None:
    # PostgreSQL plans a statement without parameters once per connection; `LIMIT $1` made it
    # plan the first page on every request (task_sql.find_tasks).
    sql, args = task_sql.find_tasks(TaskQuery(limit=51))
    assert args == []
    assert sql.endswith(" LIMIT 51")


def test_an_unfiltered_cursor_goes_in_as_initplans_a_filtered_one_as_parameters() -> None:
    # Unfiltered, PostgreSQL keeps a generic plan only when the planner cannot see the cursor's
    # values (tests/integration/test_task_list_plans_postgres.py); filtered, each page is
    # planned for its values (a rare status near the table's end wants another plan).
    cursor = TaskCursor(datetime(2026, 11, 30, tzinfo=UTC), "t1")
    sql, args = task_sql.find_tasks(TaskQuery(limit=51, after=cursor))
    assert args == [cursor.created_at, "t1"]
    assert sql.endswith(
        "(created_at, task_id) < ((SELECT $1::timestamptz), (SELECT $2::text)) "
        "ORDER BY created_at DESC, task_id DESC LIMIT 51"
    )
    sql, args = task_sql.find_tasks(
        TaskQuery(limit=51, after=cursor, statuses=(TaskStatus.QUEUED,))
    )
    assert args == [["queued"], cursor.created_at, "t1"]
    assert sql.endswith(
        "(created_at, task_id) < ($2, $3) ORDER BY created_at DESC, task_id DESC LIMIT 51"
    )
