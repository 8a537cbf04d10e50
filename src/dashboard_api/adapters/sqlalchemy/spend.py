"""Spend rows on SQLAlchemy Core: upserted increments in the unit's transaction, summed by key."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from dashboard_api.adapters.sqlalchemy.store import SqlStore, insert_json_sql, json_rows
from dashboard_api.adapters.sqlalchemy.tables import spend_hourly
from dashboard_api.domain.model.spend import (
    SpendChange,
    SpendDimension,
    SpendFigures,
    SpendKey,
    SpendTotal,
    ranked_totals,
)

_FIGURES = ("tasks", "cost_micros", "input_tokens", "output_tokens")


class SqlSpendStore(SqlStore):
    async def add(self, changes: Sequence[SpendChange]) -> None:
        if not changes:
            return
        deltas: dict[SpendKey, SpendFigures] = {}
        for change in changes:  # one row per key: an upsert cannot touch a row twice
            deltas[change.key] = deltas.get(change.key, SpendFigures()) + change.delta
        rows = [
            {
                "dimension": key.dimension.value,
                "key": key.key,
                "hour": key.hour,
                "tasks": delta.tasks,
                "cost_micros": delta.cost_micros,
                "input_tokens": delta.input_tokens,
                "output_tokens": delta.output_tokens,
            }
            for key, delta in sorted(deltas.items())  # in key order: no deadlocks
        ]
        driver = await self._unit_asyncpg()
        if driver is not None:  # in a unit on PostgreSQL: one statement, no SQLAlchemy
            await driver.execute(_UPSERT_SQL, json_rows(rows))
            return
        async with self._connection() as connection:
            # One statement for them all, compiled once per backend: built and executed per
            # row, the upserts were 268 of a batch's 283 statements (bench/ingest_profile.py).
            await connection.execute(_upsert(connection.dialect.name), rows)

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


# `_upsert` on asyncpg, the rows as one JSON parameter (`json_rows`).
_UPSERT_SQL = insert_json_sql(spend_hourly) + (
    ' ON CONFLICT ("dimension", "key", "hour") DO UPDATE SET '
    + ", ".join(f'"{name}" = spend_hourly."{name}" + excluded."{name}"' for name in _FIGURES)
)


@functools.cache
def _upsert(dialect: str) -> Any:
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(spend_hourly)
    increments = {name: spend_hourly.c[name] + statement.excluded[name] for name in _FIGURES}
    return statement.on_conflict_do_update(
        index_elements=["dimension", "key", "hour"], set_=increments
    )
