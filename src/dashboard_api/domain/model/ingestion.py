"""What an ingest queue reports: who holds the lease, and the backlog's figures."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class Lease(StrEnum):
    """What `IngestQueue.lead` found: this process consumes (newly or still), or another does."""

    ACQUIRED = "acquired"
    KEPT = "kept"
    ELSEWHERE = "elsewhere"


class IngestStats(NamedTuple):
    """How far behind ingestion is, as the queue sees it (for /metrics)."""

    pending: int  # handed to a consumer, not yet acknowledged
    oldest_pending_age_seconds: float  # since the oldest of them was added; 0 when none
    undelivered: int  # added, not yet handed to any consumer
    dead_letters: int  # entries in the dead-letter stream
