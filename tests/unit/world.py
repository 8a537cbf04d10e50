"""One in-memory world of services for unit tests: tasks, chat, webhooks, sources."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from dashboard_api.adapters.memory import MemoryDatabase, MemoryTaskStore, MemoryUnitOfWork
from dashboard_api.adapters.memory.conversations import MemoryWorkQueue
from dashboard_api.adapters.memory.sources import MemoryOAuthStatusStore
from dashboard_api.adapters.memory.unit_of_work import MemoryStores
from dashboard_api.adapters.memory.webhooks import MemoryWebhookConfigs
from dashboard_api.domain.services.conversations import ConversationService
from dashboard_api.domain.services.handoff import HandoffRelay
from dashboard_api.domain.services.sources import OAuthStatusService, SourceService
from dashboard_api.domain.services.tasks import TaskService
from dashboard_api.domain.services.webhooks import WebhookService
from tests.unit.fakes import RecordingBus, SteppingClock

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ENGINE = "engine-queue"
INDEXER = "indexer-queue"


@dataclass
class World:
    db: MemoryDatabase
    clock: SteppingClock
    bus: RecordingBus
    queue: MemoryWorkQueue
    relay: HandoffRelay
    tasks: TaskService
    conversations: ConversationService
    webhooks: WebhookService
    db_configs: MemoryWebhookConfigs
    file_configs: MemoryWebhookConfigs
    sources: SourceService
    oauth: OAuthStatusService

    async def pending_handoffs(self) -> int:
        async with MemoryUnitOfWork(self.db) as uow:
            return len(await uow.outbox.claim(1000))


def build_world() -> World:
    db = MemoryDatabase()
    clock = SteppingClock(START)
    bus = RecordingBus()
    queue = MemoryWorkQueue()
    stores = MemoryStores(db)

    def uow() -> MemoryUnitOfWork:
        return MemoryUnitOfWork(db)

    relay = HandoffRelay(unit_of_work=uow, work_queue=queue)
    tasks = TaskService(unit_of_work=uow, reads=MemoryTaskStore(db), bus=bus, clock=clock)
    db_configs, file_configs = MemoryWebhookConfigs(), MemoryWebhookConfigs()
    return World(
        db=db,
        clock=clock,
        bus=bus,
        queue=queue,
        relay=relay,
        tasks=tasks,
        conversations=ConversationService(
            unit_of_work=uow,
            conversations=stores.conversations,
            messages=stores.messages,
            tasks=tasks,
            relay=relay,
            engine_queue=ENGINE,
            clock=clock,
        ),
        webhooks=WebhookService(
            unit_of_work=uow,
            events=stores.webhook_events,
            rollups=stores.webhook_rollups,
            configs=[file_configs, db_configs],
            bus=bus,
            clock=clock,
        ),
        db_configs=db_configs,
        file_configs=file_configs,
        sources=SourceService(
            unit_of_work=uow, reads=stores.sources, relay=relay, indexer_queue=INDEXER, clock=clock
        ),
        oauth=OAuthStatusService(store=MemoryOAuthStatusStore(), platforms=("github", "jira")),
    )
