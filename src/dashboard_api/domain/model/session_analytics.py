"""Performance per agent run session, from the session's tasks.

Sessions are unbounded in number, so they are no rollup key: a page of sessions is answered
from its tasks. Each task's figures are the very ones it adds to the rollups (`task_figures`),
summed and measured by the metric functions every other analytics answer uses, so a session's
success rate or p95 means exactly what an agent type's does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

import msgspec

from dashboard_api.domain.model import analytics as metric
from dashboard_api.domain.model.rollups import task_figures, total
from dashboard_api.domain.model.tasks import Task


class SessionPerformance(msgspec.Struct, kw_only=True, frozen=True):
    """One session over a window: the performance figures plus its span and total cost."""

    session_id: str
    agent_type: str
    tasks: int
    completed_tasks: int
    failed_tasks: int
    success_rate: float | None
    finished_success_rate: float | None
    duration_p50_seconds: float | None
    duration_p95_seconds: float | None
    duration_p99_seconds: float | None
    avg_tokens: float | None
    cost_per_task_usd: Decimal | None
    cost_usd: Decimal
    started_at: datetime
    ended_at: datetime | None


class SessionCursor(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """Keyset position in the session list: the last session a page showed (strict, so a
    cursor of the agent type list is refused rather than misread)."""

    session_id: str


def session_agent_type(tasks: Iterable[Task]) -> str:
    """The agent type most of the session's tasks ran on; a tie goes to the first by name."""
    counts = Counter(task.agent_type for task in tasks)
    if not counts:
        raise ValueError("a session without tasks has no agent type")
    return min(counts, key=lambda agent_type: (-counts[agent_type], agent_type))


def session_performance(session_id: str, tasks: Sequence[Task]) -> SessionPerformance:
    """The figures of one session's tasks (at least one)."""
    figures = total(task_figures(task) for task in tasks)
    ends = [task.completed_at for task in tasks if task.completed_at is not None]
    return SessionPerformance(
        session_id=session_id,
        agent_type=session_agent_type(tasks),
        tasks=figures.tasks,
        completed_tasks=figures.completed,
        failed_tasks=figures.failed,
        success_rate=metric.success_rate(figures),
        finished_success_rate=metric.finished_success_rate(figures),
        duration_p50_seconds=metric.duration_percentile(figures, 0.50),
        duration_p95_seconds=metric.duration_percentile(figures, 0.95),
        duration_p99_seconds=metric.duration_percentile(figures, 0.99),
        avg_tokens=metric.average_tokens(figures),
        cost_per_task_usd=metric.cost_per_task(figures),
        cost_usd=metric.total_cost(figures),
        started_at=min(task.created_at for task in tasks),
        ended_at=max(ends, default=None),
    )


def sessions_performance(
    session_ids: Sequence[str], tasks: Iterable[Task]
) -> list[SessionPerformance]:
    """One item per id that has tasks, in the order of `session_ids`."""
    by_session: dict[str, list[Task]] = {session_id: [] for session_id in session_ids}
    for task in tasks:
        found = None if task.session_id is None else by_session.get(task.session_id)
        if found is not None:
            found.append(task)
    return [
        session_performance(session_id, session_tasks)
        for session_id, session_tasks in by_session.items()
        if session_tasks
    ]
