"""The unit of work: one connection and one transaction, with every store bound to it."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dashboard_api.adapters.sqlalchemy.conversations import (
    SqlConversationStore,
    SqlMessageStore,
    SqlOutbox,
)
from dashboard_api.adapters.sqlalchemy.engine import write_transaction
from dashboard_api.adapters.sqlalchemy.processed_events import SqlProcessedEvents
from dashboard_api.adapters.sqlalchemy.rollups.store import SqlRollupStore
from dashboard_api.adapters.sqlalchemy.sources import SqlSourceStore
from dashboard_api.adapters.sqlalchemy.spend import SqlSpendStore
from dashboard_api.adapters.sqlalchemy.tasks import SqlTaskStore
from dashboard_api.adapters.sqlalchemy.webhooks import SqlWebhookEventStore, SqlWebhookRollupStore
from dashboard_api.adapters.unavailable import is_unavailable


class SqlUnitOfWork:
    """One connection and one transaction; leaving without `commit` rolls everything back."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._transaction: AbstractAsyncContextManager[AsyncConnection] | None = None

    async def __aenter__(self) -> Self:
        self._transaction = write_transaction(self._engine)
        self._connection = await self._transaction.__aenter__()
        connection = self._connection
        self.tasks = SqlTaskStore(connection)
        self.rollups = SqlRollupStore(connection)
        self.processed_events = SqlProcessedEvents(connection)
        self.conversations = SqlConversationStore(connection)
        self.messages = SqlMessageStore(connection)
        self.outbox = SqlOutbox(connection)
        self.webhook_events = SqlWebhookEventStore(connection)
        self.webhook_rollups = SqlWebhookRollupStore(connection)
        self.sources = SqlSourceStore(connection)
        self.spend = SqlSpendStore(connection)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._connection is not None
        assert self._transaction is not None
        try:
            if exc is not None and is_unavailable(exc):
                # Lost, or silent past the statement timeout: a ROLLBACK would wait as long
                # again. Discarding the connection rolls back on the server's side.
                await self._connection.invalidate()
            elif self._connection.in_transaction():
                await self._connection.rollback()
        finally:
            await self._transaction.__aexit__(exc_type, exc, tb)

    async def commit(self) -> None:
        assert self._connection is not None
        await self._connection.commit()
