"""Data sources (with their latest indexing job) and OAuth installation status."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from dashboard_api.adapters.sqlalchemy.store import SqlStore, row_after, upsert
from dashboard_api.adapters.sqlalchemy.tables import data_sources, oauth_installations
from dashboard_api.domain.errors import Conflict
from dashboard_api.domain.model.sources import (
    DataSource,
    OAuthInstallation,
    SourceCursor,
    SourceKind,
    SyncJob,
    SyncStatus,
)


class SqlSourceStore(SqlStore):
    async def add(self, source: DataSource) -> None:
        async with self._connection() as connection:
            try:
                await connection.execute(insert(data_sources).values(_row(source)))
            except IntegrityError as exc:
                raise Conflict(
                    f"source {source.source_id} already exists", source_id=source.source_id
                ) from exc

    async def get(self, source_id: str) -> DataSource | None:
        statement = select(data_sources).where(data_sources.c.source_id == source_id)
        async with self._connection() as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else _source(row)

    async def replace(self, source: DataSource, *, expected_version: int) -> bool:
        values = _row(source)
        del values["source_id"]
        statement = (
            update(data_sources)
            .where(
                data_sources.c.source_id == source.source_id,
                data_sources.c.version == expected_version,
            )
            .values(values)
        )
        async with self._connection() as connection:
            result = await connection.execute(statement)
        return bool(result.rowcount == 1)

    async def delete(self, source_id: str) -> bool:
        statement = delete(data_sources).where(data_sources.c.source_id == source_id)
        async with self._connection() as connection:
            result = await connection.execute(statement)
        return bool(result.rowcount == 1)

    async def find(self, *, limit: int, after: SourceCursor | None) -> list[DataSource]:
        order = (data_sources.c.created_at, data_sources.c.source_id)
        statement = select(data_sources)
        if after is not None:
            position = (after.created_at, after.source_id)
            statement = statement.where(row_after(order, position, descending=True))
        statement = statement.order_by(*(column.desc() for column in order)).limit(limit)
        async with self._connection() as connection:
            rows = (await connection.execute(statement)).all()
        return [_source(row) for row in rows]


class SqlOAuthStatusStore(SqlStore):
    async def put(self, installation: OAuthInstallation) -> None:
        values = {
            "platform": installation.platform,
            "connected": installation.connected,
            "scopes": " ".join(installation.scopes),
            "account": installation.account,
            "installed_at": installation.installed_at,
            "token_expires_at": installation.token_expires_at,
            "updated_at": installation.updated_at,
        }
        async with self._connection() as connection:
            statement = upsert(connection, oauth_installations).values(values)
            await connection.execute(
                statement.on_conflict_do_update(index_elements=["platform"], set_=values)
            )

    async def all(self) -> list[OAuthInstallation]:
        statement = select(oauth_installations).order_by(oauth_installations.c.platform)
        async with self._connection() as connection:
            rows = (await connection.execute(statement)).all()
        return [
            OAuthInstallation(
                platform=row.platform,
                connected=row.connected,
                scopes=tuple(row.scopes.split()),
                account=row.account,
                installed_at=row.installed_at,
                token_expires_at=row.token_expires_at,
                updated_at=row.updated_at,
            )
            for row in rows
        ]


def _row(source: DataSource) -> dict[str, Any]:
    job = source.last_sync
    return {
        "source_id": source.source_id,
        "kind": source.kind.value,
        "name": source.name,
        "external_ref": source.external_ref,
        "created_at": source.created_at,
        "version": source.version,
        "sync_job_id": job.job_id if job else None,
        "sync_status": job.status.value if job else None,
        "sync_requested_at": job.requested_at if job else None,
        "sync_started_at": job.started_at if job else None,
        "sync_finished_at": job.finished_at if job else None,
        "sync_documents": job.documents if job else None,
        "sync_error": job.error if job else None,
    }


def _source(row: Row[Any]) -> DataSource:
    job = None
    if row.sync_job_id is not None:
        job = SyncJob(
            job_id=row.sync_job_id,
            status=SyncStatus(row.sync_status),
            requested_at=row.sync_requested_at,
            started_at=row.sync_started_at,
            finished_at=row.sync_finished_at,
            documents=row.sync_documents,
            error=row.sync_error,
        )
    return DataSource(
        source_id=row.source_id,
        kind=SourceKind(row.kind),
        name=row.name,
        external_ref=row.external_ref,
        created_at=row.created_at,
        last_sync=job,
        version=row.version,
    )
