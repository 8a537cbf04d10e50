"""Who is calling, and may they: bearer tokens with scopes. GET needs `read`, changes need
`write`; engine routes also take `ingest`.

Handlers mark themselves with `opt={"access": "public"}` (probes), `opt={"access": "ingest"}`
(what an engine or gateway reports) or `opt={"access": "read"}` (a POST that changes nothing,
like asking for a WebSocket ticket). With no tokens configured every request passes: the
service then binds to loopback only (see cli.py).

`opt={"groote_call": True}` marks the six routes the groote-ai engine calls as it is (it sends
no credentials): with `DASHBOARD_GROOTE_TRUSTED_NETWORKS` set, a request to one of them that
presents no credentials at all, from an address in those networks, passes without a token.
Nothing else is opened: any other route, a WebSocket, or a request with a wrong token is
refused as before.

A WebSocket presents `Authorization: Bearer` (engines, servers), `?ticket=` (browsers: a
single-use ticket from `POST /api/realtime/tickets`), or `?token=` (non-browser clients that
cannot set headers; refused when the handshake has an `Origin`, i.e. comes from a page, so a
long-lived secret never sits in a browser's URL).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import (
    NotAuthorizedException,
    PermissionDeniedException,
    WebSocketException,
)
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Scope as AsgiScope

from dashboard_api.bootstrap import Services
from dashboard_api.domain.model.access import ApiToken, Scope
from dashboard_api.http.dependencies import services_of

PUBLIC = {"access": "public"}
INGEST = {"access": "ingest"}
READ = {"access": "read"}
GROOTE_CALL = {"groote_call": True}
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_PUBLIC_PREFIXES = ("/schema",)


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated token (None: no valid one presented) and the name its rate limits
    and connection caps are counted under."""

    token: ApiToken | None
    client: str


async def caller_of(scope: AsgiScope, runtime: Services) -> Caller:
    """Authenticate once per request: the answer is kept in the scope (a WebSocket ticket can
    be redeemed only once)."""
    known = scope.get("auth")
    if isinstance(known, Caller):
        return known
    token = await _presented_token(scope, runtime) if runtime.access.enabled else None
    if token is not None:
        client = f"token:{token.name}"
    else:
        address = scope.get("client")
        client = f"address:{address[0] if address else 'unknown'}"
    caller = Caller(token=token, client=client)
    scope["auth"] = caller
    return caller


async def require_token(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    # async: Litestar runs a sync guard on a worker thread, which cost ~15% of a request.
    runtime = services_of(connection.app.state)
    if not runtime.access.enabled:
        return
    marked = handler.opt.get("access")
    if marked == "public" or connection.url.path.startswith(_PUBLIC_PREFIXES):
        return
    websocket = connection.scope["type"] == ScopeType.WEBSOCKET
    token = (await caller_of(connection.scope, runtime)).token
    if token is None:
        if not websocket and _groote_call(connection, handler, runtime):
            return
        if websocket:  # refused before the handshake completes: the client sees a 403
            raise WebSocketException(detail="a valid token or ticket is required", code=4401)
        raise NotAuthorizedException(
            "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )
    allowed = _scopes_allowed(connection, marked)
    if not token.scopes & allowed:
        wanted = " or ".join(sorted(allowed))
        detail = f"token {token.name!r} lacks the {wanted} scope"
        if websocket:
            raise WebSocketException(detail=detail, code=4403)
        raise PermissionDeniedException(detail)


def _groote_call(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler, runtime: Services
) -> bool:
    """A groote-ai REST call: a marked route, no credentials, from a trusted network."""
    if handler.opt.get("groote_call") is not True:
        return False
    if any(name == b"authorization" for name, _ in connection.scope["headers"]):
        return False  # a wrong token is refused, not taken for the engine
    client = connection.scope.get("client")
    return runtime.access.trusts_engine_at(client[0] if client else None)


def _scopes_allowed(connection: ASGIConnection[Any, Any, Any, Any], marked: object) -> set[Scope]:
    method = connection.scope.get("method", "GET")  # a WebSocket upgrade has no method
    if method in _READ_METHODS or marked == "read":
        return {Scope.READ}
    if marked == "ingest":
        return {Scope.INGEST, Scope.WRITE}
    return {Scope.WRITE}


async def _presented_token(scope: AsgiScope, runtime: Services) -> ApiToken | None:
    authorization = origin = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value.decode("latin-1")
        elif name == b"origin":
            origin = value
    if authorization is not None:
        scheme, _, secret = authorization.partition(" ")
        if scheme.lower() == "bearer" and secret.strip():
            return runtime.access.token_for(secret.strip())
        return None
    if scope["type"] != ScopeType.WEBSOCKET:
        return None
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if ticket := query.get("ticket"):
        holder = await runtime.tickets.redeem(ticket[0])
        return runtime.access.token_with_digest(holder) if holder else None
    if (in_url := query.get("token")) and origin is None:
        return runtime.access.token_for(in_url[0])
    return None
