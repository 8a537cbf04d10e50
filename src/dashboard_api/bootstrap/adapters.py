"""The adapters: every store, bus and queue the services need, from settings or in memory.

Building them opens pools and connections and starts nothing: the loops some adapters need (the
rollup compactor) are handed to bootstrap/workers.py, which starts and stops every loop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dashboard_api.domain.ports import (
    AlertStore,
    ConversationStore,
    EventBus,
    IngestQueue,
    MessageStore,
    OAuthStatusStore,
    OriginStore,
    RequestCounter,
    RetentionStore,
    RollupStore,
    SourceStore,
    SpendStore,
    TaskStore,
    TicketStore,
    UnitOfWorkFactory,
    WebhookConfigSource,
    WebhookEventStore,
    WebhookRollupStore,
    WorkQueue,
)
from dashboard_api.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

HealthCheck = Callable[[], Awaitable[None]]


@dataclass
class Adapters:
    """Everything the services need from outside. An embedder may build its own."""

    unit_of_work: UnitOfWorkFactory
    # Standalone reads (outside a unit of work, which has the same stores for writes).
    task_reads: TaskStore
    rollup_reads: RollupStore
    conversations: ConversationStore
    messages: MessageStore
    webhook_events: WebhookEventStore
    webhook_rollups: WebhookRollupStore
    sources: SourceStore
    oauth: OAuthStatusStore
    bus: EventBus
    # Where hand-offs go: the engine's task queue and the indexer's job queue.
    work_queue: WorkQueue
    # Webhook config sources in order of precedence (the config file before the database).
    webhook_configs: list[WebhookConfigSource] = field(default_factory=list)
    # Spend per user, conversation and source (reads); None: those figures are not answered.
    spend: SpendStore | None = None
    # Where engines' lifecycle events arrive durably (a Redis Stream, or in-process by default).
    ingest: IngestQueue = field(default_factory=lambda: _memory_ingest())
    # WebSocket tickets and rate-limit counts: in Redis when configured, so replicas share them.
    tickets: TicketStore = field(default_factory=lambda: _memory_tickets())
    request_counter: RequestCounter = field(default_factory=lambda: _memory_request_counter())
    # Flows of conversations and origins of tasks that engines report (domain/origins.py).
    origins: OriginStore = field(default_factory=lambda: _memory_origins())
    # The groote-ai engine's event stream, when DASHBOARD_GROOTE_EVENTS turns it on.
    groote_events: IngestQueue | None = None
    # Named probes for /ready and /api/status ("database", "redis"): each raises when unreachable.
    health_checks: dict[str, HealthCheck] = field(default_factory=dict)
    # Fired alerts; None: kept in process memory (one replica's dedupe only).
    alerts: AlertStore | None = None
    # What the retention job prunes through; None: no retention.
    retention: RetentionStore | None = None
    # Loops an adapter needs while the app runs, by name; bootstrap/workers.py runs them.
    loops: dict[str, Callable[[], Awaitable[None]]] = field(default_factory=dict)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def close(self) -> None:
        for close in reversed(self.closers):
            await close()


def _memory_origins() -> OriginStore:
    from dashboard_api.adapters.memory.origins import MemoryOriginStore

    return MemoryOriginStore()


def _memory_ingest() -> IngestQueue:
    from dashboard_api.adapters.memory import MemoryIngestQueue

    return MemoryIngestQueue()


def _memory_tickets() -> TicketStore:
    from dashboard_api.adapters.memory.edge import MemoryTicketStore

    return MemoryTicketStore()


def _memory_request_counter() -> RequestCounter:
    from dashboard_api.adapters.memory.edge import MemoryRequestCounter

    return MemoryRequestCounter()


def memory_adapters(*, history_length: int = 1000) -> Adapters:
    """Everything in process memory: for embedders, tests and demos."""
    from dashboard_api.adapters.memory import (
        MemoryDatabase,
        MemoryEventBus,
        MemoryIngestQueue,
        MemoryRollupStore,
        MemoryTaskStore,
        MemoryUnitOfWork,
    )
    from dashboard_api.adapters.memory.conversations import MemoryWorkQueue
    from dashboard_api.adapters.memory.retention import MemoryRetentionStore
    from dashboard_api.adapters.memory.sources import MemoryOAuthStatusStore
    from dashboard_api.adapters.memory.unit_of_work import MemoryStores
    from dashboard_api.adapters.memory.webhooks import MemoryWebhookConfigs

    db = MemoryDatabase()
    bus = MemoryEventBus(history_length=history_length)
    stores = MemoryStores(db)
    return Adapters(
        unit_of_work=lambda: MemoryUnitOfWork(db),
        task_reads=MemoryTaskStore(db),
        rollup_reads=MemoryRollupStore(db.rollups, lambda: db.tasks),
        conversations=stores.conversations,
        messages=stores.messages,
        webhook_events=stores.webhook_events,
        webhook_rollups=stores.webhook_rollups,
        sources=stores.sources,
        oauth=MemoryOAuthStatusStore(),
        bus=bus,
        work_queue=MemoryWorkQueue(),
        webhook_configs=[MemoryWebhookConfigs()],
        spend=stores.spend,
        ingest=MemoryIngestQueue(),
        retention=MemoryRetentionStore(db),
        closers=[bus.close],
    )


async def build_adapters(settings: Settings) -> Adapters:
    """Adapters for the configured database and bus. Opens pools; call inside the event loop."""
    from sqlalchemy import text

    from dashboard_api.adapters.memory import MemoryEventBus, MemoryIngestQueue
    from dashboard_api.adapters.sqlalchemy.alerts import SqlAlertStore
    from dashboard_api.adapters.sqlalchemy.conversations import (
        SqlConversationStore,
        SqlMessageStore,
    )
    from dashboard_api.adapters.sqlalchemy.engine import autocommit, create_engine
    from dashboard_api.adapters.sqlalchemy.origins import SqlOriginStore
    from dashboard_api.adapters.sqlalchemy.retention import SqlRetentionStore
    from dashboard_api.adapters.sqlalchemy.rollups.compactor import RollupCompactor
    from dashboard_api.adapters.sqlalchemy.rollups.store import SqlRollupStore
    from dashboard_api.adapters.sqlalchemy.sources import SqlOAuthStatusStore, SqlSourceStore
    from dashboard_api.adapters.sqlalchemy.spend import SqlSpendStore
    from dashboard_api.adapters.sqlalchemy.tasks import SqlTaskStore
    from dashboard_api.adapters.sqlalchemy.unit_of_work import SqlUnitOfWork
    from dashboard_api.adapters.sqlalchemy.webhooks import (
        SqlWebhookEventStore,
        SqlWebhookRollupStore,
    )

    engine = create_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        connect_timeout=settings.db_connect_timeout_seconds,
        statement_timeout=settings.db_statement_timeout_seconds,
    )
    compactor = RollupCompactor(engine, interval=settings.rollup_compact_seconds)

    async def database_check() -> None:
        async with autocommit(engine).connect() as connection:  # no transaction, no lock
            await connection.execute(text("SELECT 1"))

    checks: dict[str, HealthCheck] = {"database": database_check}
    closers: list[Callable[[], Awaitable[None]]] = [engine.dispose]
    bus: EventBus
    ingest: IngestQueue
    if settings.redis_url:
        from dashboard_api.adapters.redis.bus import RedisEventBus, resilient_client
        from dashboard_api.adapters.redis.ingest import RedisIngestQueue
        from dashboard_api.domain.services.ingestion import BLOCK_MS

        redis_bus = RedisEventBus.from_url(
            settings.redis_url,
            history_length=settings.history_length,
            history_ttl_seconds=settings.history_ttl_seconds,
            heartbeat_seconds=settings.redis_heartbeat_seconds,
            timeout=settings.redis_timeout_seconds,
        )
        bus = redis_bus
        # Its own client: XREADGROUP blocks a connection for seconds at a time.
        ingest_redis = resilient_client(
            settings.redis_url,
            timeout=settings.redis_timeout_seconds,
            blocking_seconds=BLOCK_MS / 1000,
        )
        ingest = RedisIngestQueue(
            ingest_redis,
            stream=settings.ingest_stream,
            group=settings.ingest_group,
            dead_letter_stream=settings.ingest_dead_letter_stream,
            consumer=settings.ingest_consumer,
            lease_ms=settings.ingest_lease_ms,
        )
        checks["redis"] = redis_bus.ping
        closers += [redis_bus.close, ingest_redis.aclose]
        groote_events = _groote_events(settings, closers)
    else:
        memory_bus = MemoryEventBus(
            history_length=settings.history_length,
            history_ttl_seconds=settings.history_ttl_seconds,
        )
        bus = memory_bus
        ingest = MemoryIngestQueue()
        closers.append(memory_bus.close)
        groote_events = None
    tickets, request_counter = _edge_stores(settings, closers)
    return Adapters(
        unit_of_work=lambda: SqlUnitOfWork(engine),
        task_reads=SqlTaskStore(engine),
        rollup_reads=SqlRollupStore(engine),
        conversations=SqlConversationStore(engine),
        messages=SqlMessageStore(engine),
        webhook_events=SqlWebhookEventStore(engine),
        webhook_rollups=SqlWebhookRollupStore(engine),
        sources=SqlSourceStore(engine),
        oauth=SqlOAuthStatusStore(engine),
        bus=bus,
        work_queue=_work_queue(settings, bus, closers),
        webhook_configs=_webhook_configs(settings, engine),
        spend=SqlSpendStore(engine),
        loops={"rollup-compactor": compactor.run},
        ingest=ingest,
        alerts=SqlAlertStore(engine),
        retention=SqlRetentionStore(engine),
        origins=SqlOriginStore(engine),
        groote_events=groote_events,
        health_checks=checks,
        closers=closers,
        tickets=tickets,
        request_counter=request_counter,
    )


def _edge_stores(
    settings: Settings, closers: list[Callable[[], Awaitable[None]]]
) -> tuple[TicketStore, RequestCounter]:
    """WebSocket tickets and rate-limit counts: in Redis (shared by the replicas) on a client
    of their own, one short command per request; else in process."""
    if not settings.redis_url:
        return _memory_tickets(), _memory_request_counter()
    from dashboard_api.adapters.redis.bus import resilient_client
    from dashboard_api.adapters.redis.edge import RedisRequestCounter, RedisTicketStore

    client = resilient_client(settings.redis_url, timeout=settings.redis_timeout_seconds)
    closers.append(client.aclose)
    return RedisTicketStore(client), RedisRequestCounter(client)


def _groote_events(
    settings: Settings, closers: list[Callable[[], Awaitable[None]]]
) -> IngestQueue | None:
    if not settings.groote_events or not settings.redis_url:
        return None
    from dashboard_api.adapters.redis.bus import resilient_client
    from dashboard_api.adapters.redis.groote_stream import GrooteStreamQueue
    from dashboard_api.domain.model.groote_events import HANDLED_TYPES

    redis = resilient_client(settings.redis_url)  # its own: XREADGROUP blocks a connection
    closers.append(redis.aclose)
    return GrooteStreamQueue(
        redis,
        stream=settings.groote_events,
        group=settings.groote_group,
        dead_letter_stream=settings.groote_dead_letter_stream,
        handled_types=HANDLED_TYPES,
        start_id=settings.groote_start_id,
    )


def _work_queue(
    settings: Settings, bus: EventBus, closers: list[Callable[[], Awaitable[None]]]
) -> WorkQueue:
    """Hand-offs go to Redis Streams when Redis is configured, else over the in-process bus."""
    if not settings.redis_url:
        from dashboard_api.adapters.memory.bus_queue import BusWorkQueue

        return BusWorkQueue(bus)
    from dashboard_api.adapters.redis.work_queue import RedisStreamWorkQueue

    stream_queue = RedisStreamWorkQueue.from_url(
        settings.redis_url,
        max_length=settings.work_queue_max_length,
        timeout=settings.redis_timeout_seconds,
    )
    closers.append(stream_queue.close)
    return stream_queue


def _webhook_configs(settings: Settings, engine: AsyncEngine) -> list[WebhookConfigSource]:
    from pathlib import Path

    from dashboard_api.adapters.files.webhook_file import WebhookConfigFile
    from dashboard_api.adapters.sqlalchemy.webhooks import SqlWebhookConfigs

    configs: list[WebhookConfigSource] = []
    if settings.webhooks_file:
        configs.append(WebhookConfigFile(Path(settings.webhooks_file)))
    configs.append(SqlWebhookConfigs(engine))
    return configs
