"""A hand-off to the engine or the indexer, kept in the outbox until a queue took it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec


class OutboxEntry(msgspec.Struct, kw_only=True, frozen=True):
    entry_id: str
    queue: str  # the work queue (a Redis Stream name) the entry goes to
    payload: Mapping[str, Any]
    created_at: datetime
