"""Analytics use cases: summary, cost histogram and performance, all read from rollups."""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

import msgspec

from dashboard_api.domain import analytics as metric
from dashboard_api.domain.analytics_answers import (
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
from dashboard_api.domain.clock import Clock, utc_now
from dashboard_api.domain.errors import InvalidInput
from dashboard_api.domain.pagination import Page, decode_cursor, encode_cursor
from dashboard_api.domain.ports import (
    RollupQuery,
    RollupSource,
    RollupStore,
    RollupTotal,
    RollupVersion,
    TaskStore,
)
from dashboard_api.domain.rollups import EMPTY, NO_MODEL, Figures, day_of, hour_of
from dashboard_api.domain.session_analytics import (
    SessionCursor,
    SessionPerformance,
    sessions_performance,
)
from dashboard_api.domain.tasks import TaskWindow

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
    """Answers from rollups. With `cache_entries`, the last answers and the totals of their
    parts are kept in memory, each under the rollup versions of the days it covers: a request
    whose versions read (one small query) finds nothing changed in those days gets the same
    answer without summing anything again, and one after a change to today re-reads only the
    part over yesterday and today. Answers are never stale, across processes too, and are
    shared: never mutate one."""

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
        self._parts: OrderedDict[Hashable, list[RollupTotal]] = OrderedDict()

    def now(self) -> datetime:
        return self._clock()

    async def summary(
        self, start: datetime | None, end: datetime | None, agent_type: str | None = None
    ) -> Summary:
        check_window(start, end, None)
        today = day_of(self._clock())
        whole = _queries(start, end, agent_type=agent_type)
        today_reads = _queries(today, today + timedelta(days=1), agent_type=agent_type)

        def answer(results: list[list[RollupTotal]]) -> Summary:
            window = _sum(results[: len(whole)])
            today_figures = _sum(results[len(whole) :])
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

        key = ("summary", start, end, agent_type, today)
        return await self._answer(key, [*whole, *today_reads], answer)

    async def cost_histogram(
        self,
        start: datetime,
        end: datetime,
        granularity: Granularity,
        group_by: HistogramGroup | None = None,
    ) -> CostHistogram:
        hourly = granularity is Granularity.HOUR
        check_window(start, end, MAX_HOURLY_SPAN if hourly else MAX_DAILY_SPAN)
        queries = _queries(
            start,
            end,
            use_days=not hourly,
            by_time=True,
            by_agent_type=group_by is HistogramGroup.AGENT_TYPE,
            by_model=group_by is HistogramGroup.MODEL,
        )
        key = ("histogram", start, end, granularity, group_by)
        return await self._answer(
            key,
            queries,
            lambda results: _cost_histogram(start, end, granularity, group_by, _flat(results)),
        )

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
        queries = _queries(start, end, agent_type=agent_type, by_agent_type=True, by_model=by_model)
        key = ("performance", start, end, by_model, agent_type, limit, after)
        return await self._answer(
            key,
            queries,
            lambda results: _performance(_flat(results), end - start, by_model, limit, after),
        )

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
        page = ids[:limit]
        items = sessions_performance(page, await self._tasks.session_tasks(window, page))
        more = len(ids) > limit
        return Page(
            items=items, next_cursor=encode_cursor(SessionCursor(page[-1])) if more else None
        )

    async def _answer(
        self,
        key: Hashable,
        queries: list[RollupQuery],
        answer: Callable[[list[list[RollupTotal]]], _Answer],
    ) -> _Answer:
        """The answer made of the totals of `queries` (one list each, in order).

        With the cache on, every query is split at the start of yesterday (`_RECENT`) into
        parts, and the store's versions of the parts' days (one small query, read before any
        figure) decide what is read again:
        - whole answers are kept under the parts' `changes`: a hit costs that query alone;
        - the compacted rows of each part are kept under its `compacted` version, and only
          the part's pending changes are read beside them (a read after a write: a few delta
          rows). Compaction re-reads the compacted rows of the days it folded into, once;
        - older days do not move when a task finishes now, so their parts stay in memory."""
        if not self._cache_entries:
            return answer(await self._rollups.read(*queries) if queries else [])
        boundary = day_of(self._clock()) - _RECENT
        split = [_split(query, boundary) for query in queries]
        parts = [part for pieces in split for part in pieces]
        # The versions first: figures read after them are at least that recent.
        versions = await self._rollups.versions(*(part.days for part in parts))
        versioned = (key, boundary, tuple(version.changes for version in versions))
        if versioned in self._answers:
            self._answers.move_to_end(versioned)
            return cast(_Answer, self._answers[versioned])
        totals = await self._part_totals(parts, versions)
        sizes = iter(totals)
        computed = answer([[t for _ in pieces for t in next(sizes)] for pieces in split])
        _remember(self._answers, versioned, computed, self._cache_entries)
        return computed

    async def _part_totals(
        self, parts: list[RollupQuery], versions: list[RollupVersion]
    ) -> list[list[RollupTotal]]:
        """Each part's totals as of (at least) its version: compacted rows from memory when
        their version is kept, else read and kept; pending changes read when there are any."""
        size = self._cache_entries * _PARTS_PER_ANSWER
        keys: list[Hashable] = []
        for part, version in zip(parts, versions, strict=True):
            # Tasks are read whole: their parts are kept under every change.
            tasks = part.source is RollupSource.TASKS
            keys.append((part, version.changes if tasks else version.compacted))
        compacted: dict[int, list[RollupTotal]] = {}
        for index, part_key in enumerate(keys):
            if part_key in self._parts:
                self._parts.move_to_end(part_key)
                compacted[index] = self._parts[part_key]
        unread = [index for index in range(len(parts)) if index not in compacted]
        if unread:
            read = await self._rollups.read(*(_compacted(parts[index]) for index in unread))
            for index, part_totals in zip(unread, read, strict=True):
                compacted[index] = part_totals
                _remember(self._parts, keys[index], part_totals, size)
        pending = [
            index
            for index, (part, version) in enumerate(zip(parts, versions, strict=True))
            if version.pending and part.source is not RollupSource.TASKS
        ]
        totals = [compacted[index] for index in range(len(parts))]
        if not pending:
            return totals
        again = []
        read_pending = await self._rollups.read_pending(*(parts[index] for index in pending))
        for index, changes in zip(pending, read_pending, strict=True):
            if changes.compacted == versions[index].compacted:
                totals[index] = [*totals[index], *changes.totals]
            else:  # compacted in between: the kept rows are older than these changes
                again.append(index)
        if again:
            for index, part_totals in zip(
                again, await self._rollups.read(*(parts[index] for index in again)), strict=True
            ):
                totals[index] = part_totals
        return totals

    async def _read(
        self,
        start: datetime | None,
        end: datetime | None,
        *,
        agent_type: str | None = None,
        by_agent_type: bool = False,
    ) -> list[RollupTotal]:
        queries = _queries(start, end, agent_type=agent_type, by_agent_type=by_agent_type)
        return _flat(await self._rollups.read(*queries)) if queries else []


# Where answers are split into parts cached apart: tasks created yesterday or today change all
# the time (a task finishing now), older days only with a late event.
_RECENT = timedelta(days=1)
_PARTS_PER_ANSWER = 4  # the part cache holds this many entries per answer the cache holds


def _remember(cache: OrderedDict[Any, Any], key: Hashable, value: object, size: int) -> None:
    cache[key] = value
    while len(cache) > size:
        cache.popitem(last=False)


def _queries(
    start: datetime | None,
    end: datetime | None,
    *,
    use_days: bool = True,
    agent_type: str | None = None,
    by_time: bool = False,
    by_agent_type: bool = False,
    by_model: bool = False,
) -> list[RollupQuery]:
    return [
        msgspec.structs.replace(
            read,
            agent_type=agent_type,
            by_time=by_time,
            by_agent_type=by_agent_type,
            by_model=by_model,
        )
        for read in metric.plan_reads(start, end, use_days=use_days)
    ]


def _split(query: RollupQuery, at: datetime) -> list[RollupQuery]:
    """A rollup read crossing `at` (a day boundary) as two reads, one each side."""
    if query.source is RollupSource.TASKS:
        return [query]  # at most an hour of tasks
    if (query.start is not None and query.start >= at) or (
        query.end is not None and query.end <= at
    ):
        return [query]
    return [msgspec.structs.replace(query, end=at), msgspec.structs.replace(query, start=at)]


def _compacted(query: RollupQuery) -> RollupQuery:
    if query.source is RollupSource.TASKS:
        return query
    return msgspec.structs.replace(query, compacted_only=True)


def _flat(results: list[list[RollupTotal]]) -> list[RollupTotal]:
    return [total for totals in results for total in totals]


def _sum(results: list[list[RollupTotal]]) -> Figures:
    return sum((total.figures for totals in results for total in totals), EMPTY)


def _performance(
    totals: list[RollupTotal],
    span: timedelta,
    by_model: bool,
    limit: int,
    after: PerformanceCursor | None,
) -> Page[Performance]:
    groups: dict[tuple[str, str], Figures] = defaultdict(lambda: EMPTY)
    for total in totals:
        key = (total.agent_type or "", total.model if by_model and total.model else NO_MODEL)
        groups[key] = groups[key] + total.figures
    groups = {key: figures for key, figures in groups.items() if not figures.is_empty}
    start_after = None if after is None else (after.agent_type, after.model)
    keys = sorted(key for key in groups if start_after is None or key > start_after)
    items = [_performance_of(key, groups[key], by_model, span) for key in keys[:limit]]
    more = len(keys) > limit
    next_cursor = encode_cursor(PerformanceCursor(*keys[limit - 1])) if more else None
    return Page(items=items, next_cursor=next_cursor)


def _cost_histogram(
    start: datetime,
    end: datetime,
    granularity: Granularity,
    group_by: HistogramGroup | None,
    totals: list[RollupTotal],
) -> CostHistogram:
    hourly = granularity is Granularity.HOUR
    truncate = hour_of if hourly else day_of
    step = timedelta(hours=1) if hourly else timedelta(days=1)
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
