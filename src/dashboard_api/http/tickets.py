"""`POST /api/realtime/tickets`: a short-lived, single-use ticket to open `/ws?ticket=...`.

A browser cannot set an `Authorization` header on a WebSocket, and a long-lived token in a URL
ends up in histories and logs; a ticket is useless a few seconds later and after one use. It
is issued to the token that asked (its digest is stored, never the secret), so the socket has
that token's scopes. Tickets live in Redis when configured, so any replica can redeem them.
"""

from __future__ import annotations

import secrets
from typing import Any

import msgspec
from litestar import Controller, Request, post
from litestar.datastructures import State
from litestar.status_codes import HTTP_201_CREATED

from dashboard_api.http.auth import READ, caller_of
from dashboard_api.http.dependencies import services_of
from dashboard_api.http.problem_responses import errors

_ANONYMOUS = "anonymous"  # no tokens configured: the socket needs no credential anyway


class WebSocketTicket(msgspec.Struct, kw_only=True):
    ticket: str
    expires_in: int  # seconds
    url: str  # the path to open, ticket included


class RealtimeController(Controller):
    path = "/api/realtime"
    tags = ["realtime"]

    @post(
        "/tickets",
        status_code=HTTP_201_CREATED,
        opt=READ,
        summary="A single-use ticket to open /ws from a browser (needs read)",
        operation_id="createRealtimeTicket",
        # 415: a body that is not JSON is refused by the browser rules (http/browser.py).
        responses=errors(401, 403, 415, 429, 503),
    )
    async def create_ticket(self, request: Request[Any, Any, State]) -> WebSocketTicket:
        runtime = services_of(request.app.state)
        token = (await caller_of(request.scope, runtime)).token
        ticket = secrets.token_urlsafe(32)
        ttl = runtime.settings.ws_ticket_ttl_seconds
        await runtime.tickets.issue(ticket, token.digest if token else _ANONYMOUS, ttl)
        return WebSocketTicket(ticket=ticket, expires_in=ttl, url=f"/ws?ticket={ticket}")
