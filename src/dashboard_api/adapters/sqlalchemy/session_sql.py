"""The task reads behind performance per session, both walks of ix_tasks_session_id.

That index is (session_id, created_at, task_id): the first read steps through it in session
order and stops after a page of sessions; the second reads only those sessions' window.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select

from dashboard_api.adapters.sqlalchemy.tables import tasks
from dashboard_api.domain.model.tasks import TaskWindow

# Everything but the large text: a session's figures never need it.
_TEXT_COLUMNS = frozenset({"input_message", "output", "error"})
_FIGURE_COLUMNS = tuple(column for column in tasks.c if column.name not in _TEXT_COLUMNS)


def _in_window(statement: Select[Any], window: TaskWindow) -> Select[Any]:
    statement = statement.where(tasks.c.created_at >= window.start, tasks.c.created_at < window.end)
    if window.agent_type is not None:
        statement = statement.where(tasks.c.agent_type == window.agent_type)
    return statement


def session_ids(window: TaskWindow, after: str | None, limit: int) -> Select[Any]:
    """A page of the sessions with tasks in the window, in session id order."""
    statement = select(tasks.c.session_id).where(tasks.c.session_id.is_not(None))
    if after is not None:
        statement = statement.where(tasks.c.session_id > after)
    statement = _in_window(statement, window).group_by(tasks.c.session_id)
    return statement.order_by(tasks.c.session_id).limit(limit)


def session_tasks(window: TaskWindow, ids: Sequence[str]) -> Select[Any]:
    """The figure columns of those sessions' tasks in the window, in index order."""
    statement = _in_window(select(*_FIGURE_COLUMNS).where(tasks.c.session_id.in_(ids)), window)
    return statement.order_by(tasks.c.session_id, tasks.c.created_at, tasks.c.task_id)
