"""Data sources and OAuth installations kept in memory."""

from __future__ import annotations

from dashboard_api.adapters.memory.overlay import Overlay
from dashboard_api.domain.errors import Conflict
from dashboard_api.domain.model.sources import DataSource, OAuthInstallation, SourceCursor


class MemorySourceStore:
    def __init__(self, rows: Overlay[str, DataSource]) -> None:
        self._rows = rows

    async def add(self, source: DataSource) -> None:
        if source.source_id in self._rows:
            raise Conflict(f"source {source.source_id} already exists", source_id=source.source_id)
        self._rows.put(source.source_id, source)

    async def get(self, source_id: str) -> DataSource | None:
        return self._rows.get(source_id)

    async def replace(self, source: DataSource, *, expected_version: int) -> bool:
        stored = self._rows.get(source.source_id)
        if stored is None or stored.version != expected_version:
            return False
        self._rows.put(source.source_id, source)
        return True

    async def delete(self, source_id: str) -> bool:
        if source_id not in self._rows:
            return False
        self._rows.delete(source_id)
        return True

    async def find(self, *, limit: int, after: SourceCursor | None) -> list[DataSource]:
        rows = sorted(
            (
                row
                for row in self._rows.values()
                if after is None
                or (row.created_at, row.source_id) < (after.created_at, after.source_id)
            ),
            key=lambda row: (row.created_at, row.source_id),
            reverse=True,
        )
        return rows[:limit]


class MemoryOAuthStatusStore:
    def __init__(self) -> None:
        self._rows: dict[str, OAuthInstallation] = {}

    async def put(self, installation: OAuthInstallation) -> None:
        self._rows[installation.platform] = installation

    async def all(self) -> list[OAuthInstallation]:
        return sorted(self._rows.values(), key=lambda row: row.platform)
