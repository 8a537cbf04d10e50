"""Bearer-token guard: GET needs `read`, changes need `write`; engine routes also take `ingest`.

Handlers mark themselves with `opt={"access": "public"}` (probes) or `opt={"access": "ingest"}`
(what an engine or gateway reports). With no tokens configured every request passes: the
service then binds to loopback only (see cli.py).
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from dashboard_api.domain.access import Scope
from dashboard_api.http.runtime import Runtime

PUBLIC = {"access": "public"}
INGEST = {"access": "ingest"}
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_PUBLIC_PREFIXES = ("/schema",)


async def require_token(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    # async: Litestar runs a sync guard on a worker thread, which cost ~15% of a request.
    access = Runtime.of(connection.app.state).access
    if not access.enabled:
        return
    marked = handler.opt.get("access")
    if marked == "public" or connection.url.path.startswith(_PUBLIC_PREFIXES):
        return
    token = access.token_for(_presented_secret(connection))
    if token is None:
        raise NotAuthorizedException(
            "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )
    allowed = _scopes_allowed(connection, marked)
    if not token.scopes & allowed:
        wanted = " or ".join(sorted(allowed))
        raise PermissionDeniedException(f"token {token.name!r} lacks the {wanted} scope")


def _scopes_allowed(connection: ASGIConnection[Any, Any, Any, Any], marked: object) -> set[Scope]:
    method = connection.scope.get("method", "GET")  # a WebSocket upgrade has no method
    if method in _READ_METHODS:
        return {Scope.READ}
    if marked == "ingest":
        return {Scope.INGEST, Scope.WRITE}
    return {Scope.WRITE}


def _presented_secret(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() == "bearer" and secret:
        return secret.strip()
    if connection.scope["type"] == ScopeType.WEBSOCKET:
        # Browsers cannot set headers on a WebSocket: the token may come as ?token=.
        return connection.query_params.get("token")
    return None
