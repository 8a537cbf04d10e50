"""The two hottest reads, `GET /api/tasks/{id}` and a plain `GET /api/tasks`, answered without
Litestar's router and per-request handler machinery.

Two pieces, each standing in for one part of Litestar and nothing else:
- `HotRoutes` takes the router's place inside Litestar's own outer layers (the entry point, CORS
  when configured, the app's exception handler): for a GET of exactly `/api/tasks` or
  `/api/tasks/<plain id>` it does what the router would (path parameters, route handler, path
  template, the handler's exception handlers in the scope) and calls the route's middleware
  stack as Litestar built it, so the request id, structlog context, metrics, access line,
  browser rules and rate limits are the same code on both paths. Every other request goes to the
  router unchanged.
- `FastReads`, the innermost middleware of that stack, answers the request in place of the
  handler (below).
- For a plain read that the browser rules pass and that needs no token check, `_Direct`
  collapses the stack to the request observer (and the rate limits when a budget counts the
  request) around `FastReads._serve`, the observer's work done inline when no budget counts
  it, and `DashboardApp` takes such a read at Litestar's entry point when no CORS layer
  stands between the entry and the router (docs/benchmarks.md, "A read by id without a
  greenlet, and the stack collapsed" and "By id: the detail from the row, the observer
  inlined").

In a profile of a by-id read, three quarters of the service's CPU above a bare handler was
Litestar's per-request work: the signature model parsed for the handler and again for the
service dependency, the exit stack, the `Response` and `ASGIResponse` objects and their header
containers (docs/benchmarks.md, "Where a request's CPU goes"). Litestar has routed the request
when this middleware runs (the scope names the handler and its path parameters), and the
outer middlewares have logged, checked and counted it as usual; here the request is answered
with the same encoder and the same headers as the handler would, and the same service call
(for a task, its by-id view: `TaskService.view`, the bytes of the handler's `TaskDetail`).

Anything unusual takes the ordinary path, which then gives the exact answer (or error) the
contract documents: another method, a filter or an unexpected query parameter, a value that
validation might refuse, a missing token or scope. Errors raised here (no such task, a bad
cursor, the database unavailable) go through the app's exception handlers as the handler's own
would, inside this middleware so the outer ones see the answer.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

import msgspec
from litestar import Litestar
from litestar._asgi.utils import is_valid_host, wrap_in_exception_handler
from litestar.enums import ScopeType
from litestar.exceptions import LitestarException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, HTTPResponseStartEvent, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

from dashboard_api.bootstrap import Services
from dashboard_api.domain.limits import ID_CHARS
from dashboard_api.domain.model.access import Scope as AccessScope
from dashboard_api.domain.model.tasks import TaskCursor
from dashboard_api.domain.pagination import MAX_PAGE_SIZE, decode_cursor
from dashboard_api.http.auth import caller_of
from dashboard_api.http.browser import BrowserSafety
from dashboard_api.http.controllers.tasks import TaskController, task_query
from dashboard_api.http.dependencies import services_of
from dashboard_api.http.encoding import encode_json
from dashboard_api.http.middleware_chain import MiddlewareChain
from dashboard_api.http.observability import (
    REQUEST_ID,
    ObservedSend,
    RequestObserver,
    observed_http,
    request_id_of,
)
from dashboard_api.http.rate_limits import RateLimits
from dashboard_api.http.websocket import SERVER_SEND

_MAX_CURSOR = 512  # the list's `cursor` parameter: max_length
_DEFAULT_LIMIT = 50


def _plain_value(text: str) -> bool:
    """Only ASCII letters, digits, `-` and `_`, with at least one letter or digit (anything
    else takes the ordinary path, which answers it as the contract says). Three C string
    methods: a frozenset's `issuperset` looked up each character, ~1 us for a task id and
    ~2.5 us for a cursor (callgrind)."""
    return text.isascii() and text.replace("-", "").replace("_", "").isalnum()


_KEY = "dashboard.fast_read"  # the scope key of the answer (then of its error) on its way

Answer = Callable[[Services, Any], Awaitable[bytes]]
Plain = Callable[[Scope], Any]  # the parsed parameters, or None: take the ordinary path


async def _one_task(runtime: Services, task_id: str) -> bytes:
    return encode_json(await runtime.tasks.view(task_id))


async def _task_page(runtime: Services, parameters: tuple[int, str | None]) -> bytes:
    limit, cursor = parameters
    query = task_query(
        None,
        agent_type=None,
        assigned_agent=None,
        source=None,
        session_id=None,
        conversation_id=None,
        created_after=None,
        created_before=None,
        q=None,
        limit=limit,
    )
    if cursor:
        query = msgspec.structs.replace(query, after=decode_cursor(cursor, TaskCursor))
    return encode_json(await runtime.tasks.list_tasks(query))


def _one_task_plain(scope: Scope) -> str | None:
    task_id = scope["path_params"].get("task_id")
    return task_id if isinstance(task_id, str) and 0 < len(task_id) <= ID_CHARS else None


def _task_page_plain(scope: Scope) -> tuple[int, str | None] | None:
    """Only `limit` and `cursor`, each at most once, in the forms the handler would accept
    unchanged."""
    limit, cursor = _DEFAULT_LIMIT, None
    query_string: bytes = scope.get("query_string", b"")
    if query_string:
        seen = set()
        for part in query_string.decode("latin-1").split("&"):
            name, equals, value = part.partition("=")
            if not equals or name in seen or not _plain_value(value):
                return None
            seen.add(name)
            if name == "limit":
                if not value.isdigit() or value[0] == "0" or len(value) > 4:
                    return None
                limit = int(value)
                if limit > MAX_PAGE_SIZE:
                    return None
            elif name == "cursor" and len(value) <= _MAX_CURSOR:
                cursor = value
            else:
                return None
    return limit, cursor


_ANSWERS: dict[Any, tuple[Plain, Answer]] = {
    TaskController.get_task.fn: (_one_task_plain, _one_task),
    TaskController.list_tasks.fn: (_task_page_plain, _task_page),
}


class FastReads(ASGIMiddleware):
    """Innermost middleware: answers the reads above, passes everything else on."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        handler: Any = scope.get("route_handler")
        found = _ANSWERS.get(getattr(handler.fn, "__func__", None)) if handler else None
        if found is None or scope.get("method") != "GET":
            await next_app(scope, receive, send)
            return
        parameters = found[0](scope)
        if parameters is None:
            await next_app(scope, receive, send)
            return
        runtime = services_of(scope["litestar_app"].state)
        if runtime.access.enabled:
            # The guard's rule for a read; without a token with `read`, the guard answers.
            token = (await caller_of(scope, runtime)).token
            if token is None or AccessScope.READ not in token.scopes:
                await next_app(scope, receive, send)
                return
        cast("dict[str, Any]", scope)[_KEY] = (runtime, found[1], parameters)
        await self._serve(scope, receive, send)

    @staticmethod
    async def _serve(scope: Scope, receive: Receive, send: Send) -> None:
        runtime, answer, parameters = cast("dict[str, Any]", scope)[_KEY]
        try:
            body = await answer(runtime, parameters)
        except Exception as exc:
            # Nothing was sent yet: the app's exception handlers answer, as for the handler.
            cast("dict[str, Any]", scope)[_KEY] = exc
            await _FAIL(scope, receive, send)
            return
        # Recorded as the send hook of Litestar's exception middleware records it, which
        # `DashboardApp` does not put around a direct answer.
        ScopeState.from_scope(scope).response_started = True
        await send(_start(body))
        await send({"type": "http.response.body", "body": body, "more_body": False})


