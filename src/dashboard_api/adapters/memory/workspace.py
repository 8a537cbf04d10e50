"""The memory tables of conversations, webhooks and sources, and their part of a unit of work."""

from __future__ import annotations

from typing import Any

from dashboard_api.adapters.memory.conversations import (
    MemoryConversationStore,
    MemoryMessageStore,
    MemoryOutbox,
)
from dashboard_api.adapters.memory.overlay import Overlay, PendingWrites
from dashboard_api.adapters.memory.sources import MemorySourceStore
from dashboard_api.adapters.memory.spend import MemorySpendStore
from dashboard_api.adapters.memory.webhooks import (
    MemoryWebhookEventStore,
    MemoryWebhookRollupStore,
    RollupRow,
)
from dashboard_api.domain.model.conversations import Conversation, Message
from dashboard_api.domain.model.handoff import OutboxEntry
from dashboard_api.domain.model.sources import DataSource
from dashboard_api.domain.model.spend import SpendFigures, SpendKey
from dashboard_api.domain.model.webhooks import RollupKey, WebhookEvent


class WorkspaceTables:
    def __init__(self) -> None:
        self.conversations: dict[str, Conversation] = {}
        self.messages: dict[str, Message] = {}
        self.outbox: dict[str, OutboxEntry] = {}
        self.webhook_events: dict[str, WebhookEvent] = {}
        self.webhook_rollups: dict[RollupKey, RollupRow] = {}
        self.sources: dict[str, DataSource] = {}
        self.spend: dict[SpendKey, SpendFigures] = {}


class WorkspaceStores:
    """The stores over the tables; given pending writes they stage, without them they commit."""

    def __init__(
        self, tables: WorkspaceTables, pending: dict[str, PendingWrites[Any, Any]] | None = None
    ) -> None:
        def overlay(name: str) -> Overlay[Any, Any]:
            return Overlay(getattr(tables, name), pending[name] if pending else None)

        messages = overlay("messages")
        self.conversations = MemoryConversationStore(overlay("conversations"), messages)
        self.messages = MemoryMessageStore(messages)
        self.outbox = MemoryOutbox(overlay("outbox"))
        self.webhook_events = MemoryWebhookEventStore(overlay("webhook_events"))
        self.webhook_rollups = MemoryWebhookRollupStore(overlay("webhook_rollups"))
        self.sources = MemorySourceStore(overlay("sources"))
        self.spend = MemorySpendStore(overlay("spend"))


_TABLES = (
    "conversations",
    "messages",
    "outbox",
    "webhook_events",
    "webhook_rollups",
    "sources",
    "spend",
)


class WorkspaceUnit:
    """The workspace part of the memory unit of work: staged writes, applied on commit."""

    def __init__(self, tables: WorkspaceTables) -> None:
        self._workspace_pending: dict[str, PendingWrites[Any, Any]] = {
            name: PendingWrites(getattr(tables, name)) for name in _TABLES
        }
        stores = WorkspaceStores(tables, self._workspace_pending)
        self.conversations = stores.conversations
        self.messages = stores.messages
        self.outbox = stores.outbox
        self.webhook_events = stores.webhook_events
        self.webhook_rollups = stores.webhook_rollups
        self.sources = stores.sources
        self.spend = stores.spend

    def apply_workspace(self) -> None:
        for pending in self._workspace_pending.values():
            pending.apply()

    def discard_workspace(self) -> None:
        for pending in self._workspace_pending.values():
            pending.changes.clear()
