"""The memory unit of work: staged writes, made visible at commit, one writer at a time, like a
serializable database."""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Any, Self

from dashboard_api.adapters.memory.conversations import (
    MemoryConversationStore,
    MemoryMessageStore,
    MemoryOutbox,
)
from dashboard_api.adapters.memory.overlay import Overlay, PendingWrites
from dashboard_api.adapters.memory.rollups import MemoryRollupStore
from dashboard_api.adapters.memory.sources import MemorySourceStore
from dashboard_api.adapters.memory.spend import MemorySpendStore
from dashboard_api.adapters.memory.tables import MemoryDatabase
from dashboard_api.adapters.memory.tasks import MemoryProcessedEvents, MemoryTaskStore
from dashboard_api.adapters.memory.webhooks import (
    MemoryWebhookEventStore,
    MemoryWebhookRollupStore,
)
from dashboard_api.domain.model.rollups import RollupChange
from dashboard_api.domain.model.tasks import Task

# The tables whose stores stage writes through an overlay (tasks, rollups and processed events
# keep their own pending state).
_OVERLAID = (
    "conversations",
    "messages",
    "outbox",
    "webhook_events",
    "webhook_rollups",
    "sources",
    "spend",
)


class MemoryStores:
    """The overlaid stores over the tables: given pending writes they stage, without them they
    read and write committed state (what the app's standalone reads use)."""

    def __init__(
        self, db: MemoryDatabase, pending: dict[str, PendingWrites[Any, Any]] | None = None
    ) -> None:
        def overlay(name: str) -> Overlay[Any, Any]:
            return Overlay(getattr(db, name), pending[name] if pending else None)

        messages = overlay("messages")
        self.conversations = MemoryConversationStore(overlay("conversations"), messages)
        self.messages = MemoryMessageStore(messages)
        self.outbox = MemoryOutbox(overlay("outbox"))
        self.webhook_events = MemoryWebhookEventStore(overlay("webhook_events"))
        self.webhook_rollups = MemoryWebhookRollupStore(overlay("webhook_rollups"))
        self.sources = MemorySourceStore(overlay("sources"))
        self.spend = MemorySpendStore(overlay("spend"))


class MemoryUnitOfWork:
    """Holds the database's write lock for its lifetime; `commit` makes pending writes visible."""

    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db
        self._pending: dict[str, Task] = {}
        self._pending_rollups: list[RollupChange] = []
        self._pending_events: dict[str, datetime] = {}
        self._overlaid: dict[str, PendingWrites[Any, Any]] = {
            name: PendingWrites(getattr(db, name)) for name in _OVERLAID
        }
        self.tasks = MemoryTaskStore(db, self._pending)
        self.rollups = MemoryRollupStore(db.rollups, lambda: db.tasks, self._pending_rollups)
        self.processed_events = MemoryProcessedEvents(db, self._pending_events)
        stores = MemoryStores(db, self._overlaid)
        self.conversations = stores.conversations
        self.messages = stores.messages
        self.outbox = stores.outbox
        self.webhook_events = stores.webhook_events
        self.webhook_rollups = stores.webhook_rollups
        self.sources = stores.sources
        self.spend = stores.spend
        self.committed = False

    async def __aenter__(self) -> Self:
        await self._db.write_lock.acquire()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._pending.clear()
        self._pending_rollups.clear()
        for pending in self._overlaid.values():
            pending.changes.clear()
        self._pending_events.clear()
        self._db.write_lock.release()

    async def commit(self) -> None:
        self._db.tasks.update(self._pending)
        self._db.rollups.apply(self._pending_rollups)
        self._pending.clear()
        self._pending_rollups.clear()
        for pending in self._overlaid.values():
            pending.apply()
        self._db.processed_events.update(self._pending_events)
        for cutoff in self.processed_events.cutoffs:
            kept = {key: at for key, at in self._db.processed_events.items() if at >= cutoff}
            self._db.processed_events = kept
        self.processed_events.cutoffs.clear()
        self._pending_events.clear()
        self.committed = True
