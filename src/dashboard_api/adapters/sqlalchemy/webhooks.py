"""Webhook events, their hourly and daily rollups, and database webhook configs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from dashboard_api.adapters.sqlalchemy.store import SqlStore, greatest, row_after, upsert
from dashboard_api.adapters.sqlalchemy.tables import (
    LATENCY_COLUMNS,
    webhook_configs,
    webhook_events,
    webhook_rollups,
)
from dashboard_api.domain.errors import Conflict
from dashboard_api.domain.model.webhooks import (
    RollupDelta,
    RollupSum,
    TimeRange,
    WebhookConfig,
    WebhookEvent,
    WebhookEventQuery,
    WebhookStatus,
)

_LIST_COLUMNS = [column for column in webhook_events.c if column.name != "payload"]


class SqlWebhookEventStore(SqlStore):
    async def add(self, event: WebhookEvent) -> None:
        async with self._connection() as connection:
            try:
                await connection.execute(insert(webhook_events).values(_row(event)))
            except IntegrityError as exc:
                raise Conflict(
                    f"event {event.event_id} already exists", event_id=event.event_id
                ) from exc

    async def get(self, event_id: str) -> WebhookEvent | None:
        statement = select(webhook_events).where(webhook_events.c.event_id == event_id)
        async with self._connection() as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else _event(row, with_payload=True)

    async def replace(self, event: WebhookEvent) -> None:
        values = _row(event)
        del values["event_id"]
        statement = (
            update(webhook_events).where(webhook_events.c.event_id == event.event_id).values(values)
        )
        async with self._connection() as connection:
            await connection.execute(statement)

    async def find(self, query: WebhookEventQuery) -> list[WebhookEvent]:
        statement = select(*_LIST_COLUMNS)
        for column, wanted in (
            (webhook_events.c.webhook_id, query.webhook_id),
            (webhook_events.c.provider, query.provider),
            (webhook_events.c.status, query.status.value if query.status else None),
        ):
            if wanted is not None:
                statement = statement.where(column == wanted)
        if query.created_after is not None:
            statement = statement.where(webhook_events.c.created_at >= query.created_after)
        if query.created_before is not None:
            statement = statement.where(webhook_events.c.created_at < query.created_before)
        order = (webhook_events.c.created_at, webhook_events.c.event_id)
        if query.after is not None:
            after = (query.after.created_at, query.after.event_id)
            statement = statement.where(row_after(order, after, descending=True))
        statement = statement.order_by(*(column.desc() for column in order)).limit(query.limit)
        async with self._connection() as connection:
            rows = (await connection.execute(statement)).all()
        return [_event(row, with_payload=False) for row in rows]


class SqlWebhookRollupStore(SqlStore):
    async def apply(self, deltas: list[RollupDelta]) -> None:
        if not deltas:
            return
        async with self._connection() as connection:
            statement = upsert(connection, webhook_rollups)
            # One statement per row, in the order the domain sorted them (no deadlocks).
            for delta in deltas:
                values = _rollup_values(delta)
                excluded = statement.excluded
                increments = {
                    name: webhook_rollups.c[name] + excluded[name]
                    for name in ("events", *LATENCY_COLUMNS)
                }
                increments["last_received_at"] = greatest(
                    webhook_rollups.c.last_received_at, excluded.last_received_at
                )
                await connection.execute(
                    statement.values(values).on_conflict_do_update(
                        index_elements=[column.name for column in webhook_rollups.primary_key],
                        set_=increments,
                    )
                )

    async def sums(
        self, ranges: list[TimeRange], *, webhook_id: str | None, provider: str | None
    ) -> list[RollupSum]:
        fast = await self._fetch_fast(*_sums_sql(ranges, webhook_id, provider))
        if fast is not None:
            return [_sum(row) for row in fast]
        c = webhook_rollups.c
        within = or_(
            *(
                and_(c.span == r.span.value, c.bucket_start >= r.start, c.bucket_start < r.end)
                for r in ranges
            )
        )
        statement = (
            select(
                c.webhook_id,
                c.provider,
                c.status,
                func.sum(c.events).label("events"),
                func.max(c.last_received_at).label("last_received_at"),
                *(func.sum(c[name]).label(name) for name in LATENCY_COLUMNS),
            )
            .where(within)
            .group_by(c.webhook_id, c.provider, c.status)
            .having(func.sum(c.events) > 0)
            .order_by(c.webhook_id, c.provider, c.status)
        )
        if webhook_id is not None:
            statement = statement.where(c.webhook_id == webhook_id)
        if provider is not None:
            statement = statement.where(c.provider == provider)
        async with self._connection() as connection:
            rows = (await connection.execute(statement)).all()
        return [_sum(row._mapping) for row in rows]


class SqlWebhookConfigs(SqlStore):
    """Webhook configs kept in the database (the config file is the other source)."""

    async def all(self) -> list[WebhookConfig]:
        statement = select(webhook_configs).order_by(webhook_configs.c.webhook_id)
        async with self._connection() as connection:
            rows = (await connection.execute(statement)).all()
        return [
            WebhookConfig(
                webhook_id=row.webhook_id,
                name=row.name,
                provider=row.provider,
                endpoint=row.endpoint,
                enabled=row.enabled,
                has_secret=row.has_secret,
                origin="database",
            )
            for row in rows
        ]

    async def put(self, config: WebhookConfig) -> None:
        values = {
            "webhook_id": config.webhook_id,
            "name": config.name,
            "provider": config.provider,
            "endpoint": config.endpoint,
            "enabled": config.enabled,
            "has_secret": config.has_secret,
        }
        async with self._connection() as connection:
            statement = upsert(connection, webhook_configs).values(values)
            await connection.execute(
                statement.on_conflict_do_update(index_elements=["webhook_id"], set_=values)
            )
            if connection.in_transaction():
                await connection.commit()


def _sums_sql(
    ranges: list[TimeRange], webhook_id: str | None, provider: str | None
) -> tuple[Any, ...]:
    """`sums` in PostgreSQL's words, for the asyncpg fast path."""
    args: list[Any] = []
    within = []
    for r in ranges:
        args += [r.span.value, r.start, r.end]
        n = len(args)
        within.append(f"(span = ${n - 2} AND bucket_start >= ${n - 1} AND bucket_start < ${n})")
    where = f"({' OR '.join(within)})"
    for column, wanted in (("webhook_id", webhook_id), ("provider", provider)):
        if wanted is not None:
            args.append(wanted)
            where += f" AND {column} = ${len(args)}"
    latency = ", ".join(f"sum({name}) AS {name}" for name in LATENCY_COLUMNS)
    sql = (
        "SELECT webhook_id, provider, status, sum(events) AS events, "
        f"max(last_received_at) AS last_received_at, {latency} FROM webhook_rollups "
        f"WHERE {where} GROUP BY webhook_id, provider, status HAVING sum(events) > 0 "
        "ORDER BY webhook_id, provider, status"
    )
    return (sql, *args)


