"""Analytics use cases: summary, cost histogram and performance, all read from rollups."""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Callable, Hashable, Iterable
from datetime import datetime, timedelta
from typing import Any, NamedTuple, TypeVar, cast

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
from dashboard_api.domain.model.rollups import (
    EMPTY,
    NO_MODEL,
    DayRange,
    Figures,
    FigureSet,
    PendingChanges,
    RollupQuery,
    RollupSource,
    RollupState,
    RollupTotal,
    Watermark,
    costs_of,
)
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
        self._plans: OrderedDict[Hashable, _Plan] = OrderedDict()
        self._latest: OrderedDict[Hashable, _Latest] = OrderedDict()

    def now(self) -> datetime:
        return self._clock()

    async def summary(
        self, start: datetime | None, end: datetime | None, agent_type: str | None = None
    ) -> Summary:
        check_window(start, end, None)
        today = day_of(self._clock())

        def plan() -> list[RollupQuery]:
            # Today is one whole day: one read, the last.
            totals = FigureSet.TOTALS  # no duration histogram
            (today_read,) = _queries(
                today, today + timedelta(days=1), agent_type=agent_type, figures=totals
            )
            window = _queries(start, end, agent_type=agent_type, now=self._clock(), figures=totals)
            return [*window, today_read]

        def answer(results: list[list[RollupTotal]]) -> Summary:
            window = _sum(results[:-1])
            today_figures = _sum(results[-1:])
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
        return await self._answer(key, plan, answer)

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
        return await self._answer(
            key,
            lambda: _queries(
                start,
                end,
                now=self._clock(),
                use_days=not hourly,
                by_time=True,
                by_agent_type=group_by is HistogramGroup.AGENT_TYPE,
                by_model=group_by is HistogramGroup.MODEL,
                figures=FigureSet.COSTS,
            ),
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
        key = ("performance", start, end, by_model, agent_type, limit, after)
        return await self._answer(
            key,
            lambda: _queries(
                start,
                end,
                now=self._clock(),
                agent_type=agent_type,
                by_agent_type=True,
                by_model=by_model,
            ),
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
        page = Page.from_rows(ids, limit, lambda last: SessionCursor(last))
        items = sessions_performance(
            page.items, await self._tasks.session_tasks(window, page.items)
        )
        return Page(items=items, next_cursor=page.next_cursor)

    async def _answer(
        self,
        key: Hashable,
        plan: Callable[[], list[RollupQuery]],
        answer: Callable[[list[list[RollupTotal]]], _Answer],
    ) -> _Answer:
        """The answer made of the totals of the queries `plan` gives (one list each, in order).

        With the cache on, every query is split at the start of yesterday (`_RECENT`) into
        parts, and where the rollups of the parts' days stand (`RollupStore.state`: one small
        query, read before any figure) decides what is read again:
        - the last answer per key is kept under the rollup watermark, which moves with every
          change anywhere: while it stands, a hit costs the watermark's read alone (the rest of
          the state query is not evaluated);
        - whole answers are kept under the parts' changes (folded + pending): after a change
          elsewhere (today, while the answer is over closed days) or a compaction, a hit costs
          that query alone;
        - the compacted rows of each part are kept under `(rebuilds, folded)` of its days and
          the pending changes come with the state: a read after a write reads nothing more. A
          compaction re-reads the compacted rows of the parts over the days it folded into;
        - older days do not move when a task finishes now, so their parts stay in memory."""
        if not self._cache_entries:
            queries = plan()
            return answer(_signed(queries, await self._rollups.read(*queries)) if queries else [])
        boundary = day_of(self._clock()) - _RECENT
        slot = (key, boundary)
        latest = self._latest.get(slot)
        planned = latest.plan if latest is not None else self._plans.get(slot)
        if planned is None:
            planned = _Plan.of(plan(), boundary)
            _remember(self._plans, slot, planned, self._cache_entries)
        # The state first: figures read after it are at least that recent. A hit is the common
        # case: the watermark alone says that nothing at all changed since this answer was
        # last given, and then nothing else is read or checked. The versions per range and the
        # pending changes cost more on both sides, the more so the more deltas are pending
        # (docs/benchmarks-analytics.md: 0.8 against 0.15 ms of CPU per hit with 200 pending).
        state = await self._rollups.state(
            *planned.days, unchanged_since=None if latest is None else latest.watermark
        )
        if state is None:
            assert latest is not None
            self._latest.move_to_end(slot)
            return cast(_Answer, latest.answer)
        pending = [_pending_in(days, state.pending) for days in planned.days]
        changes = tuple(
            folded + sum(change.changes for change in changes)
            for folded, changes in zip(state.folded, pending, strict=True)
        )
        versioned = (key, boundary, state.rebuilds, changes)
        if versioned in self._answers:
            self._answers.move_to_end(versioned)
            computed = cast(_Answer, self._answers[versioned])
        else:
            totals = iter(
                _signed(planned.parts, await self._part_totals(planned.parts, state, pending))
            )
            computed = answer(
                [[t for _ in range(size) for t in next(totals)] for size in planned.sizes]
            )
            _remember(self._answers, versioned, computed, self._cache_entries)
        # Exact as of `state` (figures read since are the same unless the watermark moved).
        _remember(
            self._latest, slot, _Latest(state.watermark, computed, planned), self._cache_entries
        )
        return computed

    async def _part_totals(
        self, parts: list[RollupQuery], state: RollupState, pending: list[list[PendingChanges]]
    ) -> list[list[RollupTotal]]:
        """Each part's totals as of (at least) `state`: compacted rows from memory when kept
        under the part's `(rebuilds, folded)`, else read and kept, plus its pending changes."""
        size = self._cache_entries * _PARTS_PER_ANSWER
        keys: list[Hashable] = []
        for part, folded, changes in zip(parts, state.folded, pending, strict=True):
            if part.source is RollupSource.TASKS:  # tasks are read whole, kept per change
                keys.append((part, state.rebuilds, folded + sum(c.changes for c in changes)))
            else:
                keys.append((part, state.rebuilds, folded))
        kept: dict[int, list[RollupTotal]] = {}
        for index, part_key in enumerate(keys):
            if part_key in self._parts:
                self._parts.move_to_end(part_key)
                kept[index] = self._parts[part_key]
        whole: set[int] = set()  # read with their pending changes
        tasks = [
            i for i, part in enumerate(parts) if i not in kept and part.source is RollupSource.TASKS
        ]
        rows = [
            i
            for i, part in enumerate(parts)
            if i not in kept and part.source is not RollupSource.TASKS
        ]
        if tasks:
            for index, read in zip(
                tasks, await self._rollups.read(*(parts[i] for i in tasks)), strict=True
            ):
                kept[index] = read
                whole.add(index)
                _remember(self._parts, keys[index], read, size)
        if rows:
            again = []
            for index, compacted in zip(
                rows, await self._rollups.read_compacted(*(parts[i] for i in rows)), strict=True
            ):
                if compacted.compacted == (state.rebuilds, state.folded[index]):
                    kept[index] = compacted.totals
                    _remember(self._parts, keys[index], compacted.totals, size)
                else:  # compacted since `state`: its pending changes are in these rows now
                    again.append(index)
            if again:
                for index, read in zip(
                    again, await self._rollups.read(*(parts[i] for i in again)), strict=True
                ):
                    kept[index] = read
                    whole.add(index)
        return [
            kept[index]
            if index in whole or part.source is RollupSource.TASKS or not pending[index]
            else [*kept[index], *_pending_totals(part, pending[index])]
            for index, part in enumerate(parts)
        ]

    async def _read(
        self,
        start: datetime | None,
        end: datetime | None,
        *,
        agent_type: str | None = None,
        by_agent_type: bool = False,
    ) -> list[RollupTotal]:
        queries = _queries(start, end, agent_type=agent_type, by_agent_type=by_agent_type)
        return _flat(_signed(queries, await self._rollups.read(*queries))) if queries else []


# Where answers are split into parts cached apart: tasks created yesterday or today change all
# the time (a task finishing now), older days only with a late event.
_RECENT = timedelta(days=1)
_PARTS_PER_ANSWER = 4  # the part cache holds this many entries per answer the cache holds


def _remember(cache: OrderedDict[Any, Any], key: Hashable, value: object, size: int) -> None:
    cache[key] = value
    while len(cache) > size:
        cache.popitem(last=False)


def _signed(
    queries: list[RollupQuery], results: list[list[RollupTotal]]
) -> list[list[RollupTotal]]:
    """The totals of each query, those of a `negate` query taken away."""
    return [
        [total._replace(figures=EMPTY - total.figures) for total in totals]
        if query.negate
        else totals
        for query, totals in zip(queries, results, strict=True)
    ]


def _queries(
    start: datetime | None,
    end: datetime | None,
    *,
    now: datetime | None = None,
    use_days: bool = True,
    agent_type: str | None = None,
    by_time: bool = False,
    by_agent_type: bool = False,
    by_model: bool = False,
    figures: FigureSet = FigureSet.ALL,
) -> list[RollupQuery]:
    return [
        msgspec.structs.replace(
            read,
            agent_type=agent_type,
            by_time=by_time,
            by_agent_type=by_agent_type,
            by_model=by_model,
            figures=figures,
        )
        for read in metric.plan_reads(start, end, use_days=use_days, now=now)
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


class _Latest(NamedTuple):
    """The last answer given for a key, the rollup watermark it was given under, its plan."""

    watermark: Watermark
    answer: object
    plan: _Plan


class _Plan(NamedTuple):
    """An answer's reads, split into parts: how many parts each read has, and their days."""

    sizes: list[int]
    parts: list[RollupQuery]
    days: list[DayRange]

    @classmethod
    def of(cls, queries: list[RollupQuery], boundary: datetime) -> _Plan:
        split = [_split(query, boundary) for query in queries]
        parts = [part for pieces in split for part in pieces]
        return cls([len(pieces) for pieces in split], parts, [part.days for part in parts])


def _pending_in(days: DayRange, pending: list[PendingChanges]) -> list[PendingChanges]:
    return [
        change
        for change in pending
        if (days.start is None or change.hour >= days.start)
        and (days.end is None or change.hour < days.end)
    ]


def _pending_totals(query: RollupQuery, pending: list[PendingChanges]) -> list[RollupTotal]:
    """What the pending changes add to a DAYS or HOURS read, grouped as it asks."""
    truncate = day_of if query.source is RollupSource.DAYS else hour_of
    groups: dict[tuple[datetime | None, str | None, str | None], Figures] = defaultdict(
        lambda: EMPTY
    )
    for change in pending:
        if query.start is not None and change.hour < query.start:
            continue
        if query.end is not None and change.hour >= query.end:
            continue
        if query.agent_type is not None and change.agent_type != query.agent_type:
            continue
        group = (
            truncate(change.hour) if query.by_time else None,
            change.agent_type if query.by_agent_type else None,
            change.model if query.by_model else None,
        )
        groups[group] = groups[group] + change.figures
    return [RollupTotal(*group, figures) for group, figures in groups.items()]


def _flat(results: list[list[RollupTotal]]) -> list[RollupTotal]:
    return [total for totals in results for total in totals]


def _sum(results: list[list[RollupTotal]]) -> Figures:
    return _total(total.figures for totals in results for total in totals)


def _total(figures: Iterable[Figures]) -> Figures:
    """The sum, without adding the first one to EMPTY."""
    result = None
    for item in figures:
        result = item if result is None else result + item
    return EMPTY if result is None else result


def _performance(
    totals: list[RollupTotal],
    span: timedelta,
    by_model: bool,
    limit: int,
    after: PerformanceCursor | None,
) -> Page[Performance]:
    groups: dict[tuple[str, str], Figures] = {}
    for total in totals:
        key = (total.agent_type or "", total.model if by_model and total.model else NO_MODEL)
        groups[key] = groups[key] + total.figures if key in groups else total.figures
    groups = {key: figures for key, figures in groups.items() if not figures.is_empty}
    start_after = None if after is None else (after.agent_type, after.model)
    keys = sorted(key for key in groups if start_after is None or key > start_after)
    page = Page.from_rows(keys, limit, lambda last: PerformanceCursor(*last))
    items = [_performance_of(key, groups[key], by_model, span) for key in page.items]
    return Page(items=items, next_cursor=page.next_cursor)


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
        key = group or NO_MODEL
        # Adding to EMPTY is a copy: most cells hold one total (30 of 60 additions saved).
        cell[key] = cell[key] + total.figures if key in cell else total.figures
    for cell in sums.values():
        # A group whose tasks all moved to another group (a model correction) sums to zero. Its
        # cost figures are what says so: a read of FigureSet.COSTS may leave the others out.
        for group in [group for group, figures in cell.items() if costs_of(figures).is_empty]:
            del cell[group]
    buckets = []
    moment = truncate(start)
    while moment < end:
        groups = sums.get(moment, {})
        whole = CostFigures.of(_total(groups.values()))
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
