"""Knowledge sources the agents read (repositories, projects, spaces) and their indexing jobs."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import msgspec

from dashboard_api.domain.errors import Conflict


class SourceKind(StrEnum):
    GITHUB_REPO = "github_repo"
    JIRA_PROJECT = "jira_project"
    CONFLUENCE_SPACE = "confluence_space"


class SyncStatus(StrEnum):
    NEVER = "never"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def is_active(self) -> bool:
        return self in (SyncStatus.QUEUED, SyncStatus.RUNNING)


class SyncJob(msgspec.Struct, kw_only=True, frozen=True):
    """The latest indexing job of a source, as the indexer last reported it."""

    job_id: str
    status: SyncStatus
    requested_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    documents: int | None = None
    error: str | None = None


class DataSource(msgspec.Struct, kw_only=True, frozen=True):
    source_id: str
    kind: SourceKind
    name: str
    external_ref: str  # "owner/repo", a Jira project key, a Confluence space key
    created_at: datetime
    last_sync: SyncJob | None = None
    version: int = 1

    @property
    def sync_status(self) -> SyncStatus:
        return SyncStatus.NEVER if self.last_sync is None else self.last_sync.status


class SourceCursor(msgspec.Struct, frozen=True, array_like=True):
    """Keyset position in newest-first order."""

    created_at: datetime
    source_id: str


# The indexer moves a job forward only: queued → running → succeeded|failed (it may skip running).
_NEXT: dict[SyncStatus, frozenset[SyncStatus]] = {
    SyncStatus.QUEUED: frozenset({SyncStatus.RUNNING, SyncStatus.SUCCEEDED, SyncStatus.FAILED}),
    SyncStatus.RUNNING: frozenset({SyncStatus.SUCCEEDED, SyncStatus.FAILED}),
}


def check_sync_report(source: DataSource, job_id: str, status: SyncStatus) -> SyncJob:
    """The job a report is about, refusing reports on another job or moving it backwards."""
    job = source.last_sync
    if job is None or job.job_id != job_id:
        raise Conflict(
            f"job {job_id} is not the current sync job of source {source.source_id}",
            source_id=source.source_id,
            job_id=job_id,
        )
    if status != job.status and status not in _NEXT.get(job.status, frozenset()):
        raise Conflict(
            f"sync job {job_id} is {job.status.value}; it cannot become {status.value}",
            job_id=job_id,
            current_status=job.status.value,
            requested_status=status.value,
        )
    return job


class OAuthInstallation(msgspec.Struct, kw_only=True, frozen=True):
    """What the OAuth service last recorded for one platform. Tokens never enter this service."""

    platform: str
    connected: bool
    scopes: tuple[str, ...] = ()
    account: str | None = None
    installed_at: datetime | None = None
    token_expires_at: datetime | None = None
    updated_at: datetime | None = None
