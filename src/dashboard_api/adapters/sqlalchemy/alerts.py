"""Alerts on SQLAlchemy Core. `fire` is an insert that a duplicate key refuses: the database,
shared by every replica, decides which one fired the alert."""

from __future__ import annotations

from datetime import datetime

import msgspec
from sqlalchemy import Executable, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from dashboard_api.adapters.sqlalchemy.engine import write_transaction
from dashboard_api.adapters.sqlalchemy.store import SqlStore
from dashboard_api.adapters.sqlalchemy.tables import alert_deliveries, alerts
from dashboard_api.domain.model.budgets import Alert, DeliveryAttempt

_decode = msgspec.json.Decoder(Alert).decode


class SqlAlertStore(SqlStore):
    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self._writer = engine

    async def _write(self, statement: Executable) -> None:
        async with write_transaction(self._writer) as connection:
            await connection.execute(statement)
            await connection.commit()

    async def fire(self, alert: Alert) -> bool:
        row = {
            "alert_id": alert.alert_id,
            "kind": alert.kind.value,
            "fired_at": alert.fired_at,
            "body": msgspec.json.encode(alert).decode(),
        }
        try:
            await self._write(insert(alerts).values(row))
        except IntegrityError:
            return False
        return True

    async def recent(self, *, limit: int, before: datetime | None = None) -> list[Alert]:
        statement = select(alerts.c.body)
        if before is not None:
            statement = statement.where(alerts.c.fired_at < before)
        statement = statement.order_by(alerts.c.fired_at.desc(), alerts.c.alert_id.desc())
        async with self._connection() as connection:
            rows = (await connection.execute(statement.limit(limit))).all()
        return [_decode(row.body) for row in rows]

    async def record_attempt(self, attempt: DeliveryAttempt) -> None:
        await self._write(insert(alert_deliveries).values(msgspec.structs.asdict(attempt)))

    async def attempts(self, alert_id: str) -> list[DeliveryAttempt]:
        statement = (
            select(alert_deliveries)
            .where(alert_deliveries.c.alert_id == alert_id)
            .order_by(alert_deliveries.c.endpoint, alert_deliveries.c.attempt)
        )
        async with self._connection() as connection:
            rows = (await connection.execute(statement)).mappings().all()
        return [DeliveryAttempt(**row) for row in rows]