def _start(body: bytes, *extra: tuple[bytes, bytes]) -> HTTPResponseStartEvent:
    """What Litestar's response for the handler's struct starts with, byte for byte (and the
    request id's header after them, as the observer adds it, for `_Direct._answer`)."""
    return {
        "type": "http.response.start",
        "status": 200,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *extra,
        ],
    }


async def _raise(scope: Scope, receive: Receive, send: Send) -> None:
    raise cast("dict[str, Any]", scope).pop(_KEY)


# A failed answer's error raised inside Litestar's exception handling, which answers it as it
# would the handler's: only a failure pays for that wrapper's send hook and scope state.
_FAIL = wrap_in_exception_handler(_raise)


_TASKS = "/api/tasks"
_TASK_PREFIX = _TASKS + "/"


class HotRoutes:
    """Routes `GET /api/tasks` and `GET /api/tasks/<id>` straight to their routes' middleware
    stacks; the router routes everything else. See the module docstring."""

    def __init__(self, router: ASGIApp, app: Litestar) -> None:
        self.router = router
        self._list = self._route(app, _TASKS)
        self._one = self._route(app, _TASK_PREFIX + "_")
        self._direct = _Direct.of(app, *(route[1] for route in (self._list, self._one) if route))
        # A static segment beside `{task_id}` (none today) is the router's to pick.
        self._static = frozenset(
            segment
            for route in app.routes
            if route.path.startswith(_TASK_PREFIX)
            and not (segment := route.path.split("/")[3]).startswith("{")
        )

    @staticmethod
    def _route(app: Litestar, path: str) -> tuple[ASGIApp, Any, str, Any] | None:
        """The route stack, handler, path template and exception handlers the router gives a
        GET of `path`, if its handler is one FastReads answers (not so for the groote flavour)."""
        stack, handler, _, _, template = app.asgi_router.handle_routing(path=path, method="GET")
        if getattr(handler.fn, "__func__", None) not in _ANSWERS:
            return None
        return stack, handler, template, handler.resolve_exception_handlers()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self._hot(scope)
        if route is None:
            await self.router(scope, receive, send)
            return
        stack = self._routed(scope, route)
        direct = self._direct.inner(scope, scope["route_handler"]) if self._direct else None
        await (direct or stack)(scope, receive, send)

    def direct(self, scope: Scope) -> ASGIApp | None:
        """For `DashboardApp`: the collapsed stack (`_Direct.inner`) for a hot read that
        takes it, with the scope set as the router would set it; None for any other request
        (for a hot path the route's keys are then set, and set again the same by the
        router's stand-in)."""
        if self._direct is None:
            return None
        route = self._hot(scope)
        if route is None:
            return None
        self._routed(scope, route)
        return self._direct.inner(scope, route[1])

    @staticmethod
    def _routed(scope: Scope, route: tuple[ASGIApp, Any, str, Any]) -> ASGIApp:
        stack, handler, template, exception_handlers = route
        # What the router sets for this route (litestar/_asgi/asgi_router.py).
        ScopeState.from_scope(scope).exception_handlers = exception_handlers
        scope["route_handler"] = handler
        scope["path_template"] = template
        return stack

    def _hot(self, scope: Scope) -> tuple[ASGIApp, Any, str, Any] | None:
        if scope["type"] != ScopeType.HTTP or scope["method"] != "GET" or scope.get("root_path"):
            return None
        path = scope["path"]
        if path == _TASKS:
            route, parameters = self._list, {}
        elif path.startswith(_TASK_PREFIX):
            task_id = path[len(_TASK_PREFIX) :]
            if (
                not task_id
                or len(task_id) > ID_CHARS
                or not _plain_value(task_id)
                or task_id in self._static
            ):
                return None
            route, parameters = self._one, {"task_id": task_id}
        else:
            return None
        if route is None or not _valid_host(scope):
            return None
        scope["path_params"] = parameters
        return route


