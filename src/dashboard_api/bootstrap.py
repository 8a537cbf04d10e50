"""The composition root: the one place that turns settings into adapters and services."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from dashboard_api.domain.ports import EventBus, RollupStore, TaskStore, UnitOfWorkFactory
from dashboard_api.settings import Settings

HealthCheck = Callable[[], Awaitable[None]]


@dataclass
class Adapters:
    """Everything the services need from outside. An embedder may build its own."""

    unit_of_work: UnitOfWorkFactory
    task_reads: TaskStore
    rollup_reads: RollupStore
    bus: EventBus
    # Named probes for /ready and /api/status ("database", "redis"): each raises when unreachable.
    health_checks: dict[str, HealthCheck] = field(default_factory=dict)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def close(self) -> None:
        for close in reversed(self.closers):
            await close()


def memory_adapters(*, history_length: int = 1000) -> Adapters:
    """Everything in process memory: for embedders, tests and demos."""
    from dashboard_api.adapters.memory import (
        MemoryDatabase,
        MemoryEventBus,
        MemoryRollupStore,
        MemoryTaskStore,
        MemoryUnitOfWork,
    )

    db = MemoryDatabase()
    bus = MemoryEventBus(history_length=history_length)
    return Adapters(
        unit_of_work=lambda: MemoryUnitOfWork(db),
        task_reads=MemoryTaskStore(db),
        rollup_reads=MemoryRollupStore(db.rollups, lambda: db.tasks),
        bus=bus,
        closers=[bus.close],
    )


async def build_adapters(settings: Settings) -> Adapters:
    """Adapters for the configured database and bus. Opens pools; call inside the event loop."""
    from sqlalchemy import text

    from dashboard_api.adapters.memory import MemoryEventBus
    from dashboard_api.adapters.sqlalchemy.engine import create_engine
    from dashboard_api.adapters.sqlalchemy.rollup_compactor import RollupCompactor
    from dashboard_api.adapters.sqlalchemy.rollups import SqlRollupStore
    from dashboard_api.adapters.sqlalchemy.tasks import SqlTaskStore, SqlUnitOfWork

    engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
    compactor = RollupCompactor(engine, interval=settings.rollup_compact_seconds)

    async def database_check() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    checks: dict[str, HealthCheck] = {"database": database_check}
    closers: list[Callable[[], Awaitable[None]]] = [engine.dispose, compactor.stop]
    bus: EventBus
    if settings.redis_url:
        from dashboard_api.adapters.redis.bus import RedisEventBus

        redis_bus = RedisEventBus.from_url(
            settings.redis_url, history_length=settings.history_length
        )
        bus = redis_bus
        checks["redis"] = redis_bus.ping
        closers.append(redis_bus.close)
    else:
        memory_bus = MemoryEventBus(history_length=settings.history_length)
        bus = memory_bus
        closers.append(memory_bus.close)
    compactor.start()
    return Adapters(
        unit_of_work=lambda: SqlUnitOfWork(engine),
        task_reads=SqlTaskStore(engine),
        rollup_reads=SqlRollupStore(engine, cache_entries=settings.analytics_cache_entries),
        bus=bus,
        health_checks=checks,
        closers=closers,
    )
