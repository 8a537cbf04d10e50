"""Webhook events, their rollups, configs, data sources and OAuth status in memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import msgspec

from dashboard_api.adapters.memory.overlay import Overlay
from dashboard_api.domain.errors import Conflict
from dashboard_api.domain.model.webhooks import (
    LATENCY_BUCKETS,
    RollupDelta,
    RollupSum,
    TimeRange,
    WebhookConfig,
    WebhookEvent,
    WebhookEventQuery,
    WebhookRollupKey,
)


class MemoryWebhookEventStore:
    def __init__(self, events: Overlay[str, WebhookEvent]) -> None:
        self._rows = events

    async def add(self, event: WebhookEvent) -> None:
        if event.event_id in self._rows:
            raise Conflict(f"event {event.event_id} already exists", event_id=event.event_id)
        self._rows.put(event.event_id, event)

    async def get(self, event_id: str) -> WebhookEvent | None:
        return self._rows.get(event_id)

    async def replace(self, event: WebhookEvent) -> None:
        self._rows.put(event.event_id, event)

    async def find(self, query: WebhookEventQuery) -> list[WebhookEvent]:
        def keep(row: WebhookEvent) -> bool:
            equal = (
                (query.webhook_id, row.webhook_id),
                (query.provider, row.provider),
                (query.status, row.status),
            )
            if any(wanted is not None and wanted != actual for wanted, actual in equal):
                return False
            if query.created_after is not None and row.created_at < query.created_after:
                return False
            if query.created_before is not None and row.created_at >= query.created_before:
                return False
            after = query.after
            return after is None or (row.created_at, row.event_id) < (
                after.created_at,
                after.event_id,
            )

        rows = sorted(
            filter(keep, self._rows.values()),
            key=lambda row: (row.created_at, row.event_id),
            reverse=True,
        )
        return [msgspec.structs.replace(row, payload=None) for row in rows[: query.limit]]


@dataclass
class RollupRow:
    events: int = 0
    last_received_at: datetime | None = None
    latency_counts: list[int] = field(default_factory=lambda: [0] * LATENCY_BUCKETS)


class MemoryWebhookRollupStore:
    def __init__(self, rows: Overlay[WebhookRollupKey, RollupRow]) -> None:
        self._rows = rows

    async def apply(self, deltas: list[RollupDelta]) -> None:
        for delta in deltas:
            stored = self._rows.get(delta.key) or RollupRow()
            # A copy per write, so an uncommitted unit never changes a committed row in place.
            row = RollupRow(
                stored.events + delta.events,
                max(filter(None, (stored.last_received_at, delta.last_received_at))),
                list(stored.latency_counts),
            )
            if delta.latency_bucket is not None:
                row.latency_counts[delta.latency_bucket] += delta.events
            self._rows.put(delta.key, row)

    async def sums(
        self, ranges: list[TimeRange], *, webhook_id: str | None, provider: str | None
    ) -> list[RollupSum]:
        totals: dict[tuple[str, str, str], RollupRow] = {}
        for key, row in self._rows.items():
            if webhook_id is not None and key.webhook_id != webhook_id:
                continue
            if provider is not None and key.provider != provider:
                continue
            if not any(r.span == key.span and r.start <= key.start < r.end for r in ranges):
                continue
            total = totals.setdefault((key.webhook_id, key.provider, key.status), RollupRow())
            total.events += row.events
            if row.last_received_at and (
                total.last_received_at is None or row.last_received_at > total.last_received_at
            ):
                total.last_received_at = row.last_received_at
            pairs = zip(total.latency_counts, row.latency_counts, strict=True)
            total.latency_counts = [a + b for a, b in pairs]
        return [
            RollupSum(
                webhook_id=webhook,
                provider=provider_name,
                status=status,  # type: ignore[arg-type]
                events=row.events,
                last_received_at=row.last_received_at,
                latency_counts=tuple(row.latency_counts),
            )
            for (webhook, provider_name, status), row in sorted(totals.items())
            if row.events > 0
        ]


class MemoryWebhookConfigs:
    """Configs kept in memory: the database source of an embedded app, or a test's fixture."""

    def __init__(self, configs: list[WebhookConfig] | None = None) -> None:
        self.configs = {config.webhook_id: config for config in configs or []}

    async def all(self) -> list[WebhookConfig]:
        return sorted(self.configs.values(), key=lambda config: config.webhook_id)

    async def put(self, config: WebhookConfig) -> None:
        self.configs[config.webhook_id] = config
