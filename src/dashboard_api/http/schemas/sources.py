"""The bodies of the data source and OAuth routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from dashboard_api.domain.limits import Label
from dashboard_api.domain.model.sources import (
    DataSource,
    OAuthInstallation,
    SourceKind,
    SyncJob,
    SyncStatus,
)
from dashboard_api.domain.services.sources import NewSource, SyncReport
from dashboard_api.domain.times import optional_utc
from dashboard_api.http.schemas.fields import ShortText, TaskId

Scope = Annotated[str, Meta(min_length=1, max_length=128, pattern=r"^\S+$")]


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


# What an indexer may report about its job (the service refuses the other sync statuses).
ReportedSyncStatus = Literal["running", "succeeded", "failed"]


class SyncReportBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    job_id: TaskId
    status: ReportedSyncStatus
    documents: Annotated[int, Meta(ge=0, le=10**12)] | None = None
    error: ShortText | None = None

    def to_domain(self) -> SyncReport:
        return SyncReport(
            job_id=self.job_id,
            status=SyncStatus(self.status),
            documents=self.documents,
            error=self.error,
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
