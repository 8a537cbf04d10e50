"""What runs beside the HTTP handlers for the app's lifetime: the hub and the ingestor."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from dashboard_api.adapters.demo.engine import DemoEngine
from dashboard_api.bootstrap.adapters import Adapters
from dashboard_api.domain.errors import NotFound
from dashboard_api.domain.model.channels import status_event
from dashboard_api.domain.realtime.hub import Hub
from dashboard_api.domain.services.ingestion import Ingestor
from dashboard_api.domain.services.task_events import LIFECYCLE_TYPES, lifecycle_batch_handler
from dashboard_api.domain.services.tasks import TaskService
from dashboard_api.settings import Settings

log = logging.getLogger(__name__)


def build_hub(adapters: Adapters, tasks: TaskService, settings: Settings) -> Hub:
    async def final_status(task_id: str) -> Mapping[str, Any] | None:
        # Once per subscription to task:{id}: a finished task's status is sent at once.
        try:
            task = await tasks.get(task_id)
        except NotFound:
            return None
        return status_event(task) if task.status.is_terminal else None

    return Hub(
        adapters.bus,
        history_limit=settings.history_length,
        max_subscriptions=settings.ws_max_subscriptions,
        final_status=final_status,
    )


def build_ingestor(adapters: Adapters, tasks: TaskService, settings: Settings) -> Ingestor:
    ingestor = Ingestor(
        adapters.ingest,
        batch=settings.ingest_batch,
        refusable=_unstorable,
    )
    ingestor.register_batch(
        LIFECYCLE_TYPES, lifecycle_batch_handler(tasks), opening=("task.created",)
    )
    return ingestor


def _unstorable(error: Exception) -> bool:
    """The database refused a value of the event itself (a data or constraint error that a
    retry would meet again): that event is dead-lettered, not retried for ever."""
    from sqlalchemy.exc import DataError, IntegrityError

    return isinstance(error, DataError | IntegrityError)


async def forget_processed_events(tasks: TaskService, retention: timedelta) -> None:
    """Keep the processed-event marks for `retention`, pruning a few times per period."""
    interval = min(retention.total_seconds() / 4, 3600.0)
    while True:
        try:
            forgotten = await tasks.forget_processed_events(retention)
        except Exception as exc:  # a database outage: try again next time
            log.warning("processed-event retention failed: %r", exc)
        else:
            if forgotten:
                log.info("forgot %d processed-event marks older than %s", forgotten, retention)
        await asyncio.sleep(interval)


@asynccontextmanager
async def running(
    hub: Hub,
    ingestor: Ingestor,
    *,
    demo_engine: DemoEngine | None = None,
    retention: tuple[TaskService, timedelta] | None = None,
) -> AsyncIterator[None]:
    """Start the hub's live feed, the ingest loop, the retention of processed-event marks
    and (in demo mode) the simulated engine; stop them on the way out."""
    await hub.start()
    workers = [asyncio.create_task(ingestor.run(), name="ingestor")]
    if retention is not None:
        workers.append(
            asyncio.create_task(forget_processed_events(*retention), name="event-retention")
        )
    if demo_engine is not None:
        workers.append(asyncio.create_task(demo_engine.run(), name="demo-engine"))
    try:
        yield
    finally:
        for worker in workers:
            worker.cancel()
        for worker in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        await hub.stop()
