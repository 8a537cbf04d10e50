"""The analytics answer cache per day range, on every backend: a change invalidates only the
answers (and the parts of answers) over the days it touched, and never leaves one stale."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from dashboard_api.domain.model.rollups import (
    CompactedTotals,
    DayRange,
    RollupChange,
    RollupQuery,
    RollupState,
    RollupTotal,
    Watermark,
)
from dashboard_api.domain.model.tasks import NewTask, Task, TaskPatch, TaskStatus
from dashboard_api.domain.ports import RollupStore
from dashboard_api.domain.services.analytics import AnalyticsService, Granularity
from dashboard_api.domain.services.tasks import TaskService
from tests import naive_analytics as naive
from tests.contract.conftest import Backend
from tests.unit.fakes import RecordingBus

NOW = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
TODAY = NOW.replace(hour=0, minute=30)  # 00:30 today
DAY = timedelta(days=1)
MIDNIGHT = datetime(2026, 11, 24, tzinfo=UTC)
CLOSED = (MIDNIGHT - 5 * DAY, MIDNIGHT - 2 * DAY)  # ends before yesterday
MONTH = (MIDNIGHT - 29 * DAY, MIDNIGHT + DAY)  # the 30-day histogram's window


class CountingRollups:
    """The backend's rollup store, remembering which parts were read from it."""

    def __init__(self, inner: RollupStore) -> None:
        self._inner = inner
        self.parts: list[RollupQuery] = []
        self.states: list[str] = []  # per state read: "unchanged" (the watermark alone) or "read"

    async def record(self, changes: Sequence[RollupChange]) -> None:
        await self._inner.record(changes)

    async def state(
        self, *days: DayRange, unchanged_since: Watermark | None = None
    ) -> RollupState | None:
        state = await self._inner.state(*days, unchanged_since=unchanged_since)
        self.states.append("unchanged" if state is None else "read")
        return state

    async def read(self, *queries: RollupQuery) -> list[list[RollupTotal]]:
        self.parts.extend(queries)
        return await self._inner.read(*queries)

    async def read_compacted(self, *queries: RollupQuery) -> list[CompactedTotals]:
        self.parts.extend(queries)
        return await self._inner.read_compacted(*queries)

    def clear(self) -> None:
        self.parts.clear()
        self.states.clear()

    async def rebuild(self) -> int:
        return await self._inner.rebuild()


def _tasks_service(backend: Backend) -> TaskService:
    return TaskService(
        unit_of_work=backend.unit_of_work,
        reads=backend.reads,
        bus=RecordingBus(),
        clock=lambda: NOW,
    )


async def _task(
    service: TaskService, created_at: datetime, *, finish: bool = True, cost: str = "0.25"
) -> Task:
    task = await service.register(NewTask(agent_type="coder", model="m", created_at=created_at))
    if finish:
        patch = TaskPatch(status=TaskStatus.COMPLETED, cost_usd=Decimal(cost), input_tokens=10)
        task = await service.update(task.task_id, patch)
    return task


async def _answers(analytics: AnalyticsService, window: tuple[datetime, datetime]) -> list[object]:
    """Every answer over the window but the summary (which always covers today too)."""
    return [
        await analytics.cost_histogram(*window, Granularity.DAY),
        await analytics.cost_histogram(*window, Granularity.HOUR),
        await analytics.performance(*window, by_model=True),
    ]


def _expected(tasks: list[Task], window: tuple[datetime, datetime]) -> list[object]:
    return [
        naive.histogram(tasks, *window, Granularity.DAY, None),
        naive.histogram(tasks, *window, Granularity.HOUR, None),
    ]


async def _history(backend: Backend) -> tuple[TaskService, list[Task]]:
    service = _tasks_service(backend)
    tasks = [await _task(service, MIDNIGHT - days * DAY + timedelta(hours=9)) for days in range(6)]
    await backend.compact()
    return service, tasks


def _counted_analytics(backend: Backend) -> tuple[CountingRollups, AnalyticsService]:
    """An answer cache over the backend's rollups, counting what each answer reads."""
    rollups = CountingRollups(backend.rollups)
    analytics = AnalyticsService(
        rollups=rollups, tasks=backend.reads, clock=lambda: NOW, cache_entries=32
    )
    return rollups, analytics


