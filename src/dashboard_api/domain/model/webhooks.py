"""Webhooks the platform receives: their configs, every event, and pre-computed health figures."""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import msgspec

from dashboard_api.domain.errors import Conflict
from dashboard_api.domain.model.buckets import day_of, hour_of
from dashboard_api.domain.times import EARLIEST

# Latency histogram: upper bounds in milliseconds; the last bucket is open-ended.
LATENCY_BOUNDS_MS: tuple[int, ...] = (10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)
LATENCY_BUCKETS = len(LATENCY_BOUNDS_MS) + 1
# Concurrent events of one webhook spread over this many rollup rows, so their transactions do
# not queue on one row lock; readers sum the shards.
ROLLUP_SHARDS = 4
MAX_PAYLOAD_BYTES = 256 * 1024


class WebhookStatus(StrEnum):
    RECEIVED = "received"
    PROCESSED = "processed"
    FAILED = "failed"
    SKIPPED = "skipped"


class RollupSpan(StrEnum):
    HOUR = "hour"
    DAY = "day"


class WebhookConfig(msgspec.Struct, kw_only=True, frozen=True):
    """A configured webhook. Its secret never enters this service: only whether one is set."""

    webhook_id: str
    name: str
    provider: str
    endpoint: str
    enabled: bool = True
    has_secret: bool = False
    origin: str = "database"  # "file" or "database"


class WebhookEvent(msgspec.Struct, kw_only=True, frozen=True):
    event_id: str
    webhook_id: str
    provider: str
    event_type: str
    status: WebhookStatus
    created_at: datetime
    http_status: int | None = None
    latency_ms: int | None = None
    task_id: str | None = None
    error: str | None = None
    payload: dict[str, Any] | None = None


class WebhookEventCursor(msgspec.Struct, frozen=True, array_like=True):
    created_at: datetime
    event_id: str


class WebhookEventQuery(msgspec.Struct, kw_only=True, frozen=True):
    webhook_id: str | None = None
    provider: str | None = None
    status: WebhookStatus | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    limit: int = 50
    after: WebhookEventCursor | None = None


class WebhookRollupKey(msgspec.Struct, frozen=True, array_like=True):
    span: RollupSpan
    start: datetime
    webhook_id: str
    provider: str
    status: WebhookStatus
    shard: int


class RollupDelta(msgspec.Struct, kw_only=True, frozen=True):
    """A change to one rollup row: event count and latency histogram move by these amounts."""

    key: WebhookRollupKey
    events: int
    latency_bucket: int | None
    last_received_at: datetime


class RollupSum(msgspec.Struct, kw_only=True, frozen=True):
    """Rollup rows of one webhook, provider and status added up over a window."""

    webhook_id: str
    provider: str
    status: WebhookStatus
    events: int
    last_received_at: datetime | None
    latency_counts: tuple[int, ...]


class TimeRange(msgspec.Struct, frozen=True, array_like=True):
    span: RollupSpan
    start: datetime  # inclusive
    end: datetime  # exclusive


def latency_bucket(latency_ms: int | None) -> int | None:
    if latency_ms is None:
        return None
    return next(
        (i for i, bound in enumerate(LATENCY_BOUNDS_MS) if latency_ms <= bound),
        len(LATENCY_BOUNDS_MS),
    )


def shard_of(event_id: str) -> int:
    # Stable across processes (unlike hash()), so a later status change finds the same row.
    return zlib.crc32(event_id.encode()) % ROLLUP_SHARDS


def rollup_deltas(before: WebhookEvent | None, after: WebhookEvent) -> list[RollupDelta]:
    """The rollup changes that keep every hourly and daily row equal to its raw events."""
    if before is not None and before.status == after.status:
        return []
    deltas = []
    for event, sign in ((before, -1), (after, 1)):
        if event is None:
            continue
        for span, start in ((RollupSpan.HOUR, hour_of), (RollupSpan.DAY, day_of)):
            key = WebhookRollupKey(
                span,
                start(event.created_at),
                event.webhook_id,
                event.provider,
                event.status,
                shard_of(event.event_id),
            )
            deltas.append(
                RollupDelta(
                    key=key,
                    events=sign,
                    latency_bucket=latency_bucket(event.latency_ms),
                    last_received_at=event.created_at,
                )
            )
    # One order for every transaction, so two of them never wait on each other's rows.
    return sorted(deltas, key=lambda delta: msgspec.json.encode(delta.key))


def check_status_change(before: WebhookEvent, after: WebhookEvent) -> None:
    """A report only moves an event forward: received, then one final status, never back."""
    if before.status == after.status or before.status is WebhookStatus.RECEIVED:
        return
    raise Conflict(
        f"event {before.event_id} is already {before.status.value}",
        event_id=before.event_id,
        current_status=before.status.value,
        requested_status=after.status.value,
    )


def rollup_ranges(start: datetime | None, end: datetime) -> list[TimeRange]:
    """Cover [start, end) (whole hours) with as many whole days and as few hours as possible."""
    start = EARLIEST if start is None else start  # the earliest time any event can carry
    first_day = day_of(start) if start == day_of(start) else day_of(start) + timedelta(days=1)
    last_day = day_of(end)
    if first_day >= last_day:
        return [TimeRange(RollupSpan.HOUR, start, end)]
    ranges = [TimeRange(RollupSpan.DAY, first_day, last_day)]
    if start < first_day:
        ranges.append(TimeRange(RollupSpan.HOUR, start, first_day))
    if last_day < end:
        ranges.append(TimeRange(RollupSpan.HOUR, last_day, end))
    return ranges
