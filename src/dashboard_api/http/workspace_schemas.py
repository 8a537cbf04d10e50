"""Request and response bodies of conversations, webhooks, data sources and OAuth status."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

from dashboard_api.domain.conversation_service import (
    ConversationPatch,
    NewConversation,
    NewMessage,
)
from dashboard_api.domain.conversations import MAX_MESSAGE_CHARS, MAX_TITLE_CHARS, MessageRole
from dashboard_api.domain.errors import InvalidInput
from dashboard_api.domain.limits import Label, Name
from dashboard_api.domain.source_service import NewSource, SyncReport
from dashboard_api.domain.sources import (
    DataSource,
    OAuthInstallation,
    SourceKind,
    SyncJob,
    SyncStatus,
)
from dashboard_api.domain.times import optional_utc
from dashboard_api.domain.webhook_service import NewWebhookEvent
from dashboard_api.domain.webhooks import MAX_PAYLOAD_BYTES, WebhookEvent, WebhookStatus
from dashboard_api.http.schemas import TaskId

Title = Annotated[str, Meta(max_length=MAX_TITLE_CHARS)]
Content = Annotated[str, Meta(min_length=1, max_length=MAX_MESSAGE_CHARS)]
ShortText = Annotated[str, Meta(max_length=10_000)]
Scope = Annotated[str, Meta(min_length=1, max_length=128, pattern=r"^\S+$")]


class ConversationCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    agent_type: Name
    title: Title = ""
    user_id: Label | None = None
    conversation_id: TaskId | None = None

    def to_domain(self) -> NewConversation:
        return NewConversation(
            agent_type=self.agent_type,
            title=self.title,
            user_id=self.user_id,
            conversation_id=self.conversation_id,
        )


class ConversationUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    title: Title | UnsetType = UNSET
    archived: bool | UnsetType = UNSET

    def to_domain(self) -> ConversationPatch:
        return ConversationPatch(title=self.title, archived=self.archived)


class MessageCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    role: MessageRole
    content: Content
    message_id: TaskId | None = None
    task_id: TaskId | None = None

    def to_domain(self) -> NewMessage:
        return NewMessage(
            role=self.role, content=self.content, message_id=self.message_id, task_id=self.task_id
        )


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


class SourceCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    kind: SourceKind
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    external_ref: Annotated[str, Meta(min_length=1, max_length=300)]
    source_id: TaskId | None = None

    def to_domain(self) -> NewSource:
        return NewSource(
            kind=self.kind,
            name=self.name,
            external_ref=self.external_ref,
            source_id=self.source_id,
        )


class SourceView(msgspec.Struct, kw_only=True):
    source_id: str
    kind: SourceKind
    name: str
    external_ref: str
    created_at: datetime
    sync_status: SyncStatus
    last_sync: SyncJob | None

    @classmethod
    def of(cls, source: DataSource) -> SourceView:
        return cls(
            source_id=source.source_id,
            kind=source.kind,
            name=source.name,
            external_ref=source.external_ref,
            created_at=source.created_at,
            sync_status=source.sync_status,
            last_sync=source.last_sync,
        )


class SyncReportBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    job_id: TaskId
    status: SyncStatus
    documents: Annotated[int, Meta(ge=0, le=10**12)] | None = None
    error: ShortText | None = None

    def to_domain(self) -> SyncReport:
        return SyncReport(
            job_id=self.job_id, status=self.status, documents=self.documents, error=self.error
        )


class OAuthInstallationBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    connected: bool
    scopes: Annotated[list[Scope], Meta(max_length=100)] = []
    account: Label | None = None
    installed_at: datetime | None = None
    token_expires_at: datetime | None = None

    def to_domain(self, platform: str, now: datetime) -> OAuthInstallation:
        return OAuthInstallation(
            platform=platform,
            connected=self.connected,
            scopes=tuple(dict.fromkeys(self.scopes)),
            account=self.account,
            installed_at=optional_utc(self.installed_at, "installed_at"),
            token_expires_at=optional_utc(self.token_expires_at, "token_expires_at"),
            updated_at=now,
        )


class OAuthStatusList(msgspec.Struct, kw_only=True):
    items: list[OAuthInstallation]
