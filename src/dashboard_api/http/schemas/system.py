"""What /health, /ready and /api/status answer."""

from __future__ import annotations

from datetime import datetime

import msgspec

from dashboard_api.domain.model.tasks import (
    TaskCounts,
)


class Reachability(msgspec.Struct, kw_only=True):
    configured: bool
    reachable: bool | None
    error: str | None = None


class RealtimeStatus(msgspec.Struct, kw_only=True):
    connections: int
    subscriptions: int
    channels: int
    bus_connected: bool
    dropped_slow_clients: int
    ingested_events: int
    rejected_events: int


class ServiceStatus(msgspec.Struct, kw_only=True):
    status: str
    version: str
    started_at: datetime
    uptime_seconds: float
    database: Reachability
    redis: Reachability
    tasks: TaskCounts | None
    realtime: RealtimeStatus


class Health(msgspec.Struct, kw_only=True):
    status: str


class Readiness(msgspec.Struct, kw_only=True):
    status: str
    checks: dict[str, bool]
