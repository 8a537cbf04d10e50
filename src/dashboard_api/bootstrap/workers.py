"""Every background loop of a running service, started and stopped in one place.

Start order: the adapters' own loops (the rollup compactor), the hub's live feed, then the
consumers that write (ingestion, the groote-ai stream and status notes, the hand-off relay),
then the periodic jobs (processed-event and data retention, alert checks), then the demo
engine. They stop in the reverse order, each awaited until it has ended, the hub's feed last
but one and the adapters' loops last, so nothing writes into a closed pool or bus."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any

from dashboard_api.adapters.demo.engine import DemoEngine
from dashboard_api.bootstrap.failures import FailureLog
from dashboard_api.bootstrap.services import Services
from dashboard_api.engine import EnginePublisher

_log = logging.getLogger(__name__)


class Workers:
    """The running loops, by name, in start order."""

    def __init__(self) -> None:
        self.tasks: dict[str, asyncio.Task[Any]] = {}

    def start(self, name: str, loop: Awaitable[Any]) -> None:
        self.tasks[name] = asyncio.ensure_future(loop)
        self.tasks[name].set_name(name)

    async def stop(self) -> None:
        for name in reversed(list(self.tasks)):
            task = self.tasks[name]
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def every(
    seconds: float, round_: Callable[[], Awaitable[object]], what: str, *, first_wait: bool = False
) -> Coroutine[Any, Any, None]:
    """Run `round_` every `seconds`; a failed round (a database or queue down) is logged
    (`FailureLog`) and the next one tries again."""

    async def loop() -> None:
        failures = FailureLog(what, logger=_log)
        if first_wait:
            await asyncio.sleep(seconds)
        while True:
            try:
                await round_()
            except Exception as exc:
                failures.failed(exc)
            else:
                failures.succeeded()
            await asyncio.sleep(seconds)

    return loop()


def demo_engine(services: Services) -> DemoEngine:
    adapters = services.adapters
    return DemoEngine(
        publisher=EnginePublisher(adapters.bus, adapters.ingest),
        bus=adapters.bus,
        tasks=services.tasks,
        conversations=services.conversations,
        unit_of_work=adapters.unit_of_work,
        oauth=adapters.oauth,
        engine_queue=services.settings.engine_queue,
        redis_url=services.settings.redis_url,
        clock=services.clock,
    )


LEFT_OVER_ANNOUNCEMENTS_SECONDS = 2.0


@contextlib.asynccontextmanager
async def running(services: Services) -> AsyncIterator[Workers]:
    """Start every loop the services need; on the way out stop them all, in reverse order."""
    settings = services.settings
    workers = Workers()
    demo = demo_engine(services) if settings.demo else None
    if demo is not None:
        await demo.backfill()  # before serving: every chart has data at first load
    hub_started = False
    try:
        for name, loop in services.adapters.loops.items():
            workers.start(name, loop())
        await services.hub.start()
        hub_started = True
        workers.start("ingestor", services.ingestor.run())
        if services.groote_ingestor is not None:
            workers.start("groote-events", services.groote_ingestor.run())
        if settings.groote_events and settings.redis_url:
            from dashboard_api.adapters.redis.groote_status import listen_for_status_notes

            notes = listen_for_status_notes(settings.redis_url, services.groote.status_note)
            workers.start("groote-status-notes", notes)
        workers.start(
            "handoff-relay",
            every(
                settings.handoff_retry_seconds, services.relay.deliver_all, "hand-off relay round"
            ),
        )
        workers.start("event-retention", _forget_processed_events(services))
        # What a REST change staged and its process did not publish (it died after the
        # commit, or the bus failed): every replica looks, a staged part is published once.
        workers.start(
            "left-over-announcements",
            every(
                LEFT_OVER_ANNOUNCEMENTS_SECONDS,
                services.tasks.announcer.announce_left_over,
                "left-over announcement round",
            ),
        )
        if services.retention is not None:
            workers.start(
                "retention",
                every(
                    settings.retention_interval_seconds,
                    services.retention.run_once,
                    "retention pass",
                ),
            )
        # Always running: besides the rules, a round refreshes the cost and outcome series.
        workers.start(
            "alert-checks",
            every(settings.alerts_check_seconds, services.alerts.check, "alert check"),
        )
        if demo is not None:
            workers.start("demo-engine", demo.run())
        yield workers
    finally:
        await _stop(workers, services, hub_started)


async def _stop(workers: Workers, services: Services, hub_started: bool) -> None:
    adapter_loops = set(services.adapters.loops)
    own = Workers()
    own.tasks = {n: t for n, t in workers.tasks.items() if n not in adapter_loops}
    await own.stop()
    if hub_started:
        await services.hub.stop()
    rest = Workers()
    rest.tasks = {n: t for n, t in workers.tasks.items() if n in adapter_loops}
    await rest.stop()
    await services.alert_sender.close()


async def _forget_processed_events(services: Services) -> None:
    """Keep the processed-event marks for the configured time, pruning a few times per period."""
    retention = timedelta(hours=services.settings.processed_events_retention_hours)
    interval = min(retention.total_seconds() / 4, 3600.0)
    while True:
        try:
            forgotten = await services.tasks.forget_processed_events(retention)
        except Exception as exc:  # a database outage: try again next time
            _log.warning("processed-event retention failed: %r", exc)
        else:
            if forgotten:
                _log.info("forgot %d processed-event marks older than %s", forgotten, retention)
        await asyncio.sleep(interval)
