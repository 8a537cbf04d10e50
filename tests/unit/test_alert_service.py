"""Budgets and failure rates in memory: each alert fires once, is published and sent signed."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from decimal import Decimal

from dashboard_api.adapters.http_sender import HttpAlertSender
from dashboard_api.adapters.memory import (
    MemoryDatabase,
    MemoryRollupStore,
    MemoryTaskStore,
    MemoryUnitOfWork,
)
from dashboard_api.adapters.memory.alerts import MemoryAlertStore
from dashboard_api.domain.model.budgets import Budget, BudgetScope, FailureRateRule, Period
from dashboard_api.domain.model.tasks import NewTask, TaskPatch, TaskStatus
from dashboard_api.domain.services.alerts import AlertService, AlertWebhook
from dashboard_api.domain.services.analytics import AnalyticsService
from dashboard_api.domain.services.tasks import TaskService
from tests.alert_receiver import alert_receiver
from tests.unit.fakes import RecordingBus, SteppingClock

NOW = datetime(2026, 11, 18, 15, 30, tzinfo=UTC)  # a Wednesday
SECRET = "s3cret"


class World:
    def __init__(self) -> None:
        self.db = MemoryDatabase()
        self.clock = SteppingClock(NOW)
        self.bus = RecordingBus()
        self.store = MemoryAlertStore()
        self.tasks = TaskService(
            unit_of_work=lambda: MemoryUnitOfWork(self.db),
            reads=MemoryTaskStore(self.db),
            bus=self.bus,
            clock=self.clock,
        )
        self.analytics = AnalyticsService(
            rollups=MemoryRollupStore(self.db.rollups, lambda: self.db.tasks),
            tasks=MemoryTaskStore(self.db),
            clock=self.clock,
        )

    def service(self, url: str = "http://127.0.0.1:9/none", **rules: object) -> AlertService:
        return AlertService(
            store=self.store,
            analytics=self.analytics,
            bus=self.bus,
            sender=HttpAlertSender(timeout_seconds=2),
            webhooks=[AlertWebhook(name="ops", url=url, secret=SECRET)],
            retry_delays=(0.01, 0.01),
            clock=self.clock,
            **rules,  # type: ignore[arg-type]
        )

    async def spend(
        self, agent_type: str, usd: str, status: TaskStatus = TaskStatus.COMPLETED
    ) -> None:
        task = await self.tasks.register(NewTask(agent_type=agent_type))
        await self.tasks.update(task.task_id, TaskPatch(status=status, cost_usd=Decimal(usd)))


def test_periods_start_at_utc_day_iso_week_and_month() -> None:
    assert Period.DAY.start_of(NOW) == datetime(2026, 11, 18, tzinfo=UTC)
    assert Period.WEEK.start_of(NOW) == datetime(2026, 11, 16, tzinfo=UTC)
    assert Period.MONTH.start_of(NOW) == datetime(2026, 11, 1, tzinfo=UTC)


async def test_a_budget_alerts_once_per_threshold_published_and_delivered_signed() -> None:
    world = World()
    budget = Budget(
        name="coder-month",
        scope=BudgetScope.AGENT_TYPE,
        agent_type="coder",
        limit_usd=Decimal("10"),
        thresholds=(50, 80, 100),
    )
    async with alert_receiver(script=[503]) as receiver:
        service = world.service(receiver.url, budgets=[budget])
        await world.spend("coder", "4.999999")
        await world.spend("planner", "100")  # another agent type's spend does not count
        assert await service.check() == []
        await world.spend("coder", "3.000001")  # 8.000000: 50% and 80% at once
        fired = await service.check()
        assert [alert.threshold_percent for alert in fired] == [50, 80]
        assert await service.check() == []  # checked again: nothing new
        await service.drain()

        assert [event["alert_id"] for event in world.bus.on("alerts")] == [
            "budget:coder-month:2026-11-01:50",
            "budget:coder-month:2026-11-01:80",
        ]
        # The first POST got a 503 and was retried; every attempt is on record.
        first = await service.attempts("budget:coder-month:2026-11-01:50")
        second = await service.attempts("budget:coder-month:2026-11-01:80")
        statuses = sorted([a.status_code for a in first + second if a.status_code])
        assert statuses == [200, 200, 503]
        assert len(receiver.received) == 3
        for request in receiver.received:
            signed = request.headers["x-dashboard-timestamp"].encode() + b"." + request.body
            expected = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
            assert request.headers["x-dashboard-signature"] == f"sha256={expected}"
        body = json.loads(receiver.received[-1].body)
        assert body["kind"] == "budget"
        assert (body["spend_usd"], body["limit_usd"]) == (8, 10)

    statuses_now = await service.budget_statuses()
    assert (statuses_now[0].spend_usd, statuses_now[0].used_percent) == (Decimal("8"), 80.0)


async def test_a_new_period_starts_the_thresholds_again() -> None:
    world = World()
    service = world.service(
        budgets=[Budget(name="daily", limit_usd=Decimal("1"), period=Period.DAY)]
    )
    await world.spend("coder", "1")
    assert len(await service.check()) == 3
    world.clock.advance(days=1)
    assert await service.check() == []  # yesterday's spend is not today's
    await world.spend("coder", "0.5")
    assert [a.alert_id for a in await service.check()] == ["budget:daily:2026-11-19:50"]
    await service.drain()
    # An unreachable endpoint: each try is recorded with its error, then it gives up.
    attempts = await service.attempts("budget:daily:2026-11-19:50")
    assert [a.attempt for a in attempts] == [1, 2, 3]
    assert all(a.status_code is None and a.error for a in attempts)


async def test_a_failure_rate_alert_needs_enough_finished_tasks() -> None:
    world = World()
    rule = FailureRateRule(
        name="coder-failing", agent_type="coder", max_failure_rate=0.5, min_finished=4
    )
    service = world.service(failure_rules=[rule])
    for status in (TaskStatus.FAILED, TaskStatus.FAILED, TaskStatus.COMPLETED):
        await world.spend("coder", "0", status)
    assert await service.check() == []  # 3 finished: too few to judge
    await world.spend("coder", "0", TaskStatus.COMPLETED)
    (alert,) = await service.check()
    assert (alert.alert_id, alert.failure_rate) == ("failure_rate:coder-failing:2026-11-18T15", 0.5)
    assert await service.check() == []
    await service.drain()


def test_clients_may_subscribe_to_the_alerts_channel() -> None:
    from dashboard_api.domain.realtime.protocol import is_channel

    assert is_channel("alerts")
    assert not is_channel("alerts:x")
