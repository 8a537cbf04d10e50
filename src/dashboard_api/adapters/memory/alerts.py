"""Alerts in process memory: one replica's dedupe, for embedders, tests and the demo."""

from __future__ import annotations

from datetime import datetime

from dashboard_api.domain.model.budgets import Alert, DeliveryAttempt


class MemoryAlertStore:
    def __init__(self) -> None:
        self._alerts: dict[str, Alert] = {}
        self._attempts: list[DeliveryAttempt] = []

    async def fire(self, alert: Alert) -> bool:
        if alert.alert_id in self._alerts:
            return False
        self._alerts[alert.alert_id] = alert
        return True

    async def recent(self, *, limit: int, before: datetime | None = None) -> list[Alert]:
        alerts = sorted(self._alerts.values(), key=lambda a: (a.fired_at, a.alert_id), reverse=True)
        if before is not None:
            alerts = [alert for alert in alerts if alert.fired_at < before]
        return alerts[:limit]

    async def record_attempt(self, attempt: DeliveryAttempt) -> None:
        self._attempts.append(attempt)

    async def attempts(self, alert_id: str) -> list[DeliveryAttempt]:
        return [attempt for attempt in self._attempts if attempt.alert_id == alert_id]
