"""The alert service of an app: built from the alerts file, checked on a timer while it runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from litestar.datastructures import State
from litestar.di import Provide

from dashboard_api.adapters.files.alerts_file import AlertsConfig, load_alerts_file
from dashboard_api.adapters.http_sender import HttpAlertSender
from dashboard_api.adapters.memory.alerts import MemoryAlertStore
from dashboard_api.bootstrap.adapters import Adapters
from dashboard_api.domain.clock import Clock
from dashboard_api.domain.services.alerts import AlertService
from dashboard_api.domain.services.analytics import AnalyticsService
from dashboard_api.domain.services.spend import SpendService
from dashboard_api.http.money_metrics import MONEY_METRICS
from dashboard_api.settings import Settings

_log = logging.getLogger(__name__)
_STATE_KEY = "alert_service"
_SPEND_KEY = "spend_service"


def alerts_config(settings: Settings) -> AlertsConfig:
    """The configured budgets and rules; a broken file stops start-up naming it."""
    if not settings.alerts_file:
        return AlertsConfig()
    try:
        return load_alerts_file(settings.alerts_file)
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc


@contextlib.asynccontextmanager
async def alerting(
    state: State,
    adapters: Adapters,
    analytics: AnalyticsService,
    config: AlertsConfig,
    settings: Settings,
    clock: Clock,
) -> AsyncIterator[AlertService]:
    """Build the service, install it, check every `alerts_check_seconds` until the app stops."""
    sender = HttpAlertSender()
    service = AlertService(
        store=adapters.alerts or MemoryAlertStore(),
        analytics=analytics,
        bus=adapters.bus,
        sender=sender,
        budgets=config.budgets,
        failure_rules=config.failure_rates,
        webhooks=config.webhooks,
        spend=adapters.workspace.spend,
        clock=clock,
    )
    state[_STATE_KEY] = service
    state[_SPEND_KEY] = SpendService(adapters.workspace.spend)

    async def rounds() -> None:
        while True:
            try:
                await service.check()
            except Exception:  # database down: the next round tries again
                _log.warning("alert check failed", exc_info=True)
            await asyncio.sleep(settings.alerts_check_seconds)

    # Always running: besides the rules, a round refreshes the cost and outcome series.
    runner = asyncio.create_task(rounds(), name="alert-checks")
    MONEY_METRICS.services.add(service)
    try:
        yield service
    finally:
        MONEY_METRICS.services.discard(service)
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await sender.close()


def _alert_service(state: State) -> AlertService:
    service = state.get(_STATE_KEY)
    if not isinstance(service, AlertService):
        raise RuntimeError("the app has not started: its lifespan builds the alert service")
    return service


def _spend_service(state: State) -> SpendService:
    service = state.get(_SPEND_KEY)
    if not isinstance(service, SpendService):
        raise RuntimeError("the app has not started: its lifespan builds the spend service")
    return service


ALERT_DEPENDENCIES = {
    "alert_service": Provide(_alert_service, sync_to_thread=False),
    "spend_service": Provide(_spend_service, sync_to_thread=False),
}
