"""The task store's hottest reads as native PostgreSQL, run straight on asyncpg.

SQLAlchemy's statement building, compilation-cache lookup and per-row result processing cost
more than the query itself on a one-row read (docs/benchmarks.md). These builders splice
constant column names and the page size (an int); every other value travels as a parameter.
"""

from __future__ import annotations

from typing import Any

from dashboard_api.adapters.sqlalchemy.task_rows import FULL_COLUMNS
from dashboard_api.domain.model.tasks import INPUT_PREVIEW_CHARS, TaskQuery

SUMMARY_COLUMNS = (
    "task_id, status, agent_type, source, created_at, "
    f"substr(input_message, 1, {INPUT_PREVIEW_CHARS}) AS input_preview, assigned_agent, "
    "session_id, conversation_id, model, cost_micros, input_tokens, output_tokens, "
    "started_at, completed_at"
)

# Every column in `FULL_COLUMNS`' order (rows built by `task_rows.task_of_full`).
_FULL = ", ".join(FULL_COLUMNS)
_FULL_OF_T = ", ".join(f"t.{name}" for name in FULL_COLUMNS)
GET_TASK = f"SELECT {_FULL} FROM tasks WHERE task_id = $1"
# A join on unnest (the ids distinct), not `= ANY($1)`: an ingest batch's read of ~300 tasks
# took ~20 ms with ANY on the bench's fresh tables (a plan comparing each row with the whole
# array), far less with the join (docs/benchmarks-realtime.md).
GET_TASKS = f"SELECT {_FULL_OF_T} FROM tasks t JOIN unnest($1::text[]) AS u(id) ON t.task_id = u.id"
GET_TASKS_LOCKED = GET_TASKS + " FOR UPDATE OF t"

_EQUAL_FILTERS = ("agent_type", "assigned_agent", "source", "session_id", "conversation_id")


def find_tasks(query: TaskQuery) -> tuple[str, list[Any]]:
    """SQL and arguments of one page of the task list, newest first (keyset on the index)."""
    clauses: list[str] = []
    args: list[Any] = []

    def bind(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    for column in _EQUAL_FILTERS:
        value = getattr(query, column)
        if value is not None:
            clauses.append(f"{column} = {bind(value)}")
    if query.statuses:
        clauses.append(f"status = ANY({bind([status.value for status in query.statuses])})")
    if query.created_after is not None:
        clauses.append(f"created_at >= {bind(query.created_after)}")
    if query.created_before is not None:
        clauses.append(f"created_at < {bind(query.created_before)}")
    if query.text:
        pattern = "%" + escape_like(query.text) + "%"
        clauses.append(f"input_message ILIKE {bind(pattern)} ESCAPE '\\'")
    if query.after is not None:
        at, task_id = bind(query.after.created_at), bind(query.after.task_id)
        if clauses:
            # Filtered: plain parameters, so that PostgreSQL can plan a page for its values
            # where they matter (a rare status near the end of the table wants another plan
            # than near its head; a generic plan cannot tell, docs/benchmarks.md).
            clauses.append(f"(created_at, task_id) < ({at}, {task_id})")
        else:
            # Unfiltered (the deep page): one good plan whatever the cursor, the index scan
            # from the cursor backwards; the cursor's values go in as one-row subqueries
            # (InitPlans) so that PostgreSQL keeps it. With `< ($1, $2)` the generic plan's
            # estimate (a third of the table) was dearer than a custom plan for the actual
            # values, so it planned every deep page again (~60 us of its CPU). An InitPlan's
            # value is unknown to the planner in both plans: they cost the same, and from the
            # sixth execution on a connection the generic plan is kept (docs/benchmarks.md).
            # Typed: a parameter alone in a subquery would be taken for text.
            clauses.append(
                f"(created_at, task_id) < ((SELECT {at}::timestamptz), (SELECT {task_id}::text))"
            )
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    order = " ORDER BY created_at DESC, task_id DESC"
    # The page size as a literal, not a parameter: PostgreSQL's generic plan of `LIMIT $n`
    # assumes a tenth of the table, so it kept a custom plan and planned the first page on
    # every execution (~40 us of its CPU, against ~6 us for the cached plan, EXPLAIN ANALYZE
    # at 1M tasks, docs/benchmarks.md). Without a filter or cursor the statement then has no
    # parameter at all and its plan is made once per connection.
    return f"SELECT {SUMMARY_COLUMNS} FROM tasks{where}{order} LIMIT {int(query.limit)}", args


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
