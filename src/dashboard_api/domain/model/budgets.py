"""Budgets and failure-rate rules: what an operator wants to hear about before the bill does.

A budget caps spend over a UTC calendar period on the whole service or one agent type and
alerts at thresholds (percent of the limit). A failure-rate rule watches one agent type over
the last whole hours. Each alert has an id made of what it is about, so it fires once per
threshold per period whatever the number of replicas or restarts: the store keeps ids unique.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

import msgspec


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"  # ISO weeks: from Monday 00:00 UTC
    MONTH = "month"

    def start_of(self, moment: datetime) -> datetime:
        """The start of the period `moment` falls in (UTC)."""
        day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        if self is Period.WEEK:
            return day - timedelta(days=day.weekday())
        if self is Period.MONTH:
            return day.replace(day=1)
        return day


class BudgetScope(StrEnum):
    SERVICE = "service"
    AGENT_TYPE = "agent_type"
    USER = "user"
    CONVERSATION = "conversation"


class Budget(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: str
    limit_usd: Decimal
    period: Period = Period.MONTH
    scope: BudgetScope = BudgetScope.SERVICE
    agent_type: str | None = None  # the agent type an `agent_type` budget caps
    key: str | None = None  # the user id or conversation id a `user`/`conversation` budget caps
    thresholds: tuple[int, ...] = (50, 80, 100)  # percent of the limit


class FailureRateRule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Alert when failed / (completed + failed) of an agent type over the last `window_hours`
    whole hours (the current one included) reaches `max_failure_rate`, once enough finished."""

    name: str
    agent_type: str
    max_failure_rate: float
    window_hours: int = 1
    min_finished: int = 10


class AlertKind(StrEnum):
    BUDGET = "budget"
    FAILURE_RATE = "failure_rate"


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    alert_id: str  # what it is about: the unique key that makes it fire once
    kind: AlertKind
    rule: str
    period_start: datetime
    fired_at: datetime
    message: str
    threshold_percent: int | None = None
    spend_usd: Decimal | None = None
    limit_usd: Decimal | None = None
    failure_rate: float | None = None
    agent_type: str | None = None


class DeliveryAttempt(msgspec.Struct, frozen=True, kw_only=True):
    """One try to deliver an alert to an outgoing webhook."""

    alert_id: str
    endpoint: str
    attempt: int
    at: datetime
    status_code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class BudgetStatus(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    scope: BudgetScope
    agent_type: str | None
    key: str | None
    period: Period
    period_start: datetime
    limit_usd: Decimal
    spend_usd: Decimal
    used_percent: float


def crossed_thresholds(budget: Budget, spend: Decimal) -> list[int]:
    """The thresholds `spend` has reached, lowest first (exact: no float in the comparison)."""
    return sorted(t for t in budget.thresholds if spend * 100 >= budget.limit_usd * t)


def budget_alert(
    budget: Budget, threshold: int, start: datetime, spend: Decimal, now: datetime
) -> Alert:
    where = {
        BudgetScope.SERVICE: "the service",
        BudgetScope.AGENT_TYPE: f"agent type {budget.agent_type}",
        BudgetScope.USER: f"user {budget.key}",
        BudgetScope.CONVERSATION: f"conversation {budget.key}",
    }[budget.scope]
    return Alert(
        alert_id=f"budget:{budget.name}:{start:%Y-%m-%d}:{threshold}",
        kind=AlertKind.BUDGET,
        rule=budget.name,
        period_start=start,
        fired_at=now,
        message=(
            f"{where} spent {spend} USD of its {budget.period.value} budget of "
            f"{budget.limit_usd} USD ({threshold}% reached)"
        ),
        threshold_percent=threshold,
        spend_usd=spend,
        limit_usd=budget.limit_usd,
        agent_type=budget.agent_type,
    )


def failure_window_start(rule: FailureRateRule, now: datetime) -> datetime:
    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return hour - timedelta(hours=rule.window_hours - 1)


def failure_alert(rule: FailureRateRule, start: datetime, rate: float, now: datetime) -> Alert:
    return Alert(
        alert_id=f"failure_rate:{rule.name}:{start:%Y-%m-%dT%H}",
        kind=AlertKind.FAILURE_RATE,
        rule=rule.name,
        period_start=start,
        fired_at=now,
        message=(
            f"{rule.agent_type} failed {rate:.0%} of its finished tasks since "
            f"{start:%Y-%m-%d %H:00} UTC (alert at {rule.max_failure_rate:.0%})"
        ),
        failure_rate=rate,
        agent_type=rule.agent_type,
    )
