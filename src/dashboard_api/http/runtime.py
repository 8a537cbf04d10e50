"""What a running app holds: its adapters and the services built on them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from litestar.datastructures import State

from dashboard_api.bootstrap.adapters import Adapters
from dashboard_api.domain.model.access import Access
from dashboard_api.domain.ports import TicketStore
from dashboard_api.domain.realtime.hub import Hub
from dashboard_api.domain.services.analytics import AnalyticsService
from dashboard_api.domain.services.ingestion import Ingestor
from dashboard_api.domain.services.rate_limits import RateLimiter
from dashboard_api.domain.services.tasks import TaskService
from dashboard_api.settings import Settings

_STATE_KEY = "runtime"


@dataclass(eq=False)  # identity: one per running app
class Runtime:
    adapters: Adapters
    tasks: TaskService
    analytics: AnalyticsService
    hub: Hub
    ingestor: Ingestor
    settings: Settings
    access: Access = field(default_factory=lambda: Access({}))
    tickets: TicketStore = field(default_factory=lambda: _memory_tickets())
    limiter: RateLimiter | None = None  # None: no budget is limited
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    _started_monotonic: float = field(default_factory=time.monotonic)

    def uptime_seconds(self) -> float:
        return time.monotonic() - self._started_monotonic

    def install(self, state: State) -> None:
        state[_STATE_KEY] = self

    @staticmethod
    def of(state: State) -> Runtime:
        runtime = state.get(_STATE_KEY)
        if not isinstance(runtime, Runtime):
            raise RuntimeError("the app has not started: its lifespan builds the runtime")
        return runtime


def _memory_tickets() -> TicketStore:
    from dashboard_api.adapters.memory.edge import MemoryTicketStore

    return MemoryTicketStore()
