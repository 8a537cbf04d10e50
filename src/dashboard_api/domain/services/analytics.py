"""Analytics use cases: summary, cost histogram and performance, all read from rollups."""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime, timedelta
from typing import TypeVar, cast

import msgspec

from dashboard_api.domain.clock import Clock, utc_now
from dashboard_api.domain.errors import InvalidInput
from dashboard_api.domain.model import analytics as metric
from dashboard_api.domain.model.analytics_answers import (
    CostBucket,
    CostFigures,
    CostHistogram,
    Granularity,
    HistogramGroup,
    Performance,
    PerformanceCursor,
    PerformanceGroup,
    Summary,
)
from dashboard_api.domain.model.buckets import day_of, hour_of
from dashboard_api.domain.model.rollups import EMPTY, NO_MODEL, Figures, RollupTotal
from dashboard_api.domain.model.session_analytics import (
    SessionCursor,
    SessionPerformance,
    sessions_performance,
)
from dashboard_api.domain.model.tasks import TaskWindow
from dashboard_api.domain.pagination import Page, decode_cursor
from dashboard_api.domain.ports import RollupStore, TaskStore

__all__ = [
    "AnalyticsService",
    "CostBucket",
    "CostFigures",
    "CostHistogram",
    "Granularity",
    "HistogramGroup",
    "Performance",
    "PerformanceGroup",
    "SessionPerformance",
    "Summary",
    "check_window",
    "trailing_window",
]

_Answer = TypeVar("_Answer")

# Longest windows a histogram may span: bounded answers whatever the client asks.
MAX_HOURLY_SPAN = timedelta(days=31)
MAX_DAILY_SPAN = timedelta(days=366)
MAX_PERFORMANCE_SPAN = timedelta(days=366)


def trailing_window(
    now: datetime, days: int, granularity: Granularity
) -> tuple[datetime, datetime]:
    """The last `days` days up to the end of the current hour or day: whole buckets only, so
    the answer comes from rollups alone (no future task exists to fall in the rest)."""
    step = timedelta(hours=1) if granularity is Granularity.HOUR else timedelta(days=1)
    end = (hour_of(now) if granularity is Granularity.HOUR else day_of(now)) + step
    return end - timedelta(days=days), end


def check_window(start: datetime | None, end: datetime | None, limit: timedelta | None) -> None:
    """A window runs forwards and, when `limit` is given, spans at most that long."""
    if start is not None and end is not None and start >= end:
        raise InvalidInput("from must be before to", field="from")
    if limit is not None and start is not None and end is not None and end - start > limit:
        raise InvalidInput(f"the window spans more than {limit.days} days", field="to")


