"""One log line and one metrics observation per HTTP request, and the /metrics endpoint.

Litestar's logging middleware writes a request line and a response line (and bodies unless told
otherwise); the contract is one line per request without bodies, so this small middleware does it.
"""

from __future__ import annotations

import logging
import re
import time
import weakref
from bisect import bisect_left
from collections.abc import Iterator
from contextvars import ContextVar
from random import getrandbits
from typing import Any

import structlog
from litestar import Controller, Response, get
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dashboard_api.bootstrap import Services
from dashboard_api.domain.services.ingestion import Ingestor

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
        self.runtimes: weakref.WeakSet[Services] = weakref.WeakSet()

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
_ws_log = structlog.get_logger("dashboard_api.websocket")
_QUIET_ROUTES = frozenset({"/metrics", "/health", "/ready"})
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


_SERIES: dict[tuple[str, str, int], tuple[Any, Any]] = {}
# Requests answered and not yet counted: (method, route, status, seconds). Counting one costs
# three locked updates in prometheus_client (the counter, the histogram's bucket and sum);
# a request only appends here and the series are brought up to date in batches, and always
# before /metrics is rendered (`flush_request_metrics`).
_PENDING: list[tuple[str, str, int, float]] = []
_BATCH = 256


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


def flush_request_metrics() -> None:
    """Count the requests answered since the last flush: per series, one update of the
    counter, of each histogram bucket hit and of the sum (the durations' sum added at once:
    the same figure but for the float's last bits). An `inc` and an `observe` per request
    (three locked updates and the bucket search) cost ~3-4 us of a by-id read's CPU in
    batches of 256 (docs/benchmarks.md, "By id: the detail from the row, the observer
    inlined")."""
    pending = _PENDING.copy()
    _PENDING.clear()
    durations: dict[tuple[str, str, int], list[float]] = {}
    for method, route, status, elapsed in pending:
        key = (method, route, status)
        found = durations.get(key)
        if found is None:
            durations[key] = [elapsed]
        else:
            found.append(elapsed)
    for key, observed in durations.items():
        counted, timed = _series(*key)
        counted.inc(len(observed))
        _observe_all(timed, observed)


def _observe_all(timed: Any, observed: list[float]) -> None:
    """`timed.observe(amount)` for each amount, as prometheus_client's `Histogram.observe`
    does it (the first bucket whose bound is >= the amount, the sum), each bucket and the sum
    updated once. Without the histogram's parts (another prometheus_client), `observe`."""
    bounds: list[float] | None = getattr(timed, "_upper_bounds", None)
    buckets = getattr(timed, "_buckets", None)
    total = getattr(timed, "_sum", None)
    if bounds is None or buckets is None or total is None:
        for amount in observed:
            timed.observe(amount)
        return
    hits = [0] * len(bounds)
    for amount in observed:
        hits[bisect_left(bounds, amount)] += 1
    total.inc(sum(observed))
    for index, count in enumerate(hits):
        if count:
            buckets[index].inc(count)


class RequestObserver(ASGIMiddleware):
    """The request id of every line, the access line and the metrics of a request; a
    WebSocket's connect and close (with the close code)."""

    scopes = (ScopeType.HTTP, ScopeType.WEBSOCKET)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        request_id = request_id_of(scope)
        token = REQUEST_ID.set(request_id)
        if scope["type"] == ScopeType.WEBSOCKET:
            try:
                await _observe_websocket(scope, receive, send, next_app)
            finally:
                REQUEST_ID.reset(token)
            return
        # HTTP, in this coroutine (one coroutine less per request than a helper's).
        started = time.perf_counter()
        status = 500
        request_id_header = (b"x-request-id", request_id.encode())

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), request_id_header]
            await send(message)

        try:
            await next_app(scope, receive, observe)
        finally:
            try:
                observed_http(scope, status, time.perf_counter() - started)
            finally:
                REQUEST_ID.reset(token)