async def test_a_write_today_leaves_answers_over_closed_days_cached_and_correct(
    backend: Backend,
) -> None:
    service, tasks = await _history(backend)
    rollups, analytics = _counted_analytics(backend)
    closed = await _answers(analytics, CLOSED)
    await _answers(analytics, MONTH)
    assert await analytics.summary(None, None)
    tasks.append(await _task(service, NOW - timedelta(minutes=5)))  # a task finishing today
    rollups.clear()

    assert await _answers(analytics, CLOSED) == closed  # served from the cache
    assert rollups.parts == []
    assert closed[:2] == _expected(tasks, CLOSED)
    # Answers over today re-read only the part over yesterday and today, and see the task.
    month = await _answers(analytics, MONTH)
    everything = await analytics.summary(None, None)
    # On SQL the write is a pending change the state query brings along: nothing else is read.
    # Memory applied it to its rows as it committed, and reads the recent part's rows again.
    assert (rollups.parts == []) == (backend.name != "memory")
    assert all(part.start is not None and part.start >= MIDNIGHT - DAY for part in rollups.parts)
    assert month[:2] == _expected(tasks, MONTH)
    assert everything == naive.summary(tasks, None, None, None, NOW)
    # Compaction moves no figure: the answers stand, nothing is read again.
    await backend.compact()
    rollups.clear()
    assert await _answers(analytics, MONTH) == month
    assert await analytics.summary(None, None) == everything
    assert rollups.parts == []
    # The next write reads the compacted rows of the recent days once more (compaction moved
    # them), then only pending changes.
    for _ in range(2):
        tasks.append(await _task(service, NOW - timedelta(minutes=1)))
        rollups.clear()
        assert (await _answers(analytics, MONTH))[:2] == _expected(tasks, MONTH)
        assert all(
            part.start is not None and part.start >= MIDNIGHT - DAY for part in rollups.parts
        )
    if backend.name != "memory":
        assert rollups.parts == []


async def test_a_hit_reads_the_watermark_alone_until_anything_changes(
    backend: Backend,
) -> None:
    service, tasks = await _history(backend)
    rollups, analytics = _counted_analytics(backend)
    closed, month = await _answers(analytics, CLOSED), await _answers(analytics, MONTH)
    rollups.clear()
    assert await _answers(analytics, CLOSED) == closed
    assert await _answers(analytics, MONTH) == month
    assert rollups.states == ["unchanged"] * 6
    assert rollups.parts == []
    # A write anywhere moves the watermark: the versions are read, once per answer. Answers
    # over closed days are still served from the cache (their versions did not move), and
    # the next hit reads the watermark alone again.
    tasks.append(await _task(service, NOW - timedelta(minutes=5)))
    rollups.clear()
    assert await _answers(analytics, CLOSED) == closed
    assert rollups.parts == []
    assert (await _answers(analytics, MONTH))[:2] == _expected(tasks, MONTH)
    assert rollups.states == ["read"] * 6
    rollups.clear()
    assert await _answers(analytics, CLOSED) == closed
    assert (await _answers(analytics, MONTH))[:2] == _expected(tasks, MONTH)
    assert rollups.states == ["unchanged"] * 6
    # A compaction on SQL moves it too (it removes deltas), but no answer: nothing is read
    # but the versions. Memory has nothing pending, so nothing to compact.
    await backend.compact()
    rollups.clear()
    assert await _answers(analytics, MONTH) == await _answers(analytics, MONTH)
    moved = ["unchanged" if backend.name == "memory" else "read"]
    assert rollups.states == moved * 3 + ["unchanged"] * 3
    assert rollups.parts == []


async def test_a_late_event_invalidates_exactly_the_answers_over_its_day(
    backend: Backend,
) -> None:
    service, tasks = await _history(backend)
    running = await _task(service, MIDNIGHT - 4 * DAY + timedelta(hours=23), finish=False)
    tasks.append(running)
    rollups, analytics = _counted_analytics(backend)
    untouched = (MIDNIGHT - 3 * DAY, MIDNIGHT - 2 * DAY)
    before = await _answers(analytics, untouched)
    stale = await _answers(analytics, CLOSED)
    await _answers(analytics, MONTH)
    # Four days later the task finishes: its day, four days back, changes.
    finished = await service.update(
        running.task_id, TaskPatch(status=TaskStatus.FAILED, cost_usd=Decimal("1.5"))
    )
    tasks[-1] = finished
    rollups.clear()

    assert await _answers(analytics, untouched) == before
    assert rollups.parts == []
    after = await _answers(analytics, CLOSED)
    assert after != stale
    assert after[:2] == _expected(tasks, CLOSED)
    assert (await _answers(analytics, MONTH))[:2] == _expected(tasks, MONTH)
    assert await analytics.summary(None, None) == naive.summary(tasks, None, None, None, NOW)
    # Compacted, the late event moves the closed days' rows: still correct, nothing stale.
    await backend.compact()
    tasks.append(await _task(service, MIDNIGHT - 5 * DAY + timedelta(hours=1)))
    assert (await _answers(analytics, CLOSED))[:2] == _expected(tasks, CLOSED)
    assert MIDNIGHT - 5 * DAY in {part.start for part in rollups.parts}
