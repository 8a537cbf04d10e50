"""The memory database: every table of every store, as dicts (sqlalchemy/tables.py's mirror)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from dashboard_api.adapters.memory.rollups import RollupRows
from dashboard_api.adapters.memory.webhooks import RollupRow
from dashboard_api.domain.model.conversations import Conversation, Message
from dashboard_api.domain.model.handoff import OutboxEntry
from dashboard_api.domain.model.sources import DataSource
from dashboard_api.domain.model.spend import SpendFigures, SpendKey
from dashboard_api.domain.model.tasks import Task
from dashboard_api.domain.model.webhooks import WebhookEvent, WebhookRollupKey


class MemoryDatabase:
    """The shared state of the memory stores."""

    def __init__(self) -> None:
        self.tasks: dict[str, Task] = {}
        self.rollups = RollupRows()
        self.processed_events: dict[str, datetime] = {}
        self.conversations: dict[str, Conversation] = {}
        self.messages: dict[str, Message] = {}
        self.outbox: dict[str, OutboxEntry] = {}
        self.webhook_events: dict[str, WebhookEvent] = {}
        self.webhook_rollups: dict[WebhookRollupKey, RollupRow] = {}
        self.sources: dict[str, DataSource] = {}
        self.spend: dict[SpendKey, SpendFigures] = {}
        self.write_lock = asyncio.Lock()
