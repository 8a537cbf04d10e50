"""Test data: valid tasks with realistic values, overridable per test."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from polyfactory import Use
from polyfactory.factories.msgspec_factory import MsgspecFactory

from dashboard_api.domain.ids import uuid7
from dashboard_api.domain.model.tasks import Task, TaskStatus

AGENT_TYPES = ("planner", "coder", "reviewer", "researcher")
SOURCES = ("api", "dashboard", "github", "jira", "slack", "sentry")
EPOCH = datetime(2026, 11, 1, tzinfo=UTC)


def _created_at() -> datetime:
    return EPOCH + timedelta(
        seconds=random.randint(0, 20 * 86_400), microseconds=random.randint(0, 999_999)
    )


class TaskFactory(MsgspecFactory[Task]):
    """A queued task; use `finished(...)` for one with a complete timeline and figures."""

    task_id = Use(uuid7)
    status = TaskStatus.QUEUED
    agent_type = Use(random.choice, AGENT_TYPES)
    source = Use(random.choice, SOURCES)
    created_at = Use(_created_at)
    input_message = Use(lambda: "Fix the flaky test in " + random.choice(["api", "ui", "db"]))
    assigned_agent = None
    session_id = None
    conversation_id = None
    output = None
    error = None
    model = Use(random.choice, ["claude-sonnet", "claude-haiku", None])
    cost_usd = Decimal("0")
    price_version = None
    input_tokens = 0
    output_tokens = 0
    cache_read_tokens = 0
    cache_write_tokens = 0
    cache_write_1h_tokens = 0
    reasoning_tokens = 0
    cost_source = None
    cost_breakdown = None
    reported_cost_usd = None
    started_at = None
    completed_at = None
    version = 1

    @classmethod
    def finished(cls, status: TaskStatus = TaskStatus.COMPLETED, **overrides: object) -> Task:
        created = overrides.pop("created_at", None) or _created_at()
        assert isinstance(created, datetime)
        started = created + timedelta(seconds=random.randint(0, 30))
        values: dict[str, object] = {
            "status": status,
            "created_at": created,
            "started_at": started,
            "completed_at": started + timedelta(seconds=random.randint(1, 600)),
            "cost_usd": Decimal(random.randint(0, 5_000_000)) / 1_000_000,
            "input_tokens": random.randint(0, 50_000),
            "output_tokens": random.randint(0, 10_000),
        }
        values.update(overrides)
        return cls.build(**values)