class ObservedSend:
    """`RequestObserver.handle`'s send hook as an object, for a request the observer's work is
    done inline for (`fast_reads._Direct`): the status of the start message recorded, the
    request id's header added to it."""

    __slots__ = ("header", "send", "status")

    def __init__(self, send: Send, request_id: str) -> None:
        self.send = send
        self.header = (b"x-request-id", request_id.encode())
        self.status = 500

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            message["headers"] = [*message.get("headers", ()), self.header]
        await self.send(message)


def _request_id_variable() -> ContextVar[Any]:
    """structlog's context variable of `request_id`, to be set directly: `bind_contextvars`
    builds the variable's name and looks it up on every call (1.0 us a request with the
    reset, against 0.15 us)."""
    token = structlog.contextvars.bind_contextvars(request_id=None)["request_id"]
    token.var.reset(token)
    return token.var


# Set and reset by the observer (and by its work done inline, `fast_reads._Direct`).
REQUEST_ID = _request_id_variable()


REQUEST_ID_HEADER = "x-request-id"
# An incoming id is kept when it is short and plain (it is echoed and logged); else a new one.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@+=/-]{1,128}")


def request_id_of(scope: Scope) -> str:
    """The client's `X-Request-ID` if it is sane, else a fresh random id."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if _SANE_REQUEST_ID.fullmatch(text):
                return text
            break
    # 128 random bits from the process's generator (seeded from the OS, and again in a forked
    # child): a request id needs to be unique, not unguessable. `os.urandom` is a system call
    # per request (getrandom, seen in `strace -c` of a by-id read): 0.75 against 0.25 us.
    return getrandbits(128).to_bytes(16, "big").hex()


_ACCESS_ON: bool | None = None


def _access_wanted() -> bool:
    """False once structlog has cached the access logger (it does on first use when
    configured to, as http/logs.py does) at a level that drops info lines: the line is then
    not built at all (its arguments and structlog's lazy proxy cost ~1.5 us a request).
    Until the logger is cached, every line is handed to it."""
    global _ACCESS_ON
    if _ACCESS_ON is None:
        bound = _access_log.bind()
        if "bind" not in vars(_access_log):  # not cached: the configuration may still change
            return True
        enabled = getattr(bound, "is_enabled_for", None)
        _ACCESS_ON = True if enabled is None else bool(enabled(logging.INFO))
    return _ACCESS_ON


def observed_http(scope: Scope, status: int, elapsed: float) -> None:
    """The metrics and the access line of an HTTP request."""
    route = scope.get("path_template") or "unmatched"
    method = scope.get("method", "")
    if method not in _METHODS:
        method = "OTHER"  # a client picks the method: never let it mint label values
    _PENDING.append((method, route, status, elapsed))
    if len(_PENDING) >= _BATCH:
        flush_request_metrics()
    if route not in _QUIET_ROUTES and _access_wanted():
        _access_log.info(
            "request",
            method=method,
            route=route,
            path=scope.get("path"),
            status=status,
            duration_ms=round(elapsed * 1000, 3),
        )


async def _observe_websocket(scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
    """Logs the connect (or the refusal) and the close with its code and who closed. The path
    is logged without its query string, which may carry a credential."""
    started = time.perf_counter()
    accepted = False
    close_code: int | None = None
    closed_by = "server"

    async def observed_send(message: Message) -> None:
        nonlocal accepted, close_code
        if message["type"] == "websocket.accept":
            accepted = True
            _ws_log.info("websocket connected", path=scope.get("path"))
        elif message["type"] == "websocket.close" and close_code is None:
            close_code = message.get("code", 1000)
        await send(message)

    async def observed_receive() -> ReceiveMessage:
        nonlocal close_code, closed_by
        message = await receive()
        if message["type"] == "websocket.disconnect" and close_code is None:
            close_code, closed_by = message.get("code", 1005), "client"
        return message

    try:
        await next_app(scope, observed_receive, observed_send)
    finally:
        if accepted:
            _ws_log.info(
                "websocket closed",
                path=scope.get("path"),
                code=close_code,
                closed_by=closed_by,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
            )
        else:
            _ws_log.info("websocket refused", path=scope.get("path"), code=close_code)


class MetricsController(Controller):
    include_in_schema = False

    @get("/metrics", summary="Prometheus metrics of this process")
    async def metrics(self) -> Response[bytes]:
        flush_request_metrics()
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