def _sum(row: Mapping[Any, Any]) -> RollupSum:
    return RollupSum(
        webhook_id=row["webhook_id"],
        provider=row["provider"],
        status=WebhookStatus(row["status"]),
        events=int(row["events"]),
        last_received_at=row["last_received_at"],
        latency_counts=tuple(int(row[name]) for name in LATENCY_COLUMNS),
    )


def _rollup_values(delta: RollupDelta) -> dict[str, Any]:
    key = delta.key
    values: dict[str, Any] = {
        "span": key.span.value,
        "bucket_start": key.start,
        "webhook_id": key.webhook_id,
        "provider": key.provider,
        "status": key.status.value,
        "shard": key.shard,
        "events": delta.events,
        "last_received_at": delta.last_received_at,
    }
    for index, name in enumerate(LATENCY_COLUMNS):
        values[name] = delta.events if index == delta.latency_bucket else 0
    return values


def _row(event: WebhookEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "webhook_id": event.webhook_id,
        "provider": event.provider,
        "event_type": event.event_type,
        "status": event.status.value,
        "http_status": event.http_status,
        "latency_ms": event.latency_ms,
        "task_id": event.task_id,
        "error": event.error,
        "payload": None if event.payload is None else json.dumps(event.payload),
        "created_at": event.created_at,
    }


def _event(row: Row[Any], *, with_payload: bool) -> WebhookEvent:
    return WebhookEvent(
        event_id=row.event_id,
        webhook_id=row.webhook_id,
        provider=row.provider,
        event_type=row.event_type,
        status=WebhookStatus(row.status),
        created_at=row.created_at,
        http_status=row.http_status,
        latency_ms=row.latency_ms,
        task_id=row.task_id,
        error=row.error,
        payload=json.loads(row.payload) if with_payload and row.payload else None,
    )
