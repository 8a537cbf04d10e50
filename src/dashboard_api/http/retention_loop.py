"""The retention job of an app: ages from the settings, one pass per retention interval."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from dashboard_api.bootstrap.adapters import Adapters
from dashboard_api.domain.clock import Clock
from dashboard_api.domain.model.retention import DataKind
from dashboard_api.domain.services.retention import RetentionJob
from dashboard_api.http.money_metrics import MONEY_METRICS
from dashboard_api.settings import Settings

_log = logging.getLogger(__name__)


def retention_ages(settings: Settings) -> dict[DataKind, timedelta]:
    days = {
        DataKind.TASK_TEXT: settings.retention_task_text_days,
        DataKind.TASKS: settings.retention_tasks_days,
        DataKind.MESSAGES: settings.retention_messages_days,
        DataKind.WEBHOOK_PAYLOADS: settings.retention_webhook_payloads_days,
        DataKind.WEBHOOK_EVENTS: settings.retention_webhook_events_days,
    }
    return {kind: timedelta(days=age) for kind, age in days.items() if age is not None}


@contextlib.asynccontextmanager
async def retention(adapters: Adapters, settings: Settings, clock: Clock) -> AsyncIterator[None]:
    ages = retention_ages(settings)
    if adapters.retention is None or not ages:
        yield
        return
    job = RetentionJob(adapters.retention, ages, batch=settings.retention_batch, clock=clock)
    MONEY_METRICS.retention_jobs.add(job)

    async def rounds() -> None:
        while True:
            try:
                await job.run_once()
            except Exception:  # database down: the next pass goes on where this one stopped
                _log.warning("retention pass failed", exc_info=True)
            await asyncio.sleep(settings.retention_interval_seconds)

    runner = asyncio.create_task(rounds(), name="retention")
    try:
        yield
    finally:
        MONEY_METRICS.retention_jobs.discard(job)
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
