"""The bodies of the webhook routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from dashboard_api.domain.errors import InvalidInput
from dashboard_api.domain.limits import Label, Name
from dashboard_api.domain.model.webhooks import MAX_PAYLOAD_BYTES, WebhookEvent, WebhookStatus
from dashboard_api.domain.services.webhooks import NewWebhookEvent
from dashboard_api.domain.times import optional_utc
from dashboard_api.http.schemas.fields import ShortText, TaskId


class WebhookEventCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    webhook_id: TaskId
    provider: Name
    event_type: Label
    status: WebhookStatus = WebhookStatus.RECEIVED
    event_id: TaskId | None = None
    created_at: datetime | None = None
    http_status: Annotated[int, Meta(ge=100, le=599)] | None = None
    latency_ms: Annotated[int, Meta(ge=0, le=86_400_000)] | None = None
    task_id: TaskId | None = None
    error: ShortText | None = None
    payload: dict[str, Any] | None = None

    def to_domain(self) -> NewWebhookEvent:
        if self.payload is not None and len(msgspec.json.encode(self.payload)) > MAX_PAYLOAD_BYTES:
            raise InvalidInput(f"payload is larger than {MAX_PAYLOAD_BYTES} bytes", field="payload")
        return NewWebhookEvent(
            webhook_id=self.webhook_id,
            provider=self.provider,
            event_type=self.event_type,
            status=self.status,
            event_id=self.event_id,
            created_at=optional_utc(self.created_at, "created_at"),
            http_status=self.http_status,
            latency_ms=self.latency_ms,
            task_id=self.task_id,
            error=self.error,
            payload=self.payload,
        )


class WebhookEventSummary(msgspec.Struct, kw_only=True):
    """An event in a list: everything but the payload."""

    event_id: str
    webhook_id: str
    provider: str
    event_type: str
    status: WebhookStatus
    http_status: int | None
    latency_ms: int | None
    task_id: str | None
    error: str | None
    created_at: datetime

    @classmethod
    def of(cls, event: WebhookEvent) -> WebhookEventSummary:
        fields = msgspec.structs.asdict(event)
        del fields["payload"]
        return cls(**fields)
