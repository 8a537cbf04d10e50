"""The application factory. Adapters are built in the lifespan, inside the server's event loop."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide

from dashboard_api.bootstrap import Adapters, build_adapters
from dashboard_api.demo_engine import DemoEngine
from dashboard_api.domain.access import Access, parse_tokens
from dashboard_api.domain.analytics_service import AnalyticsService
from dashboard_api.domain.clock import Clock, utc_now
from dashboard_api.domain.task_service import TaskService
from dashboard_api.domain.webhook_service import WEBHOOK_EVENT_TYPE, webhook_ingest_handler
from dashboard_api.engine import EnginePublisher
from dashboard_api.http.alerting import ALERT_DEPENDENCIES, alerting, alerts_config
from dashboard_api.http.allow import point_options_at_final_routes
from dashboard_api.http.auth import require_token
from dashboard_api.http.browser import BrowserSafety, cors_config
from dashboard_api.http.console import console_router
from dashboard_api.http.controllers.alerts import AlertController
from dashboard_api.http.controllers.analytics import AnalyticsController
from dashboard_api.http.controllers.exports import ExportController
from dashboard_api.http.controllers.otlp import export_traces
from dashboard_api.http.controllers.sources import OAuthController, SourceController
from dashboard_api.http.controllers.system import SystemController
from dashboard_api.http.controllers.task_actions import TaskActionController
from dashboard_api.http.controllers.webhooks import WebhookController
from dashboard_api.http.docs import docs_assets_router, openapi_config
from dashboard_api.http.encoding import JSONResponse
from dashboard_api.http.fast_reads import FastReads
from dashboard_api.http.groote import (
    GROOTE_DEPENDENCIES,
    build_groote,
    groote_running,
    task_and_conversation_controllers,
)
from dashboard_api.http.lifespan import build_hub, build_ingestor, running
from dashboard_api.http.logs import configure_logging
from dashboard_api.http.observability import RUNTIME_METRICS, MetricsController, RequestObserver
from dashboard_api.http.openapi_schema import SCHEMA_PLUGINS
from dashboard_api.http.otlp import OTLP_DEPENDENCIES, build_otlp
from dashboard_api.http.problems import EXCEPTION_HANDLERS
from dashboard_api.http.rate_limits import RateLimits, build_limiter
from dashboard_api.http.requests import JsonRequest
from dashboard_api.http.retention_loop import retention
from dashboard_api.http.runtime import Runtime
from dashboard_api.http.tickets import RealtimeController
from dashboard_api.http.websocket import websocket_hub
from dashboard_api.http.workspace import (
    WORKSPACE_DEPENDENCIES,
    WorkspaceServices,
    build_workspace,
    relay_loop,
)
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
        tasks = TaskService(
            unit_of_work=ready.unit_of_work,
            reads=ready.task_reads,
            bus=ready.bus,
            clock=clock,
            configured_agents=settings.agents,
            prices=prices,
        )
        analytics = AnalyticsService(
            rollups=ready.rollup_reads,
            tasks=ready.task_reads,
            clock=clock,
            cache_entries=settings.analytics_cache_entries,
        )
        hub = build_hub(ready, tasks, settings)
        ingestor = build_ingestor(ready, tasks, settings)
        runtime = Runtime(
            adapters=ready,
            tasks=tasks,
            analytics=analytics,
            hub=hub,
            ingestor=ingestor,
            settings=settings,
            access=access,
            tickets=ready.tickets,
            limiter=build_limiter(settings, ready.request_counter),
        )
        runtime.install(app.state)
        RUNTIME_METRICS.runtimes.add(runtime)
        workspace = build_workspace(ready, tasks, settings, clock)
        workspace.install(app.state)
        ingestor.register(WEBHOOK_EVENT_TYPE, webhook_ingest_handler(workspace.webhooks))
        groote = build_groote(ready, tasks, workspace, settings, clock)
        groote.install(app.state)
        build_otlp(ready, tasks, workspace, prices, clock).install(app.state)
        try:
            demo = _demo_engine(ready, tasks, workspace, settings, clock) if settings.demo else None
            if demo is not None:
                await demo.backfill()  # before serving: every chart has data at first load
            async with (
                running(
                    hub,
                    ingestor,
                    demo_engine=demo,
                    retention=(tasks, timedelta(hours=settings.processed_events_retention_hours)),
                ),
                relay_loop(workspace.relay, settings.handoff_retry_seconds),
                alerting(app.state, ready, analytics, alerts, settings, clock),
                retention(ready, settings, clock),
                groote_running(groote, settings.redis_url if settings.groote_events else None),
            ):
                if freeze_gc:
                    # What start-up built lives as long as the process: keep it out of the
                    # cyclic collector, whose full passes would walk it (tail latency of /ws).
                    gc.collect()
                    gc.freeze()
                yield
        finally:
            RUNTIME_METRICS.runtimes.discard(runtime)
            if owned:
                await ready.close()

    app = Litestar(
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
            *WORKSPACE_CONTROLLERS,
            docs_assets_router(),
            console_router(),
        ],
        # Outermost first: every answer is logged and counted, refusals included; the browser
        # rules come before authentication and rate limits spend nothing on a refused page.
        # FastReads answers the hottest reads without the handler machinery (fast_reads.py).
        middleware=[RequestObserver(), BrowserSafety(settings), RateLimits(settings), FastReads()],
        cors_config=cors_config(settings),
        # No tokens, no guard: it would pass every request anyway, and Litestar copies the
        # route handler for each guard call (~5% of a by-id read in a profile).
        guards=[require_token] if access.enabled else [],
        dependencies={
            "task_service": Provide(_task_service, sync_to_thread=False),
            "analytics_service": Provide(_analytics_service, sync_to_thread=False),
            **WORKSPACE_DEPENDENCIES,
            **ALERT_DEPENDENCIES,
            **GROOTE_DEPENDENCIES,
            **OTLP_DEPENDENCIES,
        },
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
    return app


WORKSPACE_CONTROLLERS = (
    WebhookController,
    SourceController,
    OAuthController,
)


def _demo_engine(
    ready: Adapters,
    tasks: TaskService,
    workspace: WorkspaceServices,
    settings: Settings,
    clock: Clock,
) -> DemoEngine:
    return DemoEngine(
        publisher=EnginePublisher(ready.bus, ready.ingest),
        bus=ready.bus,
        tasks=tasks,
        conversations=workspace.conversations,
        unit_of_work=ready.unit_of_work,
        oauth=ready.workspace.oauth,
        engine_queue=settings.engine_queue,
        redis_url=settings.redis_url,
        clock=clock,
    )


def _task_service(state: State) -> TaskService:
    return Runtime.of(state).tasks


def _analytics_service(state: State) -> AnalyticsService:
    return Runtime.of(state).analytics


def app_from_env() -> Litestar:
    """Entry point for ASGI servers: `uvicorn --factory dashboard_api.http.app:app_from_env`."""
    settings = Settings.from_env()
    configure_logging(settings)
    return create_app(settings, freeze_gc=True)
