"""Rollups in dicts: hour and day rows, summed on read exactly as the SQL store sums them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime

from dashboard_api.domain.model.buckets import day_of
from dashboard_api.domain.model.rollups import (
    EMPTY,
    CompactedTotals,
    DayRange,
    Figures,
    RollupChange,
    RollupKey,
    RollupQuery,
    RollupSource,
    RollupState,
    RollupTotal,
    Watermark,
    rollup_changes,
)
from dashboard_api.domain.model.tasks import Task

_GroupKey = tuple[datetime | None, str | None, str | None]


class RollupRows:
    """The committed rollup rows: per hour, and the same figures summed per day."""

    def __init__(self) -> None:
        self.hours: dict[RollupKey, Figures] = {}
        self.days: dict[RollupKey, Figures] = {}
        # The versions (see RollupStore.versions): changes per day, and rebuilds.
        self.day_changes: dict[datetime, int] = defaultdict(int)
        self.rebuilds = 0
        self.changes = 0  # every change applied: with rebuilds, the watermark

    def apply(self, changes: Iterable[RollupChange]) -> None:
        for key, figures in changes:
            day_key = key._replace(hour=day_of(key.hour))
            self.day_changes[day_key.hour] += 1
            self.changes += 1
            for rows, row_key in ((self.hours, key), (self.days, day_key)):
                updated = rows.get(row_key, EMPTY) + figures
                if updated.is_empty:
                    rows.pop(row_key, None)  # like a compacted SQL row that nets to nothing
                else:
                    rows[row_key] = updated

    def clear(self) -> None:
        self.rebuilds += 1
        self.hours.clear()
        self.days.clear()


class MemoryRollupStore:
    """Inside a unit of work, `record` queues changes that its commit applies."""

    def __init__(
        self,
        rows: RollupRows,
        tasks: Callable[[], Mapping[str, Task]],
        pending: list[RollupChange] | None = None,
    ) -> None:
        self._rows = rows
        self._tasks = tasks
        self._pending = pending

    async def record(self, changes: Sequence[RollupChange]) -> None:
        if self._pending is None:
            self._rows.apply(changes)
        else:
            self._pending.extend(changes)

    async def state(
        self, *days: DayRange, unchanged_since: Watermark | None = None
    ) -> RollupState | None:
        watermark = (self._rows.rebuilds, self._rows.changes)
        if watermark == unchanged_since:
            return None
        # Changes apply as they commit: nothing is ever pending.
        return RollupState(
            self._rows.rebuilds, [self._folded(item) for item in days], [], watermark
        )

    async def read_compacted(self, *queries: RollupQuery) -> list[CompactedTotals]:
        return [
            CompactedTotals((self._rows.rebuilds, self._folded(query.days)), self._read(query))
            for query in queries
        ]

    def _folded(self, days: DayRange) -> int:
        return sum(
            count
            for day, count in self._rows.day_changes.items()
            if (days.start is None or day >= days.start) and (days.end is None or day < days.end)
        )

    async def read(self, *queries: RollupQuery) -> list[list[RollupTotal]]:
        return [self._read(query) for query in queries]

    def _read(self, query: RollupQuery) -> list[RollupTotal]:
        groups: dict[_GroupKey, Figures] = defaultdict(lambda: EMPTY)
        by_row_time = query.source is not RollupSource.TASKS  # tasks are filtered exactly
        for key, figures in self._source(query):
            if by_row_time and query.start is not None and key.hour < query.start:
                continue
            if by_row_time and query.end is not None and key.hour >= query.end:
                continue
            if query.agent_type is not None and key.agent_type != query.agent_type:
                continue
            group = (
                key.hour if query.by_time else None,
                key.agent_type if query.by_agent_type else None,
                key.model if query.by_model else None,
            )
            groups[group] = groups[group] + figures
        return [RollupTotal(*group, figures) for group, figures in groups.items()]

    def _source(self, query: RollupQuery) -> Iterable[tuple[RollupKey, Figures]]:
        if query.source is RollupSource.DAYS:
            return self._rows.days.items()
        if query.source is RollupSource.HOURS:
            return self._rows.hours.items()
        # The tasks of partial edge hours: filtered by their exact creation time, then keyed
        # by their hour like any rollup row.
        return (
            (change.key, change.figures)
            for task in self._tasks().values()
            if (query.start is None or task.created_at >= query.start)
            and (query.end is None or task.created_at < query.end)
            for change in rollup_changes(None, task)
        )

    async def rebuild(self) -> int:
        tasks = list(self._tasks().values())
        self._rows.clear()
        for task in tasks:
            self._rows.apply(rollup_changes(None, task))
        return len(tasks)
