"""What one task adds to the pre-computed rollups, and how a change moves that contribution.

A rollup row holds the figures of the tasks created in one UTC hour (or day) with one agent
type, model and status. Every figure is an integer sum, so rows add and subtract exactly: a task
change is "minus the old contribution, plus the new one", never a recount.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

import msgspec

from dashboard_api.domain.model.buckets import day_of, hour_of
from dashboard_api.domain.model.tasks import (
    Task,
    TaskStatus,
)
from dashboard_api.domain.money import to_micros

# Upper bounds (seconds, inclusive) of the duration histogram; the last bucket is open-ended.
# Log-spaced from 1 s to 4 h: agent tasks run from seconds to hours.
DURATION_BOUNDS_SECONDS: tuple[int, ...] = (
    1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400,
)  # fmt: skip
DURATION_BUCKETS = len(DURATION_BOUNDS_SECONDS) + 1
NO_MODEL = ""  # the key of tasks that have no model (keys are never null in storage)
_MICROS = timedelta(microseconds=1)


class Figures(msgspec.Struct, frozen=True):
    """Sums over a set of tasks. Duration figures count finished tasks only."""

    tasks: int = 0
    completed: int = 0
    failed: int = 0
    finished: int = 0
    cost_micros: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    duration_micros: int = 0
    durations: tuple[int, ...] = (0,) * DURATION_BUCKETS

    def __add__(self, other: Figures) -> Figures:
        return _combine(self, other, 1)

    def __sub__(self, other: Figures) -> Figures:
        return _combine(self, other, -1)

    @property
    def is_empty(self) -> bool:
        return self == EMPTY


EMPTY = Figures()


def _combine(left: Figures, right: Figures, sign: int) -> Figures:
    # Positional tuples: this runs once per rollup row an answer sums, so it stays lean.
    *scalars_left, durations_left = msgspec.structs.astuple(left)
    *scalars_right, durations_right = msgspec.structs.astuple(right)
    scalars = [a + sign * b for a, b in zip(scalars_left, scalars_right, strict=True)]
    durations = tuple(a + sign * b for a, b in zip(durations_left, durations_right, strict=True))
    return Figures(*scalars, durations)  # type: ignore[call-arg]  # mypy cannot count *scalars


def costs_of(figures: Figures) -> Figures:
    """The figures a cost histogram shows (tasks, errors, cost, tokens), the others 0."""
    return Figures(
        tasks=figures.tasks,
        failed=figures.failed,
        cost_micros=figures.cost_micros,
        input_tokens=figures.input_tokens,
        output_tokens=figures.output_tokens,
    )


class FigureSet(StrEnum):
    """Which figures a read needs: a store may leave the others out (0)."""

    ALL = "all"
    TOTALS = "totals"  # all but the duration histogram (a summary)
    COSTS = "costs"  # what a cost histogram shows (`costs_of`)

    @property
    def names(self) -> tuple[str, ...]:
        """The Figures fields it holds (`durations` for the duration histogram)."""
        if self is FigureSet.COSTS:
            return ("tasks", "failed", "cost_micros", "input_tokens", "output_tokens")
        scalars = tuple(name for name in Figures.__struct_fields__ if name != "durations")
        return scalars if self is FigureSet.TOTALS else (*scalars, "durations")


def total(figures: Iterable[Figures]) -> Figures:
    result = EMPTY
    for item in figures:
        result = result + item
    return result


class RollupKey(NamedTuple):
    """The identity of an hourly rollup row."""

    hour: datetime
    agent_type: str
    model: str
    status: str


class RollupChange(NamedTuple):
    """Figures to add to (or, when negative, take from) one rollup row."""

    key: RollupKey
    figures: Figures


def duration_bucket(duration_micros: int) -> int:
    """Index of the histogram bucket whose range (previous bound, bound] holds the duration."""
    for index, bound in enumerate(DURATION_BOUNDS_SECONDS):
        if duration_micros <= bound * 1_000_000:
            return index
    return len(DURATION_BOUNDS_SECONDS)


_SCALARS = len(Figures.__struct_fields__) - 1  # every figure but the durations


def _figure_values(task: Task) -> tuple[tuple[int, ...], int | None]:
    """A task's scalar figures in `Figures`' order, and its duration bucket (None: unfinished)."""
    duration = 0
    bucket = None
    if task.completed_at is not None:
        duration = (task.completed_at - task.created_at) // _MICROS
        bucket = duration_bucket(duration)
    scalars = (
        1,  # tasks
        int(task.status is TaskStatus.COMPLETED),
        int(task.status is TaskStatus.FAILED),
        int(bucket is not None),  # finished
        to_micros(task.cost_usd),
        task.input_tokens,
        task.output_tokens,
        task.cache_read_tokens,
        task.cache_write_tokens,
        duration,
    )
    return scalars, bucket


def task_figures(task: Task) -> Figures:
    """The figures one task contributes to the row of its key."""
    scalars, bucket = _figure_values(task)
    durations = [0] * DURATION_BUCKETS
    if bucket is not None:
        durations[bucket] = 1
    return Figures(*scalars, tuple(durations))  # type: ignore[arg-type, call-arg]  # mypy cannot count


def rollup_key(task: Task) -> RollupKey:
    return RollupKey(
        hour=hour_of(task.created_at),
        agent_type=task.agent_type,
        model=task.model or NO_MODEL,
        status=task.status.value,
    )


def rollup_changes(before: Task | None, after: Task | None) -> list[RollupChange]:
    """What the rollups must record when `before` becomes `after` (None: absent).

    The old contribution leaves its row and the new one joins its row; when both rows are the
    same they net out into one change, and a change that moves nothing records nothing.
    """
    changes: dict[RollupKey, Figures] = {}
    if before is not None:
        key = rollup_key(before)
        changes[key] = changes.get(key, EMPTY) - task_figures(before)
    if after is not None:
        key = rollup_key(after)
        changes[key] = changes.get(key, EMPTY) + task_figures(after)
    return [RollupChange(key, figures) for key, figures in changes.items() if not figures.is_empty]


def moved_changes(moves: Iterable[tuple[Task | None, Task | None]]) -> list[RollupChange]:
    """What the rollups must record when each `before` becomes its `after` (a batch's tasks):
    `merged_changes` of every move's `rollup_changes`, summed in one row of integers per key
    instead of a `Figures` per change and per sum (those were ~15% of an ingest batch's CPU,
    bench/ingest_profile.py)."""
    sums: _Sums = {}
    for before, after in moves:
        if before is not None:
            _add_figures(sums, before, -1)
        if after is not None:
            _add_figures(sums, after, 1)
    return [
        RollupChange(RollupKey(*key), Figures(*row[:_SCALARS], tuple(row[_SCALARS:])))  # type: ignore[arg-type, call-arg]
        for key, row in sums.items()
        if any(row)
    ]


# A row of integers per rollup key: the scalars of `Figures`, then its duration buckets.
_Sums = dict[tuple[datetime, str, str, str], list[int]]
_DURATION_BOUNDS_MICROS = [bound * 1_000_000 for bound in DURATION_BOUNDS_SECONDS]


def _add_figures(
    sums: dict[tuple[datetime, str, str, str], list[int]], task: Task, sign: int
) -> None:
    """Add (sign 1) or take away (-1) `task_figures(task)` to the row of `rollup_key(task)`,
    written out in place: per moved task, the key, figure tuple and bucket search as separate
    calls cost ~10 us of CPU (~6 us per ingested event)."""
    status = task.status
    key = (hour_of(task.created_at), task.agent_type, task.model or NO_MODEL, status.value)
    row = sums.get(key)
    if row is None:
        row = sums[key] = [0] * (_SCALARS + DURATION_BUCKETS)
    row[0] += sign  # tasks
    if status is TaskStatus.COMPLETED:
        row[1] += sign
    elif status is TaskStatus.FAILED:
        row[2] += sign
    if task.completed_at is not None:
        duration = (task.completed_at - task.created_at) // _MICROS
        row[3] += sign  # finished
        row[9] += sign * duration
        row[_SCALARS + bisect_left(_DURATION_BOUNDS_MICROS, duration)] += sign
    if task.cost_usd:
        row[4] += sign * to_micros(task.cost_usd)
    row[5] += sign * task.input_tokens
    row[6] += sign * task.output_tokens
    row[7] += sign * task.cache_read_tokens
    row[8] += sign * task.cache_write_tokens


def merged_changes(changes: Iterable[RollupChange]) -> list[RollupChange]:
    """Changes to the same row added into one: a batch appends one delta per row it moves,
    not one per task change (a batch of 500 events moved about 390 rows, mostly the same few)."""
    sums: dict[RollupKey, Figures] = {}
    for key, figures in changes:
        sums[key] = sums[key] + figures if key in sums else figures
    return [RollupChange(key, figures) for key, figures in sums.items() if not figures.is_empty]


class RollupSource(StrEnum):
    """Where figures of a time range come from: day rows, hour rows, or the tasks themselves."""

    DAYS = "days"
    HOURS = "hours"
    TASKS = "tasks"


class RollupQuery(msgspec.Struct, frozen=True, kw_only=True):
    """Sums over tasks created in [start, end) (None: unbounded), grouped as asked.

    DAYS needs day-aligned bounds, HOURS hour-aligned ones; TASKS takes any bounds and reads
    the tasks through the created_at index (for the partial hours at a window's edges).
    """

    source: RollupSource
    start: datetime | None = None
    end: datetime | None = None
    agent_type: str | None = None
    by_time: bool = False
    by_agent_type: bool = False
    by_model: bool = False
    # Figures to take away, not add: the hours outside a window of a day read whole.
    negate: bool = False
    # The figures asked for: a store may leave the others out (0), so only those may be read
    # from its totals.
    figures: FigureSet = FigureSet.ALL

    @property
    def days(self) -> DayRange:
        """The whole UTC days holding the tasks the query covers."""
        end = self.end
        if end is not None and end != day_of(end):
            end = day_of(end) + timedelta(days=1)
        return DayRange(None if self.start is None else day_of(self.start), end)


class RollupTotal(NamedTuple):
    """One group of a rollup read. `start` is the row's hour or day when grouped by time."""

    start: datetime | None
    agent_type: str | None
    model: str | None
    figures: Figures


class DayRange(NamedTuple):
    """[start, end) on UTC day boundaries; None: unbounded."""

    start: datetime | None
    end: datetime | None


class PendingChanges(NamedTuple):
    """Committed changes not compacted yet, summed per hour, agent type and model."""

    hour: datetime
    agent_type: str
    model: str
    changes: int  # how many
    figures: Figures


# What RollupState.watermark holds: opaque to the domain, compared for equality only.
Watermark = tuple[int, ...]


class RollupState(NamedTuple):
    """Where the rollups stand, in one snapshot: `rebuilds`, an epoch that moves with every
    rebuild (and anything else that changes rollups without counting the changes); per day
    range asked, the committed changes to tasks created in it that compaction folded into the
    hour and day rows (their count only grows, and only compaction moves it); and every
    pending change."""

    rebuilds: int
    folded: list[int]
    pending: list[PendingChanges]
    # Moves with every committed change, compaction and rebuild, and never comes back to a
    # value it had: equal watermarks mean nothing changed in between (RollupStore.state).
    watermark: Watermark = ()


class CompactedTotals(NamedTuple):
    """A read of compacted rows, with `(rebuilds, folded)` of its days in the same snapshot:
    the rows of a day range are the same whenever that pair is."""

    compacted: tuple[int, int]
    totals: list[RollupTotal]
