"""The SQL stores of conversations, webhooks and sources, as part of a unit of work."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dashboard_api.adapters.sqlalchemy.conversations import (
    SqlConversationStore,
    SqlMessageStore,
    SqlOutbox,
)
from dashboard_api.adapters.sqlalchemy.sources import SqlSourceStore
from dashboard_api.adapters.sqlalchemy.spend import SqlSpendStore
from dashboard_api.adapters.sqlalchemy.webhooks import SqlWebhookEventStore, SqlWebhookRollupStore


class SqlWorkspaceUnit:
    """The workspace stores of a unit of work, all bound to its one connection."""

    conversations: SqlConversationStore
    messages: SqlMessageStore
    outbox: SqlOutbox
    webhook_events: SqlWebhookEventStore
    webhook_rollups: SqlWebhookRollupStore
    sources: SqlSourceStore
    spend: SqlSpendStore

    def bind_workspace(self, connection: AsyncConnection | AsyncEngine) -> None:
        """Bind every store to the unit's connection (or to an engine, for standalone reads)."""
        self.conversations = SqlConversationStore(connection)
        self.messages = SqlMessageStore(connection)
        self.outbox = SqlOutbox(connection)
        self.webhook_events = SqlWebhookEventStore(connection)
        self.webhook_rollups = SqlWebhookRollupStore(connection)
        self.sources = SqlSourceStore(connection)
        self.spend = SqlSpendStore(connection)
