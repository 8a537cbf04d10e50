"""The analytics answers computed the naive way, straight from raw tasks, for tests to compare.

Deliberately written from SPEC §5 without the domain's rollup code: a shared bug would hide.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from dashboard_api.domain.model.tasks import Task, TaskStatus
from dashboard_api.domain.services.analytics import (
    CostBucket,
    CostFigures,
    CostHistogram,
    Granularity,
    HistogramGroup,
    Summary,
)

BOUNDS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)
_US = timedelta(microseconds=1)


def usd(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)


def within(
    tasks: Iterable[Task],
    start: datetime | None,
    end: datetime | None,
    agent_type: str | None = None,
) -> list[Task]:
    return [
        task
        for task in tasks
        if (start is None or task.created_at >= start)
        and (end is None or task.created_at < end)
        and (agent_type is None or task.agent_type == agent_type)
    ]


def _finished(tasks: list[Task]) -> list[Task]:
    return [task for task in tasks if task.status.is_terminal]


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def summary(
    tasks: list[Task],
    start: datetime | None,
    end: datetime | None,
    agent_type: str | None,
    now: datetime,
) -> Summary:
    chosen = within(tasks, start, end, agent_type)
    today_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    today = within(tasks, today_start, today_start + timedelta(days=1), agent_type)
    completed = sum(task.status is TaskStatus.COMPLETED for task in chosen)
    failed = sum(task.status is TaskStatus.FAILED for task in chosen)
    finished = _finished(chosen)
    assert all(task.completed_at is not None for task in finished)
    duration_us = sum((task.completed_at - task.created_at) // _US for task in finished)
    return Summary(
        total_cost_usd=usd(sum((task.cost_usd for task in chosen), Decimal(0))),
        total_tasks=len(chosen),
        completed_tasks=completed,
        failed_tasks=failed,
        success_rate=_rate(completed, len(chosen)),
        finished_success_rate=_rate(completed, completed + failed),
        avg_tokens=_rate(sum(t.input_tokens + t.output_tokens for t in chosen), len(chosen)),
        avg_duration_seconds=duration_us / len(finished) / 1_000_000 if finished else None,
        today_cost_usd=usd(sum((task.cost_usd for task in today), Decimal(0))),
        today_tasks=len(today),
    )


def _cost_figures(tasks: list[Task]) -> CostFigures:
    return CostFigures(
        cost_usd=usd(sum((task.cost_usd for task in tasks), Decimal(0))),
        tasks=len(tasks),
        tokens=sum(task.input_tokens + task.output_tokens for task in tasks),
        errors=sum(task.status is TaskStatus.FAILED for task in tasks),
    )


def histogram(
    tasks: list[Task],
    start: datetime,
    end: datetime,
    granularity: Granularity,
    group_by: HistogramGroup | None,
) -> CostHistogram:
    step = timedelta(hours=1) if granularity is Granularity.HOUR else timedelta(days=1)
    moment = start.replace(minute=0, second=0, microsecond=0)
    if granularity is Granularity.DAY:
        moment = moment.replace(hour=0)
    buckets = []
    while moment < end:
        inside = within(tasks, max(moment, start), min(moment + step, end))
        whole = _cost_figures(inside)
        groups = None
        if group_by is not None:
            split: dict[str, list[Task]] = defaultdict(list)
            for task in inside:
                key = task.agent_type if group_by is HistogramGroup.AGENT_TYPE else task.model
                split[key or ""].append(task)
            groups = {key: _cost_figures(value) for key, value in sorted(split.items())}
        buckets.append(
            CostBucket(
                start=moment,
                cost_usd=whole.cost_usd,
                tasks=whole.tasks,
                tokens=whole.tokens,
                errors=whole.errors,
                groups=groups,
            )
        )
        moment += step
    return CostHistogram(granularity=granularity, buckets=buckets)


def performance_groups(
    tasks: list[Task], start: datetime, end: datetime, by_model: bool, agent_type: str | None
) -> dict[tuple[str, str], list[Task]]:
    groups: dict[tuple[str, str], list[Task]] = defaultdict(list)
    for task in within(tasks, start, end, agent_type):
        groups[(task.agent_type, (task.model or "") if by_model else "")].append(task)
    return dict(sorted(groups.items()))


def session_groups(
    tasks: list[Task], start: datetime, end: datetime, agent_type: str | None
) -> dict[str, list[Task]]:
    """The window's tasks per session id, ids in order; tasks without a session left out."""
    groups: dict[str, list[Task]] = defaultdict(list)
    for task in within(tasks, start, end, agent_type):
        if task.session_id is not None:
            groups[task.session_id].append(task)
    return dict(sorted(groups.items()))


def main_agent_type(tasks: list[Task]) -> str:
    """The agent type with most tasks; on a tie, the first by name."""
    counts: dict[str, int] = defaultdict(int)
    for task in tasks:
        counts[task.agent_type] += 1
    return sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))[0][0]


def percentile_seconds(tasks: list[Task], quantile: float) -> float | None:
    """Nearest-rank percentile of the finished tasks' durations, exactly."""
    durations = sorted(
        (t.completed_at - t.created_at) / timedelta(seconds=1) for t in _finished(tasks)
    )
    if not durations:
        return None
    return durations[max(1, math.ceil(quantile * len(durations))) - 1]


def same_bucket(reported: float | None, exact: float | None) -> bool:
    """True when the reported percentile is the bound of the bucket holding the exact one."""
    if reported is None or exact is None:
        return reported is exact
    holding = next((bound for bound in BOUNDS if exact <= bound), BOUNDS[-1])
    return reported == float(holding)
