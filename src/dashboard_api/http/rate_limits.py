"""Rate limits per client (a token, or an address without tokens): a budget per minute for
reads, writes and ingestion (domain/rate_limits.py), counted in Redis when configured so the
replicas share them; and a cap on each client's open WebSockets (per process).

Litestar's `RateLimitMiddleware` was not used: it has one budget per middleware, keeps a list
of timestamps per client that it reads, rewrites and stores in two round trips under a
process-local lock (so replicas race each other), and answers with its own body. Here a
request costs a round trip only once per lease (domain/rate_limits.py), and a refusal is a
problem like every error.
"""

from __future__ import annotations

import collections
from typing import Any

import structlog
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from dashboard_api.bootstrap import Services
from dashboard_api.bootstrap.failures import UNAVAILABLE_ERRORS
from dashboard_api.domain.services.rate_limits import Budget, Decision
from dashboard_api.http.auth import caller_of
from dashboard_api.http.browser import Refusal, refuse
from dashboard_api.http.dependencies import services_of
from dashboard_api.settings import Settings

# Probes, metrics and docs are never limited: an orchestrator or a scraper must always get in.
_EXEMPT_PATHS = frozenset({"/health", "/ready", "/metrics"})
_EXEMPT_PREFIXES = ("/schema",)
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_WS_TOO_MANY = 1008  # policy violation, with a reason the client can read

_log = structlog.get_logger("dashboard_api.http")


def budget_of(scope: Scope, opt: dict[str, Any]) -> Budget:
    """Reads (and asking for a ticket), ingestion (what engines report), or writes."""
    access = opt.get("access")
    if scope["type"] == ScopeType.WEBSOCKET or access == "read":
        return Budget.READ
    if scope.get("method") in _READ_METHODS:
        return Budget.READ
    return Budget.INGEST if access == "ingest" else Budget.WRITE


def _exempt(scope: Scope, opt: dict[str, Any]) -> bool:
    path = scope.get("path", "")
    return (
        opt.get("access") == "public" or path in _EXEMPT_PATHS or path.startswith(_EXEMPT_PREFIXES)
    )


class RateLimits(ASGIMiddleware):
    scopes = (ScopeType.HTTP, ScopeType.WEBSOCKET)

    def __init__(self, settings: Settings) -> None:
        self._max_sockets = settings.ws_max_connections_per_client
        self._open_sockets: collections.Counter[str] = collections.Counter()

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        handler = scope.get("route_handler")
        opt: dict[str, Any] = handler.opt if handler is not None else {}
        if _exempt(scope, opt):
            await next_app(scope, receive, send)
            return
        runtime = services_of(scope["litestar_app"].state)
        decision = await self._decide(scope, runtime, budget_of(scope, opt))
        if decision is not None and not decision.allowed:
            await refuse(scope, receive, send, _too_many(decision))
        elif scope["type"] == ScopeType.WEBSOCKET:
            await self._websocket(scope, receive, send, next_app, runtime)
        elif decision is None:
            await next_app(scope, receive, send)
        else:
            await next_app(scope, receive, _with_headers(send, decision))

    def unlimited(self, scope: Scope, runtime: Services) -> bool:
        """Whether this HTTP request would pass through `handle` uncounted and unchanged (no
        budget limits it, or it is exempt)."""
        handler = scope.get("route_handler")
        opt: dict[str, Any] = handler.opt if handler is not None else {}
        limiter = runtime.limiter
        return limiter is None or _exempt(scope, opt) or not limiter.limits(budget_of(scope, opt))

    async def _decide(self, scope: Scope, runtime: Services, budget: Budget) -> Decision | None:
        limiter = runtime.limiter
        if limiter is None or not limiter.limits(budget):
            return None
        caller = await caller_of(scope, runtime)
        try:
            return await limiter.check(caller.client, budget)
        except UNAVAILABLE_ERRORS as exc:
            # Counting is unavailable (Redis is down): serve rather than refuse everyone.
            _log.warning("rate limit not checked", error=repr(exc)[:200])
            return None

    async def _websocket(
        self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp, runtime: Services
    ) -> None:
        client = (await caller_of(scope, runtime)).client
        if self._max_sockets and self._open_sockets[client] >= self._max_sockets:
            # Accepted, then closed at once: a browser sees the code and reason (a refused
            # handshake would only be a 403 to it).
            await receive()
            await send({"type": "websocket.accept", "subprotocol": None, "headers": []})
            reason = f"too many open WebSockets for this client ({self._max_sockets})"
            await send({"type": "websocket.close", "code": _WS_TOO_MANY, "reason": reason})
            return
        self._open_sockets[client] += 1
        try:
            await next_app(scope, receive, send)
        finally:
            self._open_sockets[client] -= 1
            if not self._open_sockets[client]:
                del self._open_sockets[client]


def _headers(decision: Decision) -> list[tuple[bytes, bytes]]:
    return [
        (b"ratelimit-limit", str(decision.limit).encode()),
        (b"ratelimit-remaining", str(decision.remaining).encode()),
        (b"ratelimit-reset", str(decision.reset_seconds).encode()),
    ]


def _with_headers(send: Send, decision: Decision) -> Send:
    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), *_headers(decision)]
        await send(message)

    return send_with_headers


def _too_many(decision: Decision) -> Refusal:
    headers = {name.decode(): value.decode() for name, value in _headers(decision)}
    headers["retry-after"] = str(decision.reset_seconds)
    return Refusal(
        429,
        "rate-limited",
        f"this client's budget of {decision.limit} such requests per minute is spent; "
        f"retry in {decision.reset_seconds} s",
        headers,
    )
