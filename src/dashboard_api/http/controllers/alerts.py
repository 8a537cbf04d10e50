"""`/api/alerts` and `/api/budgets`: what fired, where it was sent, and spend against budgets."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter

from dashboard_api.domain.model.budgets import Alert, BudgetStatus, DeliveryAttempt
from dashboard_api.domain.model.spend import SpendDimension, SpendTotal
from dashboard_api.domain.pagination import MAX_PAGE_SIZE
from dashboard_api.domain.services.alerts import AlertService
from dashboard_api.domain.services.spend import SpendService
from dashboard_api.domain.times import parse_time, parse_window
from dashboard_api.http.controllers.analytics import From, To
from dashboard_api.http.controllers.tasks import Time
from dashboard_api.http.problem_responses import GUARDED, READ_ERRORS, errors


class AlertList(msgspec.Struct, kw_only=True):
    """Fired alerts, newest first."""

    items: list[Alert]


class DeliveryList(msgspec.Struct, kw_only=True):
    """Each attempt to deliver one alert, oldest first."""

    items: list[DeliveryAttempt]


class BudgetList(msgspec.Struct, kw_only=True):
    """Every budget with its spend in the current period."""

    items: list[BudgetStatus]


class SpendReport(msgspec.Struct, kw_only=True):
    """Spend per key of one dimension, costliest first."""

    group_by: SpendDimension
    items: list[SpendTotal]


class AlertController(Controller):
    tags = ["alerts"]

    @get(
        "/api/alerts",
        operation_id="listAlerts",
        summary="Fired alerts, newest first (page on with `before`)",
        responses=errors(*READ_ERRORS),
    )
    async def list_alerts(
        self,
        alert_service: NamedDependency[AlertService],
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)] = 50,
        before: Time = None,
    ) -> AlertList:
        moment = parse_time(before, "before") if before else None
        return AlertList(items=await alert_service.recent(limit=limit, before=moment))

    @get(
        "/api/alerts/{alert_id:str}/deliveries",
        operation_id="listAlertDeliveries",
        summary="Every attempt to deliver an alert to the outgoing webhooks",
        responses=errors(*READ_ERRORS),
    )
    async def deliveries(
        self,
        alert_service: NamedDependency[AlertService],
        alert_id: Annotated[str, PathParameter(min_length=1, max_length=200)],
    ) -> DeliveryList:
        return DeliveryList(items=await alert_service.attempts(alert_id))

    @get(
        "/api/budgets",
        operation_id="listBudgets",
        summary="Each budget's spend in its current period (from the rollups)",
        responses=errors(*GUARDED),
    )
    async def budgets(self, alert_service: NamedDependency[AlertService]) -> BudgetList:
        return BudgetList(items=await alert_service.budget_statuses())

    @get(
        "/api/analytics/spend",
        operation_id="getSpend",
        summary="Spend grouped by user, conversation or source over whole hours, costliest first",
        responses=errors(*READ_ERRORS),
    )
    async def spend(
        self,
        spend_service: NamedDependency[SpendService],
        group_by: Annotated[SpendDimension, QueryParameter()],
        start: From = None,
        end: To = None,
        key: Annotated[str | None, QueryParameter(min_length=1, max_length=128)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)] = 50,
    ) -> SpendReport:
        # The order is checked by the service, after the whole-hour rule.
        window = parse_window(start, end, ("from", "to"), ordered=False)
        items = await spend_service.totals(group_by, *window, key=key, limit=limit)
        return SpendReport(group_by=group_by, items=items)
