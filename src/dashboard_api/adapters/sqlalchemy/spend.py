"""Spend rows on SQLAlchemy Core: upserted increments in the unit's transaction, summed by key."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select

from dashboard_api.adapters.sqlalchemy.store import SqlStore, upsert
from dashboard_api.adapters.sqlalchemy.tables import spend_hourly
from dashboard_api.domain.model.spend import (
    SpendChange,
    SpendDimension,
    SpendFigures,
    SpendTotal,
    ranked_totals,
)

_FIGURES = ("tasks", "cost_micros", "input_tokens", "output_tokens")


class SqlSpendStore(SqlStore):
    async def add(self, changes: Sequence[SpendChange]) -> None:
        if not changes:
            return
        async with self._connection() as connection:
            statement = upsert(connection, spend_hourly)
            increments = {
                name: spend_hourly.c[name] + statement.excluded[name] for name in _FIGURES
            }
            for change in changes:  # in key order, as the domain sorted them (no deadlocks)
                values = {
                    "dimension": change.key.dimension.value,
                    "key": change.key.key,
                    "hour": change.key.hour,
                    "tasks": change.delta.tasks,
                    "cost_micros": change.delta.cost_micros,
                    "input_tokens": change.delta.input_tokens,
                    "output_tokens": change.delta.output_tokens,
                }
                await connection.execute(
                    statement.values(values).on_conflict_do_update(
                        index_elements=["dimension", "key", "hour"], set_=increments
                    )
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
        c = spend_hourly.c
        statement = select(c.key, *(func.sum(c[name]).label(name) for name in _FIGURES)).where(
            c.dimension == dimension.value
        )
        if key is not None:
            statement = statement.where(c.key == key)
        if start is not None:
            statement = statement.where(c.hour >= start)
        if end is not None:
            statement = statement.where(c.hour < end)
        statement = (
            statement.group_by(c.key).order_by(func.sum(c.cost_micros).desc(), c.key).limit(limit)
        )
        async with self._connection() as connection:
            rows = (await connection.execute(statement)).all()
        sums = {
            row.key: SpendFigures(*(int(getattr(row, name) or 0) for name in _FIGURES))
            for row in rows
        }
        return ranked_totals(sums, limit)