def _valid_host(scope: Scope) -> bool:
    """The router's own check (a 400 it answers itself): such requests take its path."""
    for name, value in scope["headers"]:
        if name == b"host":
            return is_valid_host(value)
    return True


class _Direct:
    """The route's middleware stack collapsed for a request the browser rules pass and
    `FastReads` answers: the request observer runs as in the stack, then (through the rate
    limits when a budget counts the request) `FastReads._serve` answers; when no budget
    counts it, both in one coroutine (`_answer`).

    In the stack, the browser rules, the rate limits and `FastReads` each cost a call, a
    coroutine and their own checks around a database wait; in-process (32 concurrent reads
    on a pool of 8) those three layers took ~17 us of a by-id read's ~130 (docs/benchmarks.md,
    "A read by id without a greenlet"). Here their checks run once, up front, with the same
    code (`BrowserSafety.refusal`, the plain-parameter tests, `RateLimits.unlimited`, else
    `RateLimits.handle` itself): a request the browser rules or `FastReads` would act on
    otherwise (a refusal, a token to check, a query the handler must validate) takes the
    whole stack, which then answers it exactly as before. Only for the app's own chain
    (observer, browser rules, rate limits, `FastReads`) and routes without middleware of
    their own; anything else keeps the stack."""

    def __init__(self, observer: RequestObserver, browser: BrowserSafety, limits: RateLimits):
        self.observer = observer
        self.browser = browser
        self.limits = limits

    @classmethod
    def of(cls, app: Litestar, *handlers: Any) -> _Direct | None:
        chains = [layer for layer in app.middleware if isinstance(layer, MiddlewareChain)]
        if len(chains) != 1 or len(app.middleware) != 1:
            return None
        layers = chains[0].layers
        kinds = (RequestObserver, BrowserSafety, RateLimits, FastReads)
        if len(layers) != len(kinds) or not all(map(isinstance, layers, kinds)):
            return None
        if any(handler.resolve_middleware() != [chains[0]] for handler in handlers):
            return None
        observer, browser, limits, _ = layers
        return cls(
            cast("RequestObserver", observer),
            cast("BrowserSafety", browser),
            cast("RateLimits", limits),
        )

    def inner(self, scope: Scope, handler: Any) -> ASGIApp | None:
        """The collapsed stack for this request, or None (the whole stack): when the browser
        rules pass it and `FastReads` would answer it (its answer is then set in the scope),
        `_answer` (the observer's work and `_serve`'s in one coroutine), or when a budget
        counts this request the observer around the rate limits around `_serve`."""
        found = _ANSWERS.get(getattr(handler.fn, "__func__", None))
        if found is None:
            return None
        runtime = services_of(scope["litestar_app"].state)
        if runtime.access.enabled or self.browser.refusal(scope) is not None:
            return None
        parameters = found[0](scope)
        if parameters is None:
            return None
        cast("dict[str, Any]", scope)[_KEY] = (runtime, found[1], parameters)
        return _Direct._answer if self.limits.unlimited(scope, runtime) else self._limited

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.observer.handle(scope, receive, send, self._limits_then_serve)

    async def _limits_then_serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.limits.handle(scope, receive, send, FastReads._serve)

    @staticmethod
    async def _answer(scope: Scope, receive: Receive, send: Send) -> None:
        """`RequestObserver.handle` around `FastReads._serve`, in one coroutine and without
        the observer's send hook on a success: the request id set in structlog's context
        variable, the answer's start message built with the id's header where the hook would
        add it, the status, duration and access line recorded with the observer's own code
        (`observed_http`). A failure is answered by the exception handler (`_FAIL`) through
        the observer's hook (`ObservedSend`), as in the stack."""
        request_id = request_id_of(scope)
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500
        try:
            runtime, answer, parameters = cast("dict[str, Any]", scope)[_KEY]
            try:
                body = await answer(runtime, parameters)
            except Exception as exc:
                cast("dict[str, Any]", scope)[_KEY] = exc
                observed = ObservedSend(send, request_id)
                try:
                    await _FAIL(scope, receive, observed)
                finally:
                    status = observed.status
                return
            ScopeState.from_scope(scope).response_started = True  # as `_serve` records it
            status = 200
            await send(_start(body, (b"x-request-id", request_id.encode())))
            await send({"type": "http.response.body", "body": body, "more_body": False})
        finally:
            try:
                observed_http(scope, status, time.perf_counter() - started)
            finally:
                REQUEST_ID.reset(token)


