"""The conversation list's native SQL keeps PostgreSQL's plans where one plan fits every page
(adapters/sqlalchemy/conversations.py, as the task list's task_sql.find_tasks)."""

from __future__ import annotations

from datetime import UTC, datetime

from dashboard_api.adapters.sqlalchemy.conversations import _conversations_sql
from dashboard_api.domain.model.conversations import ConversationCursor, ConversationQuery

ORDER = "ORDER BY updated_at DESC, conversation_id DESC"


def test_an_unfiltered_page_has_a_literal_size_and_its_cursor_as_initplans() -> None:
    sql, *args = _conversations_sql(ConversationQuery(limit=51))
    assert args == []
    assert sql.endswith(f"FROM conversations {ORDER} LIMIT 51")
    cursor = ConversationCursor(datetime(2026, 11, 30, tzinfo=UTC), "c-1")
    sql, *args = _conversations_sql(ConversationQuery(limit=51, after=cursor))
    assert args == [cursor.updated_at, "c-1"]
    assert sql.endswith(
        "WHERE (updated_at, conversation_id) < ((SELECT $1::timestamptz), (SELECT $2::text)) "
        f"{ORDER} LIMIT 51"
    )


def test_a_filtered_page_is_planned_for_its_values() -> None:
    cursor = ConversationCursor(datetime(2026, 11, 30, tzinfo=UTC), "c-1")
    query = ConversationQuery(user_id="u", archived=True, limit=51, after=cursor)
    sql, *args = _conversations_sql(query)
    assert args == ["u", True, cursor.updated_at, "c-1", 51]
    assert sql.endswith(
        "WHERE user_id = $1 AND archived = $2 AND (updated_at, conversation_id) < ($3, $4) "
        f"{ORDER} LIMIT $5"
    )