class AnalyticsService:
    """Answers from rollups. With `cache_entries`, the last answers are kept in memory, each
    under the rollup watermark it was computed at: a request whose watermark read (one small
    query) finds nothing changed gets the same answer without summing anything again.
    Answers are never stale, across processes too, and are shared: never mutate one."""

    def __init__(
        self,
        *,
        rollups: RollupStore,
        tasks: TaskStore,
        clock: Clock = utc_now,
        cache_entries: int = 0,
    ) -> None:
        self._rollups = rollups
        self._tasks = tasks
        self._clock = clock
        self._cache_entries = cache_entries
        self._answers: OrderedDict[Hashable, object] = OrderedDict()

    def now(self) -> datetime:
        return self._clock()

    async def summary(
        self, start: datetime | None, end: datetime | None, agent_type: str | None = None
    ) -> Summary:
        check_window(start, end, None)
        today = day_of(self._clock())
        key = ("summary", start, end, agent_type, today)
        return await self._cached(key, lambda: self._summary(start, end, agent_type, today))

    async def _summary(
        self, start: datetime | None, end: datetime | None, agent_type: str | None, today: datetime
    ) -> Summary:
        window, today_figures = await self._figures(
            (start, end), (today, today + timedelta(days=1)), agent_type=agent_type
        )
        return Summary(
            total_cost_usd=metric.total_cost(window),
            total_tasks=window.tasks,
            completed_tasks=window.completed,
            failed_tasks=window.failed,
            success_rate=metric.success_rate(window),
            finished_success_rate=metric.finished_success_rate(window),
            avg_tokens=metric.average_tokens(window),
            avg_duration_seconds=metric.average_duration_seconds(window),
            today_cost_usd=metric.total_cost(today_figures),
            today_tasks=today_figures.tasks,
        )

    async def cost_histogram(
        self,
        start: datetime,
        end: datetime,
        granularity: Granularity,
        group_by: HistogramGroup | None = None,
    ) -> CostHistogram:
        hourly = granularity is Granularity.HOUR
        check_window(start, end, MAX_HOURLY_SPAN if hourly else MAX_DAILY_SPAN)
        key = ("histogram", start, end, granularity, group_by)
        return await self._cached(
            key, lambda: self._cost_histogram(start, end, granularity, group_by)
        )

    async def _cost_histogram(
        self,
        start: datetime,
        end: datetime,
        granularity: Granularity,
        group_by: HistogramGroup | None,
    ) -> CostHistogram:
        hourly = granularity is Granularity.HOUR
        truncate = hour_of if hourly else day_of
        step = timedelta(hours=1) if hourly else timedelta(days=1)
        totals = await self._read(
            start,
            end,
            use_days=not hourly,
            by_time=True,
            by_agent_type=group_by is HistogramGroup.AGENT_TYPE,
            by_model=group_by is HistogramGroup.MODEL,
        )
        sums: dict[datetime, dict[str, Figures]] = defaultdict(lambda: defaultdict(lambda: EMPTY))
        for total in totals:
            assert total.start is not None
            group = total.agent_type if group_by is HistogramGroup.AGENT_TYPE else total.model
            cell = sums[truncate(total.start)]
            cell[group or NO_MODEL] = cell[group or NO_MODEL] + total.figures
        for cell in sums.values():
            # A group whose tasks all moved to another group (a model correction) sums to zero.
            for group in [group for group, figures in cell.items() if figures.is_empty]:
                del cell[group]
        buckets = []
        moment = truncate(start)
        while moment < end:
            groups = sums.get(moment, {})
            whole = CostFigures.of(sum(groups.values(), EMPTY))
            buckets.append(
                CostBucket(
                    start=moment,
                    cost_usd=whole.cost_usd,
                    tasks=whole.tasks,
                    tokens=whole.tokens,
                    errors=whole.errors,
                    groups=None
                    if group_by is None
                    else {key: CostFigures.of(value) for key, value in sorted(groups.items())},
                )
            )
            moment += step
        return CostHistogram(granularity=granularity, buckets=buckets)

    async def performance(
        self,
        start: datetime,
        end: datetime,
        *,
        by_model: bool = False,
        agent_type: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[Performance]:
        """Per agent type (and model), ordered by those names; the list is keyset-paginated."""
        check_window(start, end, MAX_PERFORMANCE_SPAN)
        after = decode_cursor(cursor, PerformanceCursor) if cursor else None
        key = ("performance", start, end, by_model, agent_type, limit, after)
        return await self._cached(
            key, lambda: self._performance(start, end, by_model, agent_type, limit, after)
        )

    async def _performance(
        self,
        start: datetime,
        end: datetime,
        by_model: bool,
        agent_type: str | None,
        limit: int,
        after: PerformanceCursor | None,
    ) -> Page[Performance]:
        totals = await self._read(
            start, end, agent_type=agent_type, by_agent_type=True, by_model=by_model
        )
        groups: dict[tuple[str, str], Figures] = defaultdict(lambda: EMPTY)
        for total in totals:
            key = (total.agent_type or "", total.model if by_model and total.model else NO_MODEL)
            groups[key] = groups[key] + total.figures
        groups = {key: figures for key, figures in groups.items() if not figures.is_empty}
        start_after = None if after is None else (after.agent_type, after.model)
        keys = sorted(key for key in groups if start_after is None or key > start_after)
        page = Page.from_rows(keys, limit, lambda last: PerformanceCursor(*last))
        items = [_performance_of(key, groups[key], by_model, end - start) for key in page.items]
        return Page(items=items, next_cursor=page.next_cursor)

    async def totals_by_agent_type(self) -> dict[str, Figures]:
        """All-time figures per agent type, from the rollups only (what /metrics exports)."""
        groups: dict[str, Figures] = defaultdict(lambda: EMPTY)
        for total in await self._read(None, None, by_agent_type=True):
            groups[total.agent_type or ""] = groups[total.agent_type or ""] + total.figures
        return dict(groups)

    async def session_performance(
        self,
        start: datetime,
        end: datetime,
        *,
        agent_type: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[SessionPerformance]:
        """Per session with tasks created in the window, ordered by session id, keyset-paginated.

        Two index reads: the page of session ids, then the figure columns of their tasks."""
        check_window(start, end, MAX_PERFORMANCE_SPAN)
        after = decode_cursor(cursor, SessionCursor).session_id if cursor else None
        window = TaskWindow(start=start, end=end, agent_type=agent_type)
        ids = await self._tasks.session_ids(window, after=after, limit=limit + 1)
        page = Page.from_rows(ids, limit, lambda last: SessionCursor(last))
        items = sessions_performance(
            page.items, await self._tasks.session_tasks(window, page.items)
        )
        return Page(items=items, next_cursor=page.next_cursor)

    async def _cached(self, key: Hashable, compute: Callable[[], Awaitable[_Answer]]) -> _Answer:
        if not self._cache_entries:
            return await compute()
        # The watermark first: figures read after it are at least that recent.
        versioned = (key, await self._rollups.watermark())
        if versioned in self._answers:
            self._answers.move_to_end(versioned)
            return cast(_Answer, self._answers[versioned])
        answer = await compute()
        self._answers[versioned] = answer
        while len(self._answers) > self._cache_entries:
            self._answers.popitem(last=False)
        return answer

    async def _figures(
        self, *windows: tuple[datetime | None, datetime | None], agent_type: str | None
    ) -> list[Figures]:
        """The whole figures of each window, read together."""
        plans = [metric.plan_reads(start, end, use_days=True) for start, end in windows]
        queries = [
            msgspec.structs.replace(read, agent_type=agent_type) for plan in plans for read in plan
        ]
        results = await self._rollups.read(*queries) if queries else []
        figures = []
        for plan in plans:
            parts, results = results[: len(plan)], results[len(plan) :]
            figures.append(sum((total.figures for totals in parts for total in totals), EMPTY))
        return figures

    async def _read(
        self,
        start: datetime | None,
        end: datetime | None,
        *,
        use_days: bool = True,
        agent_type: str | None = None,
        by_time: bool = False,
        by_agent_type: bool = False,
        by_model: bool = False,
    ) -> list[RollupTotal]:
        queries = [
            msgspec.structs.replace(
                read,
                agent_type=agent_type,
                by_time=by_time,
                by_agent_type=by_agent_type,
                by_model=by_model,
            )
            for read in metric.plan_reads(start, end, use_days=use_days)
        ]
        if not queries:
            return []
        return [total for totals in await self._rollups.read(*queries) for total in totals]


def _performance_of(
    key: tuple[str, str], figures: Figures, by_model: bool, span: timedelta
) -> Performance:
    agent_type, model = key
    return Performance(
        agent_type=agent_type,
        model=(model or None) if by_model else None,
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
        cost_per_hour_usd=metric.cost_per_hour(figures, span),
        tasks_per_day=metric.tasks_per_day(figures, span),
    )
