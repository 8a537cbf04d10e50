"""Checks budgets and failure rates on the rollups, fires each alert once, and tells everyone.

A fired alert is stored (the store keeps its id unique, which deduplicates across replicas and
restarts), published on the `alerts` channel and POSTed to every outgoing webhook, signed with
HMAC-SHA256 and retried with backoff; every attempt is recorded.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import msgspec

from dashboard_api.domain.clock import Clock, utc_now
from dashboard_api.domain.model.budgets import (
    Alert,
    Budget,
    BudgetScope,
    BudgetStatus,
    DeliveryAttempt,
    FailureRateRule,
    budget_alert,
    crossed_thresholds,
    failure_alert,
    failure_window_start,
)
from dashboard_api.domain.model.channels import ALERTS_CHANNEL
from dashboard_api.domain.model.rollups import Figures
from dashboard_api.domain.model.spend import SpendDimension
from dashboard_api.domain.ports import AlertSender, AlertStore, EventBus, SpendStore
from dashboard_api.domain.services.analytics import AnalyticsService

_log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Dashboard-Signature"
TIMESTAMP_HEADER = "X-Dashboard-Timestamp"
_BODY = msgspec.json.Encoder(decimal_format="number")


class AlertWebhook(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: str
    url: str
    secret: str | None = None


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256 over `timestamp.body`: the receiver recomputes it with the
    shared secret, and the timestamp in the signed text stops an old alert being replayed."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class AlertService:
    def __init__(
        self,
        *,
        store: AlertStore,
        analytics: AnalyticsService,
        bus: EventBus,
        sender: AlertSender,
        budgets: Sequence[Budget] = (),
        failure_rules: Sequence[FailureRateRule] = (),
        webhooks: Sequence[AlertWebhook] = (),
        spend: SpendStore | None = None,
        retry_delays: Sequence[float] = (1.0, 5.0, 30.0, 120.0),
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._analytics = analytics
        self._bus = bus
        self._sender = sender
        self._budgets = tuple(budgets)
        self._failure_rules = tuple(failure_rules)
        self._webhooks = tuple(webhooks)
        self._spend_rows = spend
        self._retry_delays = tuple(retry_delays)
        self._clock = clock
        self._deliveries: set[asyncio.Task[None]] = set()
        self.fired = 0
        # All-time figures per agent type as of the last check, for /metrics (read at scrape
        # time without touching the database).
        self.agent_totals: dict[str, Figures] = {}

    async def budget_statuses(self) -> list[BudgetStatus]:
        """Spend of every budget in its current period, from the rollups."""
        now = self._clock()
        statuses = []
        for budget in self._budgets:
            start = budget.period.start_of(now)
            spend = await self._spend(budget, start)
            used = float(spend / budget.limit_usd * 100) if budget.limit_usd else 0.0
            statuses.append(
                BudgetStatus(
                    name=budget.name,
                    scope=budget.scope,
                    agent_type=budget.agent_type,
                    key=budget.key,
                    period=budget.period,
                    period_start=start,
                    limit_usd=budget.limit_usd,
                    spend_usd=spend,
                    used_percent=round(used, 2),
                )
            )
        return statuses

    async def check(self) -> list[Alert]:
        """One round: fire what was crossed and not fired yet; returns the alerts this call
        fired (another replica may have fired the others)."""
        now = self._clock()
        self.agent_totals = await self._analytics.totals_by_agent_type()
        candidates: list[Alert] = []
        for status, budget in zip(await self.budget_statuses(), self._budgets, strict=True):
            for threshold in crossed_thresholds(budget, status.spend_usd):
                candidates.append(
                    budget_alert(budget, threshold, status.period_start, status.spend_usd, now)
                )
        for rule in self._failure_rules:
            start = failure_window_start(rule, now)
            summary = await self._analytics.summary(start, None, rule.agent_type)
            finished = summary.completed_tasks + summary.failed_tasks
            if finished >= rule.min_finished and finished:
                rate = summary.failed_tasks / finished
                if rate >= rule.max_failure_rate:
                    candidates.append(failure_alert(rule, start, rate, now))
        fired = [alert for alert in candidates if await self._store.fire(alert)]
        for alert in fired:
            self.fired += 1
            _log.warning("alert fired: %s", alert.message, extra={"alert_id": alert.alert_id})
            await self._publish(alert)
            for webhook in self._webhooks:
                delivery = asyncio.create_task(self.deliver(alert, webhook))
                self._deliveries.add(delivery)
                delivery.add_done_callback(self._deliveries.discard)
        return fired

    async def recent(self, *, limit: int, before: datetime | None = None) -> list[Alert]:
        return await self._store.recent(limit=limit, before=before)

    async def attempts(self, alert_id: str) -> list[DeliveryAttempt]:
        return await self._store.attempts(alert_id)

    async def deliver(self, alert: Alert, webhook: AlertWebhook) -> None:
        """POST the alert until the endpoint answers 2xx or the retries run out, waiting
        longer before each retry; each attempt is recorded."""
        body = _BODY.encode(alert)
        for attempt, delay in enumerate((0.0, *self._retry_delays), start=1):
            await asyncio.sleep(delay)
            timestamp = str(int(self._clock().timestamp()))
            headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp}
            if webhook.secret:
                headers[SIGNATURE_HEADER] = signature(webhook.secret, timestamp, body)
            status: int | None = None
            error: str | None = None
            try:
                status = await self._sender.send(webhook.url, headers, body)
            except OSError as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
            record = DeliveryAttempt(
                alert_id=alert.alert_id,
                endpoint=webhook.name,
                attempt=attempt,
                at=self._clock(),
                status_code=status,
                error=error,
            )
            await self._store.record_attempt(record)
            if record.delivered:
                return
        _log.warning("alert %s not delivered to %s", alert.alert_id, webhook.name)

    async def drain(self) -> None:
        """Wait for the deliveries under way (tests, and a graceful stop)."""
        while self._deliveries:
            await asyncio.gather(*self._deliveries, return_exceptions=True)

    async def _spend(self, budget: Budget, start: datetime) -> Decimal:
        if budget.scope in (BudgetScope.USER, BudgetScope.CONVERSATION):
            if self._spend_rows is None:
                return Decimal(0)
            dimension = SpendDimension(budget.scope.value)
            rows = await self._spend_rows.totals(dimension, start, None, key=budget.key, limit=1)
            return rows[0].cost_usd if rows else Decimal(0)
        agent_type = budget.agent_type if budget.scope is BudgetScope.AGENT_TYPE else None
        # From a period start (a whole day) with no end: whole rollup rows only, no task scan.
        summary = await self._analytics.summary(start, None, agent_type)
        return summary.total_cost_usd

    async def _publish(self, alert: Alert) -> None:
        event = {"type": "alert", **msgspec.to_builtins(alert)}
        try:
            await self._bus.publish(ALERTS_CHANNEL, event)
        except Exception:  # stored already: the REST list and the webhooks still have it
            _log.warning("alert %s not published", alert.alert_id, exc_info=True)
