"""Analytics metrics as SPEC §5 defines them, over summed rollup figures.

Each metric is a small function of `Figures`, so the same definition answers for one hour, one
agent type or all time, and a test can check it against figures computed by hand.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from dashboard_api.domain.model.buckets import day_of, hour_of, rank_bucket
from dashboard_api.domain.model.rollups import (
    DURATION_BOUNDS_SECONDS,
    Figures,
    RollupQuery,
    RollupSource,
)
from dashboard_api.domain.money import from_micros, usd

_DAY = timedelta(days=1)
_HOUR = timedelta(hours=1)


def total_cost(figures: Figures) -> Decimal:
    return from_micros(figures.cost_micros)


def success_rate(figures: Figures) -> float | None:
    """The seed's success rate: completed / all tasks (running ones count against it)."""
    return figures.completed / figures.tasks if figures.tasks else None


def finished_success_rate(figures: Figures) -> float | None:
    """Completed / (completed + failed): tasks still running do not read as failures."""
    decided = figures.completed + figures.failed
    return figures.completed / decided if decided else None


def average_tokens(figures: Figures) -> float | None:
    """Mean of input + output tokens over all tasks."""
    if not figures.tasks:
        return None
    return (figures.input_tokens + figures.output_tokens) / figures.tasks


def average_duration_seconds(figures: Figures) -> float | None:
    """Mean of completed_at - created_at over finished tasks."""
    if not figures.finished:
        return None
    return figures.duration_micros / figures.finished / 1_000_000


def cost_per_task(figures: Figures) -> Decimal | None:
    return usd(total_cost(figures) / figures.tasks) if figures.tasks else None


def cost_per_hour(figures: Figures, span: timedelta) -> Decimal:
    """Cost spread over the window's length in hours."""
    hours = Decimal(span // timedelta(microseconds=1)) / Decimal(3_600_000_000)
    return usd(total_cost(figures) / hours)


def tasks_per_day(figures: Figures, span: timedelta) -> float:
    return figures.tasks / (span / _DAY)


def percentile_bucket(figures: Figures, quantile: float) -> int | None:
    """Index of the duration bucket holding the nearest-rank `quantile` of finished tasks."""
    if not figures.finished:
        return None
    return rank_bucket(figures.durations, quantile, figures.finished)


def bucket_seconds(index: int) -> float:
    """What a bucket reports: its upper bound, or for the open last bucket its lower bound."""
    return float(DURATION_BOUNDS_SECONDS[min(index, len(DURATION_BOUNDS_SECONDS) - 1)])


def duration_percentile(figures: Figures, quantile: float) -> float | None:
    """A duration percentile to within one histogram bucket."""
    index = percentile_bucket(figures, quantile)
    return None if index is None else bucket_seconds(index)


def _ceil(moment: datetime, floor: datetime, step: timedelta) -> datetime:
    return floor if floor == moment else floor + step


def plan_reads(
    start: datetime | None,
    end: datetime | None,
    *,
    use_days: bool = True,
    now: datetime | None = None,
) -> list[RollupQuery]:
    """Split [start, end) into the cheapest exact reads.

    Whole days come from day rows (unless `use_days` is off, for hourly answers), the remaining
    whole hours from hour rows, and only the partial hours at the edges from the tasks. A
    partial day at an edge is read as its whole day minus the hours outside the window
    (`negate`) when those are fewer, or (with `now`) all still to come: a window ending with
    the current hour then reads today's one day row per group, not its hourly rows (which the
    compactor keeps rewriting, so they lie scattered over the table's pages).
    """
    if start is not None and end is not None and start >= end:
        return []
    reads: list[RollupQuery] = []
    first_hour = None if start is None else _ceil(start, hour_of(start), _HOUR)
    last_hour = None if end is None else hour_of(end)
    if first_hour is not None and last_hour is not None and first_hour >= last_hour:
        return [RollupQuery(source=RollupSource.TASKS, start=start, end=end)]
    if start is not None and first_hour is not None and start < first_hour:
        reads.append(RollupQuery(source=RollupSource.TASKS, start=start, end=first_hour))
    if end is not None and last_hour is not None and last_hour < end:
        reads.append(RollupQuery(source=RollupSource.TASKS, start=last_hour, end=end))
    if not use_days:
        reads.append(RollupQuery(source=RollupSource.HOURS, start=first_hour, end=last_hour))
        return reads
    first_day = None if first_hour is None else _ceil(first_hour, day_of(first_hour), _DAY)
    last_day = None if last_hour is None else day_of(last_hour)
    if first_day is not None and last_day is not None and first_day >= last_day:
        reads.append(RollupQuery(source=RollupSource.HOURS, start=first_hour, end=last_hour))
        return reads
    days_start, days_end = first_day, last_day
    if first_hour is not None and first_day is not None and first_hour < first_day:
        outside = first_hour - (first_day - _DAY)
        if outside < first_day - first_hour:  # the whole day minus its hours before the window
            days_start = first_day - _DAY
            reads.append(_hours(days_start, first_hour, negate=True))
        else:
            reads.append(_hours(first_hour, first_day))
    if last_hour is not None and last_day is not None and last_day < last_hour:
        outside = last_day + _DAY - last_hour
        future = now is not None and last_hour >= hour_of(now) + _HOUR
        if future or outside < last_hour - last_day:  # the whole day minus its later hours
            days_end = last_day + _DAY
            reads.append(_hours(last_hour, days_end, negate=True))
        else:
            reads.append(_hours(last_day, last_hour))
    reads.append(RollupQuery(source=RollupSource.DAYS, start=days_start, end=days_end))
    return reads


def _hours(start: datetime, end: datetime, *, negate: bool = False) -> RollupQuery:
    return RollupQuery(source=RollupSource.HOURS, start=start, end=end, negate=negate)
