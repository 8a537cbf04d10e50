"""Webhook health figures folded from rollup sums: counts, success rate, latency percentiles."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

import msgspec

from dashboard_api.domain.model.buckets import rank_bucket
from dashboard_api.domain.model.webhooks import LATENCY_BOUNDS_MS, RollupSum, WebhookStatus


class WebhookStats(msgspec.Struct, kw_only=True, frozen=True):
    webhook_id: str
    provider: str
    configured: bool
    total: int
    received: int
    processed: int
    failed: int
    skipped: int
    success_rate: float | None  # processed / (processed + failed); null when neither
    last_received_at: datetime | None
    latency_p50_ms: int | None
    latency_p95_ms: int | None


def percentile_ms(counts: Sequence[int], fraction: float) -> int | None:
    """The upper bound of the histogram bucket holding the given rank (exact within a bucket;
    the open-ended last bucket reports its lower bound)."""
    index = rank_bucket(counts, fraction)
    return None if index is None else LATENCY_BOUNDS_MS[min(index, len(LATENCY_BOUNDS_MS) - 1)]


def fold_stats(sums: Sequence[RollupSum], configured: Collection[str]) -> list[WebhookStats]:
    """One line per webhook and provider, from the per-status sums of the window."""
    groups: dict[tuple[str, str], list[RollupSum]] = {}
    for row in sums:
        groups.setdefault((row.webhook_id, row.provider), []).append(row)
    items = []
    for (webhook_id, provider), rows in sorted(groups.items()):
        by_status = {status: 0 for status in WebhookStatus}
        latency = [0] * (len(LATENCY_BOUNDS_MS) + 1)
        last: datetime | None = None
        for row in rows:
            by_status[row.status] += row.events
            latency = [a + b for a, b in zip(latency, row.latency_counts, strict=True)]
            if row.last_received_at and (last is None or row.last_received_at > last):
                last = row.last_received_at
        processed, failed = by_status[WebhookStatus.PROCESSED], by_status[WebhookStatus.FAILED]
        items.append(
            WebhookStats(
                webhook_id=webhook_id,
                provider=provider,
                configured=webhook_id in configured,
                total=sum(by_status.values()),
                received=by_status[WebhookStatus.RECEIVED],
                processed=processed,
                failed=failed,
                skipped=by_status[WebhookStatus.SKIPPED],
                success_rate=round(processed / (processed + failed), 4)
                if processed + failed
                else None,
                last_received_at=last,
                latency_p50_ms=percentile_ms(latency, 0.5),
                latency_p95_ms=percentile_ms(latency, 0.95),
            )
        )
    return items
