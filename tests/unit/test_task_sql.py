"""The task list's native SQL and its SQLAlchemy statement select the same columns in the same
order: list rows are read by position (adapters/sqlalchemy/tasks.py `_summary`)."""

from __future__ import annotations

import re

from dashboard_api.adapters.sqlalchemy import task_sql
from dashboard_api.adapters.sqlalchemy.tasks import _SUMMARY_COLUMNS, _summary
from dashboard_api.domain.model.tasks import TaskSummary


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
