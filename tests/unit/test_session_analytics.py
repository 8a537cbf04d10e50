"""Performance per session, on tasks whose figures are computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from dashboard_api.adapters.memory import MemoryDatabase, MemoryRollupStore, MemoryTaskStore
from dashboard_api.domain.errors import InvalidInput
from dashboard_api.domain.model.session_analytics import (
    SessionPerformance,
    session_agent_type,
    session_performance,
    sessions_performance,
)
from dashboard_api.domain.model.tasks import Task, TaskStatus
from dashboard_api.domain.services.analytics import AnalyticsService
from tests.factories import TaskFactory

T0 = datetime(2026, 11, 23, 10, tzinfo=UTC)


def _task(
    minute: int, agent_type: str = "coder", session: str | None = "s-1", **kw: object
) -> Task:
    return TaskFactory.build(
        agent_type=agent_type, session_id=session, created_at=T0 + timedelta(minutes=minute), **kw
    )


# A completed task of 45 s (bucket ≤60 s), a failed one of 30 min (bucket ≤1800 s), one running.
SESSION = [
    _task(0, status=TaskStatus.COMPLETED, cost_usd=Decimal("1.25"), input_tokens=100,
          output_tokens=20, completed_at=T0 + timedelta(seconds=45)),
    _task(5, status=TaskStatus.FAILED, cost_usd=Decimal("0.5"), input_tokens=10,
          completed_at=T0 + timedelta(minutes=35)),
    _task(10, agent_type="planner", status=TaskStatus.RUNNING),
]  # fmt: skip


def test_a_session_reads_like_its_tasks() -> None:
    assert session_performance("s-1", SESSION) == SessionPerformance(
        session_id="s-1",
        agent_type="coder",
        tasks=3,
        completed_tasks=1,
        failed_tasks=1,
        success_rate=1 / 3,
        finished_success_rate=0.5,
        duration_p50_seconds=60.0,  # rank 1 of 2 finished: the 45 s task
        duration_p95_seconds=1800.0,
        duration_p99_seconds=1800.0,
        avg_tokens=130 / 3,
        cost_per_task_usd=Decimal("0.583333"),
        cost_usd=Decimal("1.75"),
        started_at=T0,
        ended_at=T0 + timedelta(minutes=35),
    )


def test_a_session_with_nothing_finished_has_no_end_and_no_percentiles() -> None:
    item = session_performance("s-9", [_task(0), _task(1, status=TaskStatus.RUNNING)])
    assert (item.tasks, item.completed_tasks, item.success_rate) == (2, 0, 0.0)
    assert item.finished_success_rate is None
    assert item.duration_p50_seconds is None
    assert item.ended_at is None
    assert (item.cost_usd, item.cost_per_task_usd) == (Decimal("0"), Decimal("0"))


def test_the_session_agent_type_is_the_most_used_one_ties_by_name() -> None:
    assert session_agent_type(SESSION) == "coder"
    tied = [_task(0, "reviewer"), _task(1, "planner"), _task(2, "reviewer"), _task(3, "planner")]
    assert session_agent_type(tied) == "planner"
    with pytest.raises(ValueError, match="without tasks"):
        session_agent_type([])


def test_sessions_keep_the_page_order_and_skip_others_and_empty_ones() -> None:
    other = _task(1, session="s-0")
    items = sessions_performance(["s-2", "s-1", "s-3"], [*SESSION, other, _task(2, session="s-2")])
    assert [(item.session_id, item.tasks) for item in items] == [("s-2", 1), ("s-1", 3)]


async def test_the_service_pages_sessions_in_the_window_with_an_agent_type_filter() -> None:
    db = MemoryDatabase()
    stored = [
        *SESSION,
        _task(1, session="s-2"),
        _task(2, session="s-3", agent_type="planner"),
        _task(3, session=None),  # no session: never listed
        _task(-120, session="s-0"),  # before the window
    ]
    db.tasks.update({task.task_id: task for task in stored})
    service = AnalyticsService(
        rollups=MemoryRollupStore(db.rollups, lambda: db.tasks), tasks=MemoryTaskStore(db)
    )
    window = (T0, T0 + timedelta(hours=1))
    first = await service.session_performance(*window, limit=2)
    assert [item.session_id for item in first.items] == ["s-1", "s-2"]
    rest = await service.session_performance(*window, limit=2, cursor=first.next_cursor)
    assert ([item.session_id for item in rest.items], rest.next_cursor) == (["s-3"], None)
    planners = await service.session_performance(*window, agent_type="planner")
    assert [(item.session_id, item.tasks) for item in planners.items] == [("s-1", 1), ("s-3", 1)]
    with pytest.raises(InvalidInput) as refused:
        await service.session_performance(*window, cursor="bm9wZQ")
    assert refused.value.field == "cursor"
