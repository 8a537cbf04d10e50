"""What keeps a web page from driving the service through its visitor's browser, in every mode.

- `Host` allow-list: a page on another name resolved to our address (DNS rebinding) is refused
  (400). Litestar's `AllowedHostsConfig` compares the whole header, port included, so "localhost
  on any port" cannot be said with it, and it answers a non-problem body; hence this check.
- `Origin` allow-list for every state-changing request and every `/ws` handshake: the page's
  own origin (Origin's host:port equals Host), `DASHBOARD_ALLOWED_ORIGINS` and
  `DASHBOARD_CORS_ORIGINS` pass; any other origin is a 403 (a refused handshake for `/ws`).
  Requests without `Origin` (curl, engines, server-side clients) are not a browser's and pass.
- Bodies are JSON only with a JSON content type (`application/json`, `*/*+json`): a form or a
  `text/plain` body, which a page may send cross-site without a preflight, is a 415.
- CORS through Litestar's `CORSConfig`, for the configured frontend origins only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from litestar import Request
from litestar.config.cors import CORSConfig
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from dashboard_api.http.problems import problem
from dashboard_api.settings import Settings

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# What a frontend sends and may read across origins.
CORS_REQUEST_HEADERS = ["authorization", "content-type", "x-request-id"]
CORS_RESPONSE_HEADERS = [
    "location",
    "retry-after",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "x-request-id",
]
# A handler taking bodies other than JSON lists their media types under this `opt` key.
BODY_MEDIA_TYPES = "body_media_types"


def allowed_hosts(settings: Settings) -> tuple[str, ...]:
    """The configured host names; by default the loopback names without tokens (the service
    then listens on loopback only), any name with tokens (set it behind a proxy)."""
    if settings.allowed_hosts:
        return settings.allowed_hosts
    return ("*",) if settings.api_tokens else LOOPBACK_HOSTS


def cors_config(settings: Settings) -> CORSConfig | None:
    """CORS for the configured frontend origins, or none at all."""
    if not settings.cors_origins:
        return None
    return CORSConfig(
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
        allow_headers=CORS_REQUEST_HEADERS,
        expose_headers=CORS_RESPONSE_HEADERS,
        # Bearer tokens, no cookies: a credentialed request is never needed.
        allow_credentials=False,
    )


class HostRule:
    """Host names: exact (`api.example.com`), subdomains (`*.example.com`) or any (`*`). A
    name without a port matches on any port; one with a port, on that port only."""

    def __init__(self, hosts: Iterable[str]) -> None:
        names = {host.strip().lower() for host in hosts if host.strip()}
        self.any = "*" in names
        self._exact = frozenset(name for name in names if not name.startswith("*."))
        self._suffixes = tuple(name[1:] for name in names if name.startswith("*."))

    def allows(self, host: str) -> bool:
        if self.any:
            return True
        host = host.lower()
        if host in self._exact:
            return True
        name = _without_port(host)
        return bool(name) and (
            name in self._exact or any(name.endswith(suffix) for suffix in self._suffixes)
        )


def _without_port(host: str) -> str:
    if host.startswith("["):  # [::1]:5000
        return host[: host.find("]") + 1]
    return host.rpartition(":")[0] if ":" in host else host


def _origin_authority(origin: str) -> str:
    """`https://app.example.com:8443` → `app.example.com:8443` (what a Host header says)."""
    _scheme, separator, authority = origin.partition("://")
    return authority.rstrip("/") if separator else ""


def is_json_media_type(content_type: str) -> bool:
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


class BrowserSafety(ASGIMiddleware):
    """The Host, Origin and content-type rules of the module docstring, before any handler."""

    scopes = (ScopeType.HTTP, ScopeType.WEBSOCKET)

    def __init__(self, settings: Settings) -> None:
        self._hosts = HostRule(allowed_hosts(settings))
        self._origins = frozenset(
            origin.strip().lower().rstrip("/")
            for origin in (*settings.allowed_origins, *settings.cors_origins)
        )
        self._any_origin = "*" in self._origins

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        refusal = self.refusal(scope)
        if refusal is None:
            await next_app(scope, receive, send)
        else:
            await refuse(scope, receive, send, refusal)

    def refusal(self, scope: Scope) -> Refusal | None:
        """Why this request or handshake is refused, or None."""
        host = origin = content_type = None
        has_body = False
        for name, value in scope["headers"]:
            if name == b"host":
                host = value.decode("latin-1")
            elif name == b"origin":
                origin = value.decode("latin-1")
            elif name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"content-length":
                has_body = has_body or value.strip() not in (b"0", b"")
            elif name == b"transfer-encoding":
                has_body = True
        websocket = scope["type"] == ScopeType.WEBSOCKET
        changes = websocket or scope.get("method") not in SAFE_METHODS
        if not self._hosts.allows(host or ""):
            return Refusal(400, "host-not-allowed", f"host {host!r} is not served here")
        if origin is not None and changes and not self._origin_allowed(origin, host or ""):
            return Refusal(
                403,
                "origin-not-allowed",
                f"origin {origin!r} may not change anything or open /ws here "
                "(see DASHBOARD_ALLOWED_ORIGINS, DASHBOARD_CORS_ORIGINS)",
            )
        # A body of a GET is never read: only the bodies of changes must be JSON.
        if has_body and changes and not websocket and not _accepts_body(scope, content_type):
            media_type = (content_type or "").partition(";")[0].strip() or "none"
            return Refusal(
                415,
                "unsupported-media-type",
                f"a request body must be JSON sent as application/json (got {media_type})",
            )
        return None

    def _origin_allowed(self, origin: str, host: str) -> bool:
        normalized = origin.strip().lower().rstrip("/")
        if self._any_origin or normalized in self._origins:
            return True
        # The page's own origin; "null" (a sandboxed frame, a file) is nobody's.
        return normalized != "null" and _origin_authority(normalized) == host.lower()


def _accepts_body(scope: Scope, content_type: str | None) -> bool:
    if content_type is not None and is_json_media_type(content_type):
        return True
    handler: Any = scope.get("route_handler")
    accepted = handler.opt.get(BODY_MEDIA_TYPES, ()) if handler is not None else ()
    media_type = (content_type or "").partition(";")[0].strip().lower()
    return bool(media_type) and media_type in accepted


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    problem_type: str
    detail: str
    headers: dict[str, str] | None = None


async def refuse(scope: Scope, receive: Receive, send: Send, refusal: Refusal) -> None:
    """Answer with the refusal's problem; refuse a WebSocket handshake (a 403 to the client).
    Answered here rather than raised: the request observer outside logs and counts it."""
    if scope["type"] == ScopeType.WEBSOCKET:
        await send({"type": "websocket.close", "code": 4000 + refusal.status, "reason": ""})
        return
    request: Request[Any, Any, Any] = Request(scope, receive, send)
    response = problem(
        request,
        status=refusal.status,
        type_=refusal.problem_type,
        title=HTTPStatus(refusal.status).phrase,
        detail=refusal.detail,
        headers=refusal.headers,
    )
    await response.to_asgi_response(app=None, request=request)(scope, receive, send)
