"""`/api/analytics`: summary, cost histogram and performance, read from the rollups."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from dashboard_api.domain.errors import InvalidInput
from dashboard_api.domain.limits import NAME_CHARS
from dashboard_api.domain.pagination import MAX_PAGE_SIZE
from dashboard_api.domain.services.analytics import (
    AnalyticsService,
    CostHistogram,
    Granularity,
    HistogramGroup,
    PerformanceGroup,
    Summary,
    trailing_window,
)
from dashboard_api.domain.times import parse_window
from dashboard_api.http.pages import EitherPerformancePage
from dashboard_api.http.problem_responses import READ_ERRORS, errors

# Parsed here rather than by Litestar, whose errors would name the Python parameter, not the
# query parameter the client sent ("from" is a keyword in Python).
From = Annotated[
    str | None,
    QueryParameter(
        name="from",
        max_length=64,
        description="inclusive, RFC 3339",
        schema_extra={"format": "date-time"},
    ),
]
To = Annotated[
    str | None,
    QueryParameter(
        name="to",
        max_length=64,
        description="exclusive, RFC 3339",
        schema_extra={"format": "date-time"},
    ),
]


AgentType = Annotated[str | None, QueryParameter(min_length=1, max_length=NAME_CHARS)]
Days = Annotated[int | None, QueryParameter(ge=1, le=366, description="trailing whole days")]


def _window(
    service: AnalyticsService,
    raw_start: str | None,
    raw_end: str | None,
    days: int | None,
    granularity: Granularity,
) -> tuple[datetime, datetime]:
    """Explicit `from`/`to`, or the trailing `days` (default 30) ending with the current bucket."""
    start, end = parse_window(raw_start, raw_end, ("from", "to"), ordered=False)
    if days is not None and (start is not None or end is not None):
        raise InvalidInput("give either days or from/to, not both", field="days")
    if start is None and end is not None:
        raise InvalidInput("to needs from", field="from")
    if start is None:
        return trailing_window(service.now(), days or 30, granularity)
    _, current_end = trailing_window(service.now(), 1, granularity)
    return start, end if end is not None else current_end


class AnalyticsController(Controller):
    path = "/api/analytics"
    tags = ["analytics"]

    @get(
        "/summary",
        operation_id="getAnalyticsSummary",
        summary="Totals and rates over a window (default: all time)",
        responses=errors(*READ_ERRORS),
    )
    async def summary(
        self,
        analytics_service: NamedDependency[AnalyticsService],
        start: From = None,
        end: To = None,
        agent_type: AgentType = None,
    ) -> Summary:
        window = parse_window(start, end, ("from", "to"), ordered=False)
        return await analytics_service.summary(*window, agent_type)

    @get(
        "/costs/histogram",
        operation_id="getCostHistogram",
        summary="Cost, tasks, tokens and errors per UTC hour or day",
        responses=errors(*READ_ERRORS),
    )
    async def cost_histogram(
        self,
        analytics_service: NamedDependency[AnalyticsService],
        granularity: Annotated[Granularity, QueryParameter()] = Granularity.DAY,
        start: From = None,
        end: To = None,
        days: Days = None,
        group_by: Annotated[HistogramGroup | None, QueryParameter()] = None,
    ) -> CostHistogram:
        window = _window(analytics_service, start, end, days, granularity)
        return await analytics_service.cost_histogram(*window, granularity, group_by)

    @get(
        "/performance",
        operation_id="getPerformance",
        summary="Per agent type (optionally per model), or per session, over a window",
        responses=errors(*READ_ERRORS),
    )
    async def performance(
        self,
        analytics_service: NamedDependency[AnalyticsService],
        start: From = None,
        end: To = None,
        days: Days = None,
        agent_type: AgentType = None,
        group_by: Annotated[PerformanceGroup | None, QueryParameter()] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)] = 100,
        cursor: Annotated[str | None, QueryParameter(max_length=512)] = None,
    ) -> EitherPerformancePage:
        window = _window(analytics_service, start, end, days, Granularity.HOUR)
        if group_by is PerformanceGroup.SESSION:
            return await analytics_service.session_performance(
                *window, agent_type=agent_type, limit=limit, cursor=cursor
            )
        return await analytics_service.performance(
            *window,
            by_model=group_by is PerformanceGroup.MODEL,
            agent_type=agent_type,
            limit=limit,
            cursor=cursor,
        )
