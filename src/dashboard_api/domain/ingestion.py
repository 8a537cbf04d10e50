"""Durable ingestion of engine events: read from a queue, dispatch by type, acknowledge after use.

Handlers are registered per event type, so other kinds (webhook events) plug in beside the task
lifecycle. An event a handler refuses (malformed, unknown task, illegal transition) is recorded
as rejected and acknowledged: it would be refused again. Any other failure (the database is
down) leaves the entry unacknowledged, to be retried; nothing is lost and nothing is applied
twice, because handlers are idempotent by event id.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import msgspec

from dashboard_api.domain.errors import DomainError, InvalidInput
from dashboard_api.domain.json_input import decode_json
from dashboard_api.domain.ports import IngestDelivery, IngestQueue

log = logging.getLogger(__name__)

# Applies one event; raises DomainError or msgspec errors for an event it refuses.
IngestHandler = Callable[[bytes], Awaitable[None]]


class Envelope(msgspec.Struct, kw_only=True, frozen=True):
    type: str
    event_id: str


# How long one read waits for new entries (the Redis client's reply timeout allows for it).
BLOCK_MS = 2000


class Ingestor:
    def __init__(
        self,
        queue: IngestQueue,
        *,
        batch: int = 100,
        block_ms: int = BLOCK_MS,
        claim_every_seconds: float = 30.0,
    ) -> None:
        self._queue = queue
        self._handlers: dict[str, IngestHandler] = {}
        self._batch = batch
        self._block_ms = block_ms
        self._claim_every = claim_every_seconds
        self.applied = 0
        self.rejected = 0
        self.failures = 0

    def register(self, event_type: str, handler: IngestHandler) -> None:
        self._handlers[event_type] = handler

    async def run(self) -> None:
        """Consume until cancelled; survives queue and database outages with backoff."""
        backoff = 0.1
        last_claim = 0.0
        while True:
            try:
                if time.monotonic() - last_claim >= self._claim_every:
                    last_claim = time.monotonic()
                    await self.process(await self._queue.claim_stale(limit=self._batch))
                deliveries = await self._queue.read(limit=self._batch, block_ms=self._block_ms)
                await self.process(deliveries)
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failures += 1
                log.warning("ingestion paused (%r); retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                last_claim = 0.0  # what failed mid-batch is still pending: take it back first

    async def process(self, deliveries: list[IngestDelivery]) -> None:
        for delivery in deliveries:
            reason = await self._apply(delivery)
            if reason is None:
                self.applied += 1
                await self._queue.ack(delivery)
            else:
                self.rejected += 1
                log.warning("ingest entry %s rejected: %s", delivery.entry_id, reason)
                await self._queue.reject(delivery, reason)

    async def _apply(self, delivery: IngestDelivery) -> str | None:
        """None when applied; the reason when refused. Other errors propagate (retry later)."""
        try:
            envelope = decode_json(delivery.payload, field="event", type=Envelope)
        except InvalidInput as exc:
            return f"not an event: {exc}"
        handler = self._handlers.get(envelope.type)
        if handler is None:
            return f"unknown event type {envelope.type[:64]!r}"
        try:
            await handler(delivery.payload)
        except (msgspec.DecodeError, msgspec.ValidationError, DomainError) as exc:
            return f"{envelope.type}: {exc}"
        return None
