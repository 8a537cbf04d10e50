"""The answers of the analytics routes, as the domain returns them (SPEC §5 field names)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

import msgspec

from dashboard_api.domain.model import analytics as metric
from dashboard_api.domain.model.rollups import Figures


class Granularity(StrEnum):
    HOUR = "hour"
    DAY = "day"


class HistogramGroup(StrEnum):
    AGENT_TYPE = "agent_type"
    MODEL = "model"


class PerformanceGroup(StrEnum):
    """What performance items are per, beyond agent type: its model, or each session."""

    MODEL = "model"
    SESSION = "session"


class Summary(msgspec.Struct, kw_only=True, frozen=True):
    total_cost_usd: Decimal
    total_tasks: int
    completed_tasks: int
    failed_tasks: int
    success_rate: float | None
    finished_success_rate: float | None
    avg_tokens: float | None
    avg_duration_seconds: float | None
    today_cost_usd: Decimal
    today_tasks: int


class CostFigures(msgspec.Struct, kw_only=True, frozen=True):
    cost_usd: Decimal
    tasks: int
    tokens: int
    errors: int

    @classmethod
    def of(cls, figures: Figures) -> CostFigures:
        return cls(
            cost_usd=metric.total_cost(figures),
            tasks=figures.tasks,
            tokens=figures.input_tokens + figures.output_tokens,
            errors=figures.failed,
        )


class CostBucket(msgspec.Struct, kw_only=True, frozen=True):
    start: datetime
    cost_usd: Decimal
    tasks: int
    tokens: int
    errors: int
    groups: dict[str, CostFigures] | None = None


class CostHistogram(msgspec.Struct, kw_only=True, frozen=True):
    granularity: Granularity
    buckets: list[CostBucket]


class Performance(msgspec.Struct, kw_only=True, frozen=True):
    agent_type: str
    model: str | None
    tasks: int
    completed_tasks: int
    failed_tasks: int
    success_rate: float | None
    finished_success_rate: float | None
    duration_p50_seconds: float | None
    duration_p95_seconds: float | None
    duration_p99_seconds: float | None
    avg_tokens: float | None
    cost_per_task_usd: Decimal | None
    cost_per_hour_usd: Decimal
    tasks_per_day: float


class PerformanceCursor(msgspec.Struct, frozen=True, array_like=True):
    agent_type: str
    model: str
