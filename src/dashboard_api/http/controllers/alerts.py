"""`/api/alerts` and `/api/budgets`: what fired, where it was sent, and spend against budgets."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter

from dashboard_api.domain.alert_service import AlertService
from dashboard_api.domain.budgets import Alert, BudgetStatus, DeliveryAttempt
from dashboard_api.domain.pagination import MAX_PAGE_SIZE
from dashboard_api.domain.spend import SpendDimension, SpendService, SpendTotal
from dashboard_api.domain.times import optional_utc


class AlertList(msgspec.Struct, kw_only=True):
    items: list[Alert]


class DeliveryList(msgspec.Struct, kw_only=True):
    items: list[DeliveryAttempt]


class BudgetList(msgspec.Struct, kw_only=True):
    items: list[BudgetStatus]


class SpendReport(msgspec.Struct, kw_only=True):
    group_by: SpendDimension
    items: list[SpendTotal]


class AlertController(Controller):
    tags = ["alerts"]

    @get("/api/alerts", summary="Fired alerts, newest first (page on with `before`)")
    async def list_alerts(
        self,
        alert_service: NamedDependency[AlertService],
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)] = 50,
        before: Annotated[datetime | None, QueryParameter()] = None,
    ) -> AlertList:
        moment = optional_utc(before, "before")
        return AlertList(items=await alert_service.recent(limit=limit, before=moment))

    @get(
        "/api/alerts/{alert_id:str}/deliveries",
        summary="Every attempt to deliver an alert to the outgoing webhooks",
    )
    async def deliveries(
        self,
        alert_service: NamedDependency[AlertService],
        alert_id: Annotated[str, PathParameter(min_length=1, max_length=200)],
    ) -> DeliveryList:
        return DeliveryList(items=await alert_service.attempts(alert_id))

    @get("/api/budgets", summary="Each budget's spend in its current period (from the rollups)")
    async def budgets(self, alert_service: NamedDependency[AlertService]) -> BudgetList:
        return BudgetList(items=await alert_service.budget_statuses())

    @get(
        "/api/analytics/spend",
        summary="Spend grouped by user, conversation or source over whole hours, costliest first",
    )
    async def spend(
        self,
        spend_service: NamedDependency[SpendService],
        group_by: Annotated[SpendDimension, QueryParameter()],
        start: Annotated[datetime | None, QueryParameter(name="from")] = None,
        end: Annotated[datetime | None, QueryParameter(name="to")] = None,
        key: Annotated[str | None, QueryParameter(min_length=1, max_length=128)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)] = 50,
    ) -> SpendReport:
        items = await spend_service.totals(
            group_by,
            optional_utc(start, "from"),
            optional_utc(end, "to"),
            key=key,
            limit=limit,
        )
        return SpendReport(group_by=group_by, items=items)
