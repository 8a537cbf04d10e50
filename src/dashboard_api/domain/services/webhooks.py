"""Use cases of webhook monitoring: record an event, list configs, events and health figures.

Every event is kept, whether or not a config names its webhook: an unconfigured webhook is
something an operator must see, not something to drop. Rollups change in the transaction that
writes the event, so the figures always equal the events.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec

from dashboard_api.domain.clock import Clock, utc_now
from dashboard_api.domain.errors import Conflict, InvalidInput, NotFound
from dashboard_api.domain.ids import uuid7
from dashboard_api.domain.json_input import decode_json
from dashboard_api.domain.limits import Id, Label, Name, check_id
from dashboard_api.domain.model.buckets import hour_of
from dashboard_api.domain.model.channels import WEBHOOKS_CHANNEL, event_notice
from dashboard_api.domain.model.webhook_stats import WebhookStats, fold_stats
from dashboard_api.domain.model.webhooks import (
    MAX_PAYLOAD_BYTES,
    WebhookConfig,
    WebhookEvent,
    WebhookEventCursor,
    WebhookEventQuery,
    WebhookStatus,
    check_status_change,
    rollup_deltas,
    rollup_ranges,
)
from dashboard_api.domain.pagination import Page
from dashboard_api.domain.ports import (
    EventBus,
    UnitOfWorkFactory,
    WebhookConfigSource,
    WebhookEventStore,
    WebhookRollupStore,
)
from dashboard_api.domain.times import to_utc

_log = logging.getLogger(__name__)


class NewWebhookEvent(msgspec.Struct, kw_only=True, frozen=True):
    # The constraints apply where an event is decoded from an ingestion stream entry.
    webhook_id: Id
    provider: Name
    event_type: Label
    status: WebhookStatus = WebhookStatus.RECEIVED
    event_id: Id | None = None
    created_at: datetime | None = None
    http_status: int | None = None
    latency_ms: int | None = None
    task_id: Id | None = None
    error: str | None = None
    payload: dict[str, Any] | None = None


class WebhookSummary(msgspec.Struct, kw_only=True, frozen=True):
    """A webhook as the list shows it: its config (when one exists) and its traffic."""

    webhook_id: str
    configured: bool
    name: str | None
    provider: str | None
    endpoint: str | None
    enabled: bool | None
    has_secret: bool
    origin: str | None
    events_total: int
    last_event_at: datetime | None


class StatsReport(msgspec.Struct, kw_only=True, frozen=True):
    window_from: datetime | None
    window_to: datetime
    items: list[WebhookStats]


def webhook_event_from(raw: Mapping[str, Any]) -> NewWebhookEvent:
    """A webhook event from a durable ingestion stream entry (already JSON-decoded), checked
    as strictly as `POST /api/webhooks/events` checks it; InvalidInput names the bad field."""
    try:
        new = msgspec.convert(dict(raw), NewWebhookEvent, strict=False)
    except msgspec.ValidationError as exc:
        raise InvalidInput(str(exc), field=_field_of(exc)) from exc
    if new.payload is not None and len(msgspec.json.encode(new.payload)) > MAX_PAYLOAD_BYTES:
        raise InvalidInput(f"payload is larger than {MAX_PAYLOAD_BYTES} bytes", field="payload")
    if new.latency_ms is not None and new.latency_ms < 0:
        raise InvalidInput("latency_ms is negative", field="latency_ms")
    if new.created_at is not None:
        new = msgspec.structs.replace(new, created_at=to_utc(new.created_at, "created_at"))
    return new


def _field_of(error: msgspec.ValidationError) -> str:
    # msgspec says "... - at `$.field`"; the field is what a producer needs to fix.
    text = str(error)
    return text.rsplit("$.", 1)[1].rstrip("`").split("[")[0] if "$." in text else "event"


class WebhookService:
    def __init__(
        self,
        *,
        unit_of_work: UnitOfWorkFactory,
        events: WebhookEventStore,
        rollups: WebhookRollupStore,
        configs: Sequence[WebhookConfigSource],
        bus: EventBus,
        clock: Clock = utc_now,
    ) -> None:
        self._uow = unit_of_work
        self._events = events
        self._rollups = rollups
        self._configs = tuple(configs)
        self._bus = bus
        self._clock = clock

    async def record_event(self, new: NewWebhookEvent) -> tuple[WebhookEvent, bool]:
        """Record an event, idempotent by `event_id`: a repeat changes nothing, a later final
        status of a `received` event moves it on. Returns the stored event and whether it changed.
        """
        check_id(new.event_id, "event_id")
        check_id(new.webhook_id, "webhook_id")
        now = self._clock()
        created_at = new.created_at or now
        if created_at > now + timedelta(minutes=5):
            raise InvalidInput("created_at is in the future", field="created_at")
        fields = msgspec.structs.asdict(new)
        fields.update(event_id=new.event_id or uuid7(), created_at=created_at)
        event = WebhookEvent(**fields)
        try:
            changed = await self._store(event)
        except Conflict as exc:
            if "current_status" in exc.context:
                raise
            changed = await self._store(event)  # a concurrent first report won: now a repeat
        if changed is None:
            stored = await self._events.get(event.event_id)
            assert stored is not None
            return stored, False
        try:
            await self._bus.publish(WEBHOOKS_CHANNEL, event_notice(changed))
        except Exception:  # the event is stored; a live notice is best effort
            _log.warning("webhook event not published", exc_info=True)
        return changed, True

    async def _store(self, event: WebhookEvent) -> WebhookEvent | None:
        async with self._uow() as uow:
            before = await uow.webhook_events.get(event.event_id)
            if before is None:
                await uow.webhook_events.add(event)
                after = event
            else:
                if before.status == event.status:
                    return None
                check_status_change(before, event)
                # The event keeps when and where it arrived; the report adds how it ended.
                after = msgspec.structs.replace(
                    before,
                    status=event.status,
                    http_status=event.http_status or before.http_status,
                    latency_ms=before.latency_ms if event.latency_ms is None else event.latency_ms,
                    task_id=event.task_id or before.task_id,
                    error=event.error or before.error,
                    payload=event.payload or before.payload,
                )
                await uow.webhook_events.replace(after)
            await uow.webhook_rollups.apply(rollup_deltas(before, after))
            await uow.commit()
        return after

    async def configs(self) -> list[WebhookConfig]:
        """Configs from every source; the config file wins over the database for one id."""
        merged: dict[str, WebhookConfig] = {}
        for source in reversed(self._configs):
            for config in await source.all():
                merged[config.webhook_id] = config
        return sorted(merged.values(), key=lambda config: config.webhook_id)

    async def list_webhooks(self, *, limit: int, after: str | None) -> Page[WebhookSummary]:
        configs = {config.webhook_id: config for config in await self.configs()}
        totals: dict[str, tuple[int, datetime | None]] = {}
        end = hour_of(self._clock()) + timedelta(hours=1)
        for row in await self._rollups.sums(
            rollup_ranges(None, end), webhook_id=None, provider=None
        ):
            count, last = totals.get(row.webhook_id, (0, None))
            if last is None or (row.last_received_at and row.last_received_at > last):
                last = row.last_received_at
            totals[row.webhook_id] = (count + row.events, last)
        ids = sorted(set(configs) | set(totals))
        if after is not None:
            ids = [webhook_id for webhook_id in ids if webhook_id > after]
        items = [_summary(i, configs.get(i), totals.get(i, (0, None))) for i in ids[: limit + 1]]
        return Page.from_rows(items, limit, lambda last: WebhookIdCursor(last.webhook_id))

    async def events(self, query: WebhookEventQuery) -> Page[WebhookEvent]:
        rows = await self._events.find(msgspec.structs.replace(query, limit=query.limit + 1))
        return Page.from_rows(
            rows, query.limit, lambda last: WebhookEventCursor(last.created_at, last.event_id)
        )

    async def event(self, event_id: str) -> WebhookEvent:
        event = await self._events.get(event_id)
        if event is None:
            raise NotFound(f"webhook event {event_id} does not exist", event_id=event_id)
        return event

    async def stats(
        self,
        *,
        start: datetime | None,
        end: datetime | None,
        webhook_id: str | None = None,
        provider: str | None = None,
    ) -> StatsReport:
        """Figures per webhook and provider over [start, end), widened to whole UTC hours."""
        # Without `to`, the window ends after the current hour, so that it includes "now".
        window_to = _ceil_hour(end) if end else hour_of(self._clock()) + timedelta(hours=1)
        window_from = hour_of(start) if start is not None else None
        if window_from is not None and window_from >= window_to:
            raise InvalidInput("from must be before to", field="from")
        sums = await self._rollups.sums(
            rollup_ranges(window_from, window_to), webhook_id=webhook_id, provider=provider
        )
        configured = {config.webhook_id for config in await self.configs()}
        return StatsReport(
            window_from=window_from, window_to=window_to, items=fold_stats(sums, configured)
        )


class WebhookIdCursor(msgspec.Struct, frozen=True, array_like=True):
    webhook_id: str


def _ceil_hour(moment: datetime) -> datetime:
    floor = hour_of(moment)
    return floor if floor == moment else floor + timedelta(hours=1)


def _summary(
    webhook_id: str, config: WebhookConfig | None, traffic: tuple[int, datetime | None]
) -> WebhookSummary:
    return WebhookSummary(
        webhook_id=webhook_id,
        configured=config is not None,
        name=config.name if config else None,
        provider=config.provider if config else None,
        endpoint=config.endpoint if config else None,
        enabled=config.enabled if config else None,
        has_secret=config.has_secret if config else False,
        origin=config.origin if config else None,
        events_total=traffic[0],
        last_event_at=traffic[1],
    )


def webhook_ingest_handler(webhooks: WebhookService) -> Callable[[bytes], Awaitable[None]]:
    """The ingest handler for durable stream entries of type `webhook_event`: the fields of
    `POST /api/webhooks/events` plus `type` and `event_id`, recorded idempotently by event id."""

    async def handle(payload: bytes) -> None:
        raw = decode_json(payload, field="event")
        if not isinstance(raw, dict):
            raise InvalidInput("a webhook event is a JSON object", field="event")
        raw.pop("type", None)
        await webhooks.record_event(webhook_event_from(raw))

    return handle
