"""The application factory. Adapters are built in the lifespan, inside the server's event loop."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.types import ControllerRouterHandler

from dashboard_api.bootstrap import Adapters, build_adapters, build_services, running
from dashboard_api.bootstrap.services import alerts_config
from dashboard_api.domain.clock import Clock, utc_now
from dashboard_api.domain.model.access import Access, parse_tokens
from dashboard_api.http.allow import point_options_at_final_routes
from dashboard_api.http.auth import require_token
from dashboard_api.http.browser import BrowserSafety, cors_config
from dashboard_api.http.console import console_router
from dashboard_api.http.controllers.alerts import AlertController
from dashboard_api.http.controllers.analytics import AnalyticsController
from dashboard_api.http.controllers.conversations import ConversationController
from dashboard_api.http.controllers.exports import ExportController
from dashboard_api.http.controllers.groote import (
    GrooteConversationController,
    GrooteTaskController,
)
from dashboard_api.http.controllers.otlp import export_traces
from dashboard_api.http.controllers.sources import OAuthController, SourceController
from dashboard_api.http.controllers.system import SystemController
from dashboard_api.http.controllers.task_actions import TaskActionController
from dashboard_api.http.controllers.tasks import TaskController
from dashboard_api.http.controllers.webhooks import WebhookController
from dashboard_api.http.dependencies import DEPENDENCIES, install
from dashboard_api.http.docs import docs_assets_router, openapi_config
from dashboard_api.http.encoding import JSONResponse
from dashboard_api.http.fast_reads import DashboardApp, FastReads, route_hot_reads
from dashboard_api.http.logs import configure_logging
from dashboard_api.http.middleware_chain import MiddlewareChain
from dashboard_api.http.money_metrics import MONEY_METRICS
from dashboard_api.http.observability import RUNTIME_METRICS, MetricsController, RequestObserver
from dashboard_api.http.openapi_schema import SCHEMA_PLUGINS
from dashboard_api.http.otlp import OTLP_DEPENDENCIES, OtlpReceiver
from dashboard_api.http.problems import EXCEPTION_HANDLERS
from dashboard_api.http.rate_limits import RateLimits
from dashboard_api.http.requests import JsonRequest
from dashboard_api.http.tickets import RealtimeController
from dashboard_api.http.websocket import websocket_hub
from dashboard_api.price_file import load_prices
from dashboard_api.settings import Settings


def create_app(
    settings: Settings | None = None,
    *,
    adapters: Adapters | None = None,
    clock: Clock = utc_now,
    debug: bool = False,
    freeze_gc: bool = False,
) -> Litestar:
    """Build the app. Pass `adapters` to embed it on storage and a bus of your own; they stay
    yours to close. Without them the app builds (and closes) the ones `settings` describe.
    `freeze_gc` (what the server entry point sets) moves everything start-up built out of the
    cyclic garbage collector's reach: a process-wide choice, so an embedder makes it."""
    settings = settings or Settings.from_env()
    access = Access(parse_tokens(settings.api_tokens))
    prices = load_prices(settings.prices_file)
    alerts = alerts_config(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        owned = adapters is None
        ready = adapters if adapters is not None else await build_adapters(settings)
        services = build_services(ready, settings, clock=clock, prices=prices, alerts=alerts)
        install(app.state, services)
        OtlpReceiver(services.otel).install(app.state)
        RUNTIME_METRICS.runtimes.add(services)
        MONEY_METRICS.services.add(services.alerts)
        if services.retention is not None:
            MONEY_METRICS.retention_jobs.add(services.retention)
        try:
            async with running(services):
                if freeze_gc:
                    # What start-up built lives as long as the process: keep it out of the
                    # cyclic collector, whose full passes would walk it (tail latency of /ws).
                    gc.collect()
                    gc.freeze()
                yield
        finally:
            MONEY_METRICS.services.discard(services.alerts)
            if services.retention is not None:
                MONEY_METRICS.retention_jobs.discard(services.retention)
            RUNTIME_METRICS.runtimes.discard(services)
            if owned:
                await ready.close()

    app = DashboardApp(
        route_handlers=[
            *task_and_conversation_controllers(settings),
            ExportController,
            TaskActionController,
            AlertController,
            AnalyticsController,
            SystemController,
            MetricsController,
            websocket_hub,
            RealtimeController,
            export_traces,
            WebhookController,
            SourceController,
            OAuthController,
            docs_assets_router(),
            console_router(),
        ],
        # Outermost first: every answer is logged and counted, refusals included; the browser
        # rules come before authentication and rate limits spend nothing on a refused page.
        # FastReads answers the hottest reads without the handler machinery (fast_reads.py).
        # One chain, not four of Litestar's middleware wrappers (middleware_chain.py).
        middleware=[
            MiddlewareChain(
                RequestObserver(), BrowserSafety(settings), RateLimits(settings), FastReads()
            )
        ],
        cors_config=cors_config(settings),
        # No tokens, no guard: it would pass every request anyway, and Litestar copies the
        # route handler for each guard call (~5% of a by-id read in a profile).
        guards=[require_token] if access.enabled else [],
        dependencies={**DEPENDENCIES, **OTLP_DEPENDENCIES},
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        openapi_config=openapi_config(),
        plugins=list(SCHEMA_PLUGINS),
        request_max_body_size=settings.max_body_bytes,
        # Logging is configured once, by http/logs.py: Litestar's default config would replace
        # the root handler with its own plain-text one.
        logging_config=None,
        request_class=JsonRequest,
        response_class=JSONResponse,
        debug=debug,
    )
    point_options_at_final_routes(app)
    # The two hottest reads skip the router (fast_reads.py).
    route_hot_reads(app)
    return app


def task_and_conversation_controllers(settings: Settings) -> list[ControllerRouterHandler]:
    """The native controllers, or their groote-ai flavour when that adapter is on."""
    if settings.groote_events:
        return [GrooteTaskController, GrooteConversationController]
    return [TaskController, ConversationController]


def app_from_env() -> Litestar:
    """Entry point for ASGI servers: `uvicorn --factory dashboard_api.http.app:app_from_env`."""
    settings = Settings.from_env()
    configure_logging(settings)
    return create_app(settings, freeze_gc=True)