def route_hot_reads(app: Litestar) -> None:
    """Put `HotRoutes` in the router's place, inside Litestar's entry point, CORS and its
    exception handler (each holds the next layer as `app`)."""
    layer: Any = app.asgi_handler
    while getattr(layer, "app", None) is not app.asgi_router:
        layer = getattr(layer, "app", None)
        if layer is None:
            raise RuntimeError("Litestar's ASGI handler does not end in its router")
    hot = layer.app = HotRoutes(app.asgi_router, app)
    # Litestar's entry skipped for the direct answers only when nothing stands between it
    # and `HotRoutes` but its exception handler (no CORS layer) and it has no send hooks.
    if isinstance(app, DashboardApp) and layer is app.asgi_handler and not app.before_send:
        app.hot_routes = hot


class DashboardApp(Litestar):
    """Litestar, with the direct answers of `HotRoutes` (a plain hot read the browser rules
    pass, no token to check) taken at its entry point.

    Litestar's entry sets the app in the scope, wraps `send` for its `before_send` hooks
    (none here) and calls its exception handler, which wraps `send` once more to record that
    the response started and answers an exception raised before that with the app's
    exception handlers; `HotRoutes` then routes. For a direct answer this does the same
    with a plain `try`: the answer records the start itself (`FastReads._serve`), and an
    exception is answered by the same exception handler (`_FAIL`) or, after the start,
    raised as Litestar raises it. Every other request goes to Litestar's entry unchanged; a
    WebSocket's scope also carries the server's own `send` (`websocket.SERVER_SEND`)."""

    hot_routes: HotRoutes | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        hot = self.hot_routes
        if hot is not None and scope["type"] == ScopeType.HTTP:
            scope["app"] = scope["litestar_app"] = self
            scope.setdefault("state", {})
            direct = hot.direct(scope)
            if direct is not None:
                try:
                    await direct(scope, receive, send)
                except Exception as exc:
                    if ScopeState.from_scope(scope).response_started:
                        raise LitestarException("Exception caught after response started") from exc
                    cast("dict[str, Any]", scope)[_KEY] = exc
                    await _FAIL(scope, receive, send)
                return
        elif scope["type"] == ScopeType.WEBSOCKET:
            scope[SERVER_SEND] = send  # the hub's frames skip the wrappers (websocket.py)
        await super().__call__(scope, receive, send)
