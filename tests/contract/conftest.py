"""Each contract test runs against every adapter of the stores (tasks, rollups, conversations,
webhooks, sources): memory, SQLite, PostgreSQL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from dashboard_api.adapters.memory import (
    MemoryDatabase,
    MemoryRollupStore,
    MemoryTaskStore,
    MemoryUnitOfWork,
)
from dashboard_api.adapters.memory.retention import MemoryRetentionStore
from dashboard_api.adapters.memory.sources import MemoryOAuthStatusStore
from dashboard_api.adapters.memory.unit_of_work import MemoryStores
from dashboard_api.adapters.sqlalchemy.conversations import SqlConversationStore, SqlMessageStore
from dashboard_api.adapters.sqlalchemy.retention import SqlRetentionStore
from dashboard_api.adapters.sqlalchemy.rollups.compactor import RollupCompactor
from dashboard_api.adapters.sqlalchemy.rollups.store import SqlRollupStore
from dashboard_api.adapters.sqlalchemy.sources import SqlOAuthStatusStore, SqlSourceStore
from dashboard_api.adapters.sqlalchemy.spend import SqlSpendStore
from dashboard_api.adapters.sqlalchemy.tasks import SqlTaskStore
from dashboard_api.adapters.sqlalchemy.unit_of_work import SqlUnitOfWork
from dashboard_api.adapters.sqlalchemy.webhooks import SqlWebhookEventStore, SqlWebhookRollupStore
from dashboard_api.domain.ports import (
    ConversationStore,
    MessageStore,
    OAuthStatusStore,
    RetentionStore,
    RollupStore,
    SourceStore,
    SpendStore,
    TaskStore,
    UnitOfWorkFactory,
    WebhookEventStore,
    WebhookRollupStore,
)


async def _no_compaction() -> int:
    return 0  # the memory store keeps hour and day rows current as it commits


@dataclass
class Backend:
    name: str
    unit_of_work: UnitOfWorkFactory
    reads: TaskStore
    rollups: RollupStore
    # Standalone reads, as the app's adapters use them (writes go through the unit of work).
    conversations: ConversationStore
    messages: MessageStore
    webhook_events: WebhookEventStore
    webhook_rollups: WebhookRollupStore
    sources: SourceStore
    oauth: OAuthStatusStore
    spend: SpendStore
    compact: Callable[[], Awaitable[int]] = _no_compaction
    retention: RetentionStore | None = None


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
)
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "memory":
        db = MemoryDatabase()
        stores = MemoryStores(db)
        return Backend(
            "memory",
            lambda: MemoryUnitOfWork(db),
            MemoryTaskStore(db),
            MemoryRollupStore(db.rollups, lambda: db.tasks),
            stores.conversations,
            stores.messages,
            stores.webhook_events,
            stores.webhook_rollups,
            stores.sources,
            MemoryOAuthStatusStore(),
            stores.spend,
            retention=MemoryRetentionStore(db),
        )
    fixture = "sqlite_engine" if request.param == "sqlite" else "clean_postgres"
    engine = request.getfixturevalue(fixture)
    return Backend(
        request.param,
        lambda: SqlUnitOfWork(engine),
        SqlTaskStore(engine),
        SqlRollupStore(engine),
        SqlConversationStore(engine),
        SqlMessageStore(engine),
        SqlWebhookEventStore(engine),
        SqlWebhookRollupStore(engine),
        SqlSourceStore(engine),
        SqlOAuthStatusStore(engine),
        SqlSpendStore(engine),
        RollupCompactor(engine, interval=3600).run_once,
        SqlRetentionStore(engine),
    )
