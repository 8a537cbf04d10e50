"""Use cases of knowledge sources (register, list, remove, sync) and of OAuth status."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import msgspec

from dashboard_api.domain.clock import Clock, utc_now
from dashboard_api.domain.errors import Conflict, InvalidInput, NotFound
from dashboard_api.domain.ids import uuid7
from dashboard_api.domain.limits import check_id
from dashboard_api.domain.model.channels import indexing_job
from dashboard_api.domain.model.handoff import OutboxEntry
from dashboard_api.domain.model.sources import (
    DataSource,
    OAuthInstallation,
    SourceCursor,
    SourceKind,
    SyncJob,
    SyncStatus,
    check_sync_report,
)
from dashboard_api.domain.pagination import Page
from dashboard_api.domain.ports import OAuthStatusStore, SourceStore, UnitOfWorkFactory
from dashboard_api.domain.services.handoff import HandoffRelay

_log = logging.getLogger(__name__)


class NewSource(msgspec.Struct, kw_only=True, frozen=True):
    kind: SourceKind
    name: str
    external_ref: str
    source_id: str | None = None


class SyncReport(msgspec.Struct, kw_only=True, frozen=True):
    """What the indexer says about a job it took from its queue."""

    job_id: str
    status: SyncStatus
    documents: int | None = None
    error: str | None = None


class SourceService:
    def __init__(
        self,
        *,
        unit_of_work: UnitOfWorkFactory,
        reads: SourceStore,
        relay: HandoffRelay,
        indexer_queue: str,
        clock: Clock = utc_now,
    ) -> None:
        self._uow = unit_of_work
        self._reads = reads
        self._relay = relay
        self._indexer_queue = indexer_queue
        self._clock = clock

    async def add(self, new: NewSource) -> DataSource:
        check_id(new.source_id, "source_id")
        source = DataSource(
            source_id=new.source_id or uuid7(),
            kind=new.kind,
            name=new.name,
            external_ref=new.external_ref,
            created_at=self._clock(),
        )
        async with self._uow() as uow:
            await uow.sources.add(source)
            await uow.commit()
        return source

    async def get(self, source_id: str) -> DataSource:
        source = await self._reads.get(source_id)
        if source is None:
            raise _missing(source_id)
        return source

    async def list_sources(self, *, limit: int, after: SourceCursor | None) -> Page[DataSource]:
        rows = await self._reads.find(limit=limit + 1, after=after)
        return Page.from_rows(
            rows, limit, lambda last: SourceCursor(last.created_at, last.source_id)
        )

    async def delete(self, source_id: str) -> None:
        async with self._uow() as uow:
            if not await uow.sources.delete(source_id):
                raise _missing(source_id)
            await uow.commit()

    async def request_sync(self, source_id: str) -> DataSource:
        """Queue an indexing job for the indexer. While one is queued or running, asking
        again returns that job rather than piling up another."""
        async with self._uow() as uow:
            source = await uow.sources.get(source_id)
            if source is None:
                raise _missing(source_id)
            if source.sync_status.is_active:
                return source
            job = SyncJob(job_id=uuid7(), status=SyncStatus.QUEUED, requested_at=self._clock())
            synced = msgspec.structs.replace(source, last_sync=job, version=source.version + 1)
            await self._replace(uow.sources, source, synced)
            await uow.outbox.add(
                OutboxEntry(
                    entry_id=job.job_id,
                    queue=self._indexer_queue,
                    payload=indexing_job(source, job),
                    created_at=job.requested_at,
                )
            )
            await uow.commit()
        try:
            await self._relay.deliver_pending()
        except Exception:  # the job stays in the outbox; the relay's next round delivers it
            _log.warning("indexer hand-off deferred", exc_info=True)
        return synced

    async def report_sync(self, source_id: str, report: SyncReport) -> DataSource:
        if report.status is SyncStatus.NEVER or report.status is SyncStatus.QUEUED:
            raise InvalidInput("the indexer reports running, succeeded or failed", field="status")
        now = self._clock()
        async with self._uow() as uow:
            source = await uow.sources.get(source_id)
            if source is None:
                raise _missing(source_id)
            job = check_sync_report(source, report.job_id, report.status)
            if job.status == report.status:
                return source  # a repeated report
            finished = report.status in (SyncStatus.SUCCEEDED, SyncStatus.FAILED)
            job = msgspec.structs.replace(
                job,
                status=report.status,
                started_at=job.started_at or now,
                finished_at=now if finished else None,
                documents=report.documents if report.documents is not None else job.documents,
                error=report.error,
            )
            changed = msgspec.structs.replace(source, last_sync=job, version=source.version + 1)
            await self._replace(uow.sources, source, changed)
            await uow.commit()
        return changed

    @staticmethod
    async def _replace(store: SourceStore, before: DataSource, after: DataSource) -> None:
        if not await store.replace(after, expected_version=before.version):
            raise Conflict(
                f"source {before.source_id} changed meanwhile; retry", source_id=before.source_id
            )


class OAuthStatusService:
    """Per platform: what the OAuth service recorded, or "not connected" for a known platform."""

    def __init__(self, *, store: OAuthStatusStore, platforms: Sequence[str]) -> None:
        self._store = store
        self._platforms = tuple(platforms)

    async def status(self) -> list[OAuthInstallation]:
        known = {
            row.platform: row for row in await self._store.all() if row.platform in self._platforms
        }
        for platform in self._platforms:
            known.setdefault(platform, OAuthInstallation(platform=platform, connected=False))
        return sorted(known.values(), key=lambda row: row.platform)

    async def record(self, installation: OAuthInstallation) -> OAuthInstallation:
        """Store what the OAuth service reports. Only configured platforms: the list stays
        bounded by configuration, whatever a caller sends."""
        if installation.platform not in self._platforms:
            raise InvalidInput(
                f"platform {installation.platform} is not one of {', '.join(self._platforms)}",
                field="platform",
            )
        await self._store.put(installation)
        return installation


def _missing(source_id: str) -> NotFound:
    return NotFound(f"source {source_id} does not exist", source_id=source_id)
