"""The TaskStore's session reads (performance per session): the same on every adapter."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import msgspec

from dashboard_api.domain.model.session_analytics import sessions_performance
from dashboard_api.domain.model.tasks import Task, TaskWindow
from dashboard_api.domain.services.analytics import AnalyticsService
from tests.contract.conftest import Backend
from tests.factories import EPOCH, TaskFactory

START = EPOCH + timedelta(days=1)
WINDOW = TaskWindow(start=START, end=START + timedelta(days=1))


def _task(session: str | None, hours: float, agent_type: str = "coder") -> Task:
    return TaskFactory.finished(
        session_id=session,
        agent_type=agent_type,
        created_at=START + timedelta(hours=hours),
        input_message="long text " * 100,
        output="the answer",
        error="none really",
        cost_usd=Decimal("0.123457"),
    )


# Ids sort the same under every collation: lowercase letters, digits and one dash.
TASKS = [
    _task("s-03", 1),
    _task("s-01", 2, "planner"),
    _task("s-01", 1),
    _task("s-02", 3),
    _task("s-05", 23.9, "planner"),
    _task("s-04", 24),  # the window's end is exclusive
    _task("s-06", -0.001),  # just before the window
    _task(None, 5),  # no session: never listed
    _task("s-02", 0),  # the window's start is inclusive
    TaskFactory.build(
        session_id="s-07", agent_type="coder", created_at=START + timedelta(hours=6)
    ),  # queued
]


async def _seed(backend: Backend) -> None:
    async with backend.unit_of_work() as uow:
        for task in TASKS:
            await uow.tasks.add(task)
        await uow.commit()


async def test_session_ids_page_in_order_through_sessions_of_the_window(backend: Backend) -> None:
    await _seed(backend)
    reads = backend.reads
    assert await reads.session_ids(WINDOW, after=None, limit=3) == ["s-01", "s-02", "s-03"]
    assert await reads.session_ids(WINDOW, after="s-03", limit=3) == ["s-05", "s-07"]
    assert await reads.session_ids(WINDOW, after="s-07", limit=3) == []
    planners = msgspec.structs.replace(WINDOW, agent_type="planner")
    assert await reads.session_ids(planners, after=None, limit=10) == ["s-01", "s-05"]


async def test_session_tasks_are_the_windows_tasks_without_text(backend: Backend) -> None:
    await _seed(backend)
    found = await backend.reads.session_tasks(WINDOW, ["s-01", "s-02", "s-04"])
    expected = sorted(
        (task for task in TASKS if task.session_id in ("s-01", "s-02")),
        key=lambda task: (task.session_id or "", task.created_at),
    )
    assert found == [
        msgspec.structs.replace(task, input_message="", output=None, error=None)
        for task in expected
    ]
    planners = msgspec.structs.replace(WINDOW, agent_type="planner")
    assert [task.task_id for task in await backend.reads.session_tasks(planners, ["s-01"])] == [
        TASKS[1].task_id
    ]
    assert await backend.reads.session_tasks(WINDOW, []) == []


async def test_performance_per_session_is_the_same_on_every_adapter(backend: Backend) -> None:
    await _seed(backend)
    analytics = AnalyticsService(rollups=backend.rollups, tasks=backend.reads)
    page = await analytics.session_performance(WINDOW.start, WINDOW.end, limit=200)
    inside = [
        task for task in TASKS if task.session_id and WINDOW.start <= task.created_at < WINDOW.end
    ]
    ids = sorted({task.session_id for task in inside if task.session_id})
    assert page.items == sessions_performance(ids, inside)
    assert [item.session_id for item in page.items] == ["s-01", "s-02", "s-03", "s-05", "s-07"]
    queued = page.items[-1]  # s-07: one task, not finished
    assert (queued.tasks, queued.ended_at, queued.duration_p50_seconds) == (1, None, None)
