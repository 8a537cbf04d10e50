"""Spend rows in memory, staged in the unit of work like every other table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from dashboard_api.adapters.memory.overlay import Overlay
from dashboard_api.domain.model.spend import (
    SpendChange,
    SpendDimension,
    SpendFigures,
    SpendKey,
    SpendTotal,
    ranked_totals,
)


class MemorySpendStore:
    def __init__(self, rows: Overlay[SpendKey, SpendFigures]) -> None:
        self._rows = rows

    async def add(self, changes: Sequence[SpendChange]) -> None:
        for change in changes:
            self._rows.put(
                change.key, (self._rows.get(change.key) or SpendFigures()) + change.delta
            )

    async def totals(
        self,
        dimension: SpendDimension,
        start: datetime | None,
        end: datetime | None,
        *,
        key: str | None = None,
        limit: int = 100,
    ) -> list[SpendTotal]:
        sums: dict[str, SpendFigures] = {}
        for row_key, figures in self._rows.items():
            if row_key.dimension is not dimension or (key is not None and row_key.key != key):
                continue
            if (start is not None and row_key.hour < start) or (
                end is not None and row_key.hour >= end
            ):
                continue
            sums[row_key.key] = sums.get(row_key.key, SpendFigures()) + figures
        return ranked_totals(sums, limit)
