"""One log line and one metrics observation per HTTP request, and the /metrics endpoint.

Litestar's logging middleware writes a request line and a response line (and bodies unless told
otherwise); the contract is one line per request without bodies, so this small middleware does it.
"""

from __future__ import annotations

import logging
import sys
import time
import weakref
from collections.abc import Iterator
from typing import Any

import structlog
from litestar import Controller, Response, get
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dashboard_api.domain.ingestion import Ingestor
from dashboard_api.http.runtime import Runtime
from dashboard_api.settings import Settings

REQUESTS = Counter(
    "dashboard_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
LATENCY = Histogram(
    "dashboard_http_request_duration_seconds",
    "Time from request to the end of the response",
    ["method", "route"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
)


class RuntimeCollector(Collector):
    """The hub's and the ingestor's figures, read when /metrics is scraped: nothing on the
    hot paths but the plain counters they keep anyway. Sums over the running apps of the
    process (one, but for tests and embedders that run several)."""

    def __init__(self) -> None:
        self.runtimes: weakref.WeakSet[Runtime] = weakref.WeakSet()

    def collect(self) -> Iterator[Metric]:
        runtimes = list(self.runtimes)
        hubs = [runtime.hub for runtime in runtimes]
        ingestors = [runtime.ingestor for runtime in runtimes]
        gauges = (
            ("dashboard_ws_connections", "Open WebSocket connections", "connections"),
            (
                "dashboard_ws_subscriptions",
                "Channel subscriptions of open connections",
                "subscriptions",
            ),
            ("dashboard_ws_channels", "Channels with at least one subscriber", "channels"),
        )
        for name, documentation, attribute in gauges:
            yield GaugeMetricFamily(
                name, documentation, value=sum(getattr(hub, attribute) for hub in hubs)
            )
        yield GaugeMetricFamily(
            "dashboard_bus_connected",
            "1 when the hub's live feed from the event bus is connected",
            value=int(bool(hubs) and all(hub.bus_connected for hub in hubs)),
        )
        counters = (
            ("dashboard_ws_events", "Events fanned out to subscribers", hubs, "events_fanned_out"),
            (
                "dashboard_ws_slow_clients_dropped",
                "Connections closed because their send queue was full",
                hubs,
                "dropped_slow_clients",
            ),
            ("dashboard_ingest_applied", "Ingested events applied", ingestors, "applied"),
            ("dashboard_ingest_rejected", "Ingested events dead-lettered", ingestors, "rejected"),
            (
                "dashboard_ingest_failures",
                "Ingestion attempts that failed and will be retried",
                ingestors,
                "failures",
            ),
        )
        for name, documentation, sources, attribute in counters:
            yield CounterMetricFamily(
                name, documentation, value=sum(getattr(source, attribute) for source in sources)
            )
        yield from _ingest_gauges(ingestors)


def _ingest_gauges(ingestors: list[Ingestor]) -> Iterator[Metric]:
    """Ingest lag as the queue reported it at the ingestor's last look (every ~2 s): the
    figures of the shared stream, the same seen from every replica, so the largest is taken."""
    stats = [ingestor.stats for ingestor in ingestors]
    gauges = (
        ("dashboard_ingest_pending", "Ingest entries delivered, not yet acknowledged", "pending"),
        (
            "dashboard_ingest_oldest_pending_age_seconds",
            "Age of the oldest unacknowledged ingest entry (since it was added)",
            "oldest_pending_age_seconds",
        ),
        (
            "dashboard_ingest_undelivered",
            "Ingest entries added and not yet delivered to any consumer",
            "undelivered",
        ),
        (
            "dashboard_ingest_dead_letters",
            "Entries in the ingest dead-letter stream",
            "dead_letters",
        ),
    )
    for name, documentation, attribute in gauges:
        yield GaugeMetricFamily(
            name, documentation, value=max((getattr(s, attribute) for s in stats), default=0)
        )
    yield GaugeMetricFamily(
        "dashboard_ingest_waiting",
        "Ingest entries held back until an earlier event of their task arrives",
        value=sum(ingestor.waiting for ingestor in ingestors),
    )
    yield GaugeMetricFamily(
        "dashboard_ingest_leading",
        "1 when this process is the one consuming the ingest stream",
        value=int(any(ingestor.leading for ingestor in ingestors)),
    )
    yield GaugeMetricFamily(
        "dashboard_ingest_healthy",
        "0 while ingestion cannot make progress (see the log and /ready)",
        value=int(all(ingestor.healthy for ingestor in ingestors)),
    )


RUNTIME_METRICS = RuntimeCollector()
REGISTRY.register(RUNTIME_METRICS)

_access_log = structlog.get_logger("dashboard_api.access")
_QUIET_ROUTES = frozenset({"/metrics", "/health", "/ready"})
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def configure_logging(settings: Settings) -> None:
    """structlog to stdout: JSON lines in production, readable lines on a console."""
    level = getattr(logging, settings.log_level.upper())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )


_SERIES: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def _series(method: str, route: str, status: int) -> tuple[Any, Any]:
    """The labelled children of both metrics, looked up once per (method, route, status):
    `labels()` validates and locks on every call."""
    key = (method, route, status)
    found = _SERIES.get(key)
    if found is None:
        found = _SERIES[key] = (
            REQUESTS.labels(method, route, str(status)),
            LATENCY.labels(method, route),
        )
    return found


class RequestObserver(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        started = time.perf_counter()
        status = 500

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await next_app(scope, receive, observe)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("path_template") or "unmatched"
            method = scope.get("method", "")
            if method not in _METHODS:
                method = "OTHER"  # a client picks the method: never let it mint label values
            counted, timed = _series(method, route, status)
            counted.inc()
            timed.observe(elapsed)
            if route not in _QUIET_ROUTES:
                _access_log.info(
                    "request",
                    method=method,
                    route=route,
                    path=scope.get("path"),
                    status=status,
                    duration_ms=round(elapsed * 1000, 3),
                )


class MetricsController(Controller):
    include_in_schema = False

    @get("/metrics", summary="Prometheus metrics of this process")
    async def metrics(self) -> Response[bytes]:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
