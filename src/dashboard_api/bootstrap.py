"""The composition root: the one place that turns settings into adapters and services."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from dashboard_api.domain.ports import EventBus, IngestQueue, TaskStore, UnitOfWorkFactory
from dashboard_api.settings import Settings

HealthCheck = Callable[[], Awaitable[None]]


@dataclass
class Adapters:
    """Everything the services need from outside. An embedder may build its own."""

    unit_of_work: UnitOfWorkFactory
    task_reads: TaskStore
    bus: EventBus
    # Where engines' lifecycle events arrive durably (a Redis Stream, or in-process by default).
    ingest: IngestQueue = field(default_factory=lambda: _memory_ingest())
    # Named probes for /ready and /api/status ("database", "redis"): each raises when unreachable.
    health_checks: dict[str, HealthCheck] = field(default_factory=dict)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def close(self) -> None:
        for close in reversed(self.closers):
            await close()


def _memory_ingest() -> IngestQueue:
    from dashboard_api.adapters.memory import MemoryIngestQueue

    return MemoryIngestQueue()


def memory_adapters(*, history_length: int = 1000) -> Adapters:
    """Everything in process memory: for embedders, tests and demos."""
    from dashboard_api.adapters.memory import (
        MemoryDatabase,
        MemoryEventBus,
        MemoryIngestQueue,
        MemoryTaskStore,
        MemoryUnitOfWork,
    )

    db = MemoryDatabase()
    bus = MemoryEventBus(history_length=history_length)
    return Adapters(
        unit_of_work=lambda: MemoryUnitOfWork(db),
        task_reads=MemoryTaskStore(db),
        bus=bus,
        ingest=MemoryIngestQueue(),
        closers=[bus.close],
    )


async def build_adapters(settings: Settings) -> Adapters:
    """Adapters for the configured database and bus. Opens pools; call inside the event loop."""
    from sqlalchemy import text

    from dashboard_api.adapters.memory import MemoryEventBus, MemoryIngestQueue
    from dashboard_api.adapters.sqlalchemy.engine import create_engine
    from dashboard_api.adapters.sqlalchemy.tasks import SqlTaskStore, SqlUnitOfWork

    engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)

    async def database_check() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    checks: dict[str, HealthCheck] = {"database": database_check}
    closers: list[Callable[[], Awaitable[None]]] = [engine.dispose]
    bus: EventBus
    ingest: IngestQueue
    if settings.redis_url:
        from dashboard_api.adapters.redis.bus import RedisEventBus, resilient_client
        from dashboard_api.adapters.redis.ingest import RedisIngestQueue

        redis_bus = RedisEventBus.from_url(
            settings.redis_url,
            history_length=settings.history_length,
            history_ttl_seconds=settings.history_ttl_seconds,
        )
        bus = redis_bus
        # Its own client: XREADGROUP blocks a connection for seconds at a time.
        ingest_redis = resilient_client(settings.redis_url)
        ingest = RedisIngestQueue(
            ingest_redis,
            stream=settings.ingest_stream,
            group=settings.ingest_group,
            dead_letter_stream=settings.ingest_dead_letter_stream,
            claim_idle_ms=settings.ingest_claim_idle_ms,
        )
        checks["redis"] = redis_bus.ping
        closers += [redis_bus.close, ingest_redis.aclose]
    else:
        memory_bus = MemoryEventBus(
            history_length=settings.history_length,
            history_ttl_seconds=settings.history_ttl_seconds,
        )
        bus = memory_bus
        ingest = MemoryIngestQueue()
        closers.append(memory_bus.close)
    return Adapters(
        unit_of_work=lambda: SqlUnitOfWork(engine),
        task_reads=SqlTaskStore(engine),
        bus=bus,
        ingest=ingest,
        health_checks=checks,
        closers=closers,
    )
