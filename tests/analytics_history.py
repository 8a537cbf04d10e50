"""Random task histories for the property test, and the check that analytics match the tasks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import msgspec
from hypothesis import strategies as st

from dashboard_api.domain.errors import DomainError
from dashboard_api.domain.model.session_analytics import SessionPerformance
from dashboard_api.domain.model.tasks import NewTask, Task, TaskPatch, TaskStatus
from dashboard_api.domain.services.analytics import AnalyticsService, Granularity, HistogramGroup
from dashboard_api.domain.services.tasks import TaskService
from tests import naive_analytics as naive

BASE = datetime(2026, 11, 20, tzinfo=UTC)
NOW = BASE + timedelta(days=3, hours=5, minutes=17)  # tasks are created before it
SPAN_US = int((NOW - BASE) / timedelta(microseconds=1))
AGENTS = ("coder", "planner")
MODELS = (None, "claude-sonnet-4", "unpriced-model")
SESSIONS = (None, "s-a", "s-b", "s-c")


@dataclass(frozen=True)
class Insert:
    agent_type: str
    model: str | None
    created_us: int
    running: bool
    session_id: str | None


@dataclass(frozen=True)
class Advance:
    pick: int
    status: TaskStatus
    started_after_us: int
    duration_us: int


@dataclass(frozen=True)
class Correct:
    pick: int
    cost_micros: int | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    model: str | None


@dataclass(frozen=True)
class Compact:
    pass


# Durations straddle the histogram's bounds, from sub-second to beyond the last one.
durations = st.one_of(
    st.integers(0, 3_000_000),
    st.integers(0, 20_000 * 1_000_000),
    st.sampled_from([1_000_000, 2_000_000, 60_000_000, 14_400_000_000, 14_400_000_001]),
)
advances = st.builds(
    Advance, st.integers(0, 1000), st.sampled_from(list(TaskStatus)),
    st.integers(0, 5_000_000), durations,
)  # fmt: skip
operations = st.one_of(
    advances,
    advances,  # twice: most histories should see tasks finish
    st.builds(
        Insert, st.sampled_from(AGENTS), st.sampled_from(MODELS), st.integers(0, SPAN_US - 1),
        st.booleans(), st.sampled_from(SESSIONS),
    ),
    st.builds(
        Correct, st.integers(0, 1000), st.one_of(st.none(), st.integers(0, 50_000_000)),
        st.integers(0, 200_000), st.integers(0, 50_000), st.integers(0, 100_000),
        st.sampled_from(MODELS),
    ),
    st.just(Compact()),
)  # fmt: skip
histories = st.lists(operations, min_size=3, max_size=40)
moments = st.one_of(
    st.integers(-3_600_000_000, SPAN_US + 3_600_000_000),
    st.integers(-3, 80).map(lambda hours: hours * 3_600_000_000),  # hour-aligned edges
    st.integers(-1, 4).map(lambda days: days * 86_400_000_000),  # day-aligned edges
).map(lambda us: BASE + timedelta(microseconds=us))
lengths = st.one_of(
    st.integers(1, 4 * 86_400_000_000),
    st.integers(1, 96).map(lambda hours: hours * 3_600_000_000),
    st.integers(1, 4).map(lambda days: days * 86_400_000_000),
).map(lambda us: timedelta(microseconds=us))
windows = st.builds(lambda start, length: [start, start + length], moments, lengths)


async def apply(
    history: list[object], service: TaskService, compact: Callable[[], Awaitable[object]]
) -> list[str]:
    """Run the history through the service; refused steps (illegal moves) change nothing."""
    ids: list[str] = []
    for step in history:
        try:
            if isinstance(step, Insert):
                created = BASE + timedelta(microseconds=step.created_us)
                new = NewTask(
                    agent_type=step.agent_type,
                    model=step.model,
                    created_at=created,
                    session_id=step.session_id,
                )
                task = await service.register(new)
                ids.append(task.task_id)
                if step.running:  # started by the engine a moment after it was created
                    started = created + timedelta(seconds=1)
                    running = TaskPatch(status=TaskStatus.RUNNING, started_at=started)
                    await service.update(task.task_id, running)
            elif isinstance(step, Compact):
                await compact()
            elif ids:
                task = await service.get(ids[step.pick % len(ids)])
                await service.update(task.task_id, _patch(task, step))
        except DomainError:
            pass
    return ids


def _patch(task: Task, step: object) -> TaskPatch:
    if isinstance(step, Advance):
        started = task.started_at or task.created_at + timedelta(microseconds=step.started_after_us)
        changes: dict[str, object] = {"status": step.status}
        if step.status.is_terminal:
            ended = task.created_at + timedelta(microseconds=step.duration_us)
            changes["completed_at"] = max(ended, task.started_at or ended)
        if task.started_at is None and step.status is not TaskStatus.QUEUED:
            changes["started_at"] = min(started, changes.get("completed_at", started))  # type: ignore[type-var]
        return TaskPatch(**changes)  # type: ignore[arg-type]
    assert isinstance(step, Correct)
    cost = msgspec.UNSET if step.cost_micros is None else Decimal(step.cost_micros) / 1_000_000
    return TaskPatch(
        cost_usd=cost,
        input_tokens=step.input_tokens,
        output_tokens=step.output_tokens,
        cache_read_tokens=step.cache_read_tokens,
        model=step.model,
    )


async def check_answers(
    analytics: AnalyticsService,
    tasks: list[Task],
    window: list[datetime],
    agent_type: str | None,
) -> None:
    """Every analytics answer equals the naive one over `tasks`: summary (windowed and all
    time), hourly and daily histograms with every grouping, performance with percentiles."""
    start, end = window
    for bounds in ((start, end), (None, None), (start, None), (None, end)):
        assert await analytics.summary(*bounds, agent_type) == naive.summary(
            tasks, *bounds, agent_type, NOW
        )
    for granularity in Granularity:
        for group in (None, *HistogramGroup):
            answer = await analytics.cost_histogram(start, end, granularity, group)
            assert answer == naive.histogram(tasks, start, end, granularity, group)
    for by_model in (False, True):
        page = await analytics.performance(
            start, end, by_model=by_model, agent_type=agent_type, limit=200
        )
        expected = naive.performance_groups(tasks, start, end, by_model, agent_type)
        assert [(item.agent_type, item.model or "") for item in page.items] == [
            (agent, model if by_model else "") for agent, model in expected
        ]
        for item, group in zip(page.items, expected.values(), strict=True):
            summary = naive.summary(group, None, None, None, NOW)
            assert item.tasks == summary.total_tasks
            assert item.completed_tasks == summary.completed_tasks
            assert item.failed_tasks == summary.failed_tasks
            assert item.success_rate == summary.success_rate
            assert item.finished_success_rate == summary.finished_success_rate
            assert item.avg_tokens == summary.avg_tokens
            assert item.cost_per_task_usd == naive.usd(summary.total_cost_usd / item.tasks)
            assert item.tasks_per_day == summary.total_tasks / ((end - start) / timedelta(days=1))
            for quantile, reported in (
                (0.50, item.duration_p50_seconds),
                (0.95, item.duration_p95_seconds),
                (0.99, item.duration_p99_seconds),
            ):
                assert naive.same_bucket(reported, naive.percentile_seconds(group, quantile))
    await check_sessions(analytics, tasks, window, agent_type)


async def check_sessions(
    analytics: AnalyticsService,
    tasks: list[Task],
    window: list[datetime],
    agent_type: str | None,
) -> None:
    """Performance per session, read in pages of two, equals the naive answer per session, in
    the window and over every task (where most sessions are)."""
    for start, end in (window, (BASE, NOW)):
        items: list[SessionPerformance] = []
        cursor = None
        while True:
            page = await analytics.session_performance(
                start, end, agent_type=agent_type, limit=2, cursor=cursor
            )
            items += page.items
            if (cursor := page.next_cursor) is None:
                break
        expected = naive.session_groups(tasks, start, end, agent_type)
        assert [item.session_id for item in items] == list(expected)
        for item, group in zip(items, expected.values(), strict=True):
            _check_session(item, group)


def _check_session(item: SessionPerformance, group: list[Task]) -> None:
    summary = naive.summary(group, None, None, None, NOW)
    assert item.agent_type == naive.main_agent_type(group)
    assert (item.tasks, item.completed_tasks, item.failed_tasks) == (
        summary.total_tasks,
        summary.completed_tasks,
        summary.failed_tasks,
    )
    assert (item.success_rate, item.finished_success_rate, item.avg_tokens) == (
        summary.success_rate,
        summary.finished_success_rate,
        summary.avg_tokens,
    )
    assert item.cost_usd == summary.total_cost_usd
    assert item.cost_per_task_usd == naive.usd(summary.total_cost_usd / item.tasks)
    assert item.started_at == min(task.created_at for task in group)
    ends = [task.completed_at for task in group if task.completed_at is not None]
    assert item.ended_at == (max(ends) if ends else None)
    for quantile, reported in (
        (0.50, item.duration_p50_seconds),
        (0.95, item.duration_p95_seconds),
        (0.99, item.duration_p99_seconds),
    ):
        assert naive.same_bucket(reported, naive.percentile_seconds(group, quantile))
