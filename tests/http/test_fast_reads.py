"""The task reads answered by `http/fast_reads.py` (routed by `HotRoutes`, answered by
`FastReads`) are the answers the router and the handlers give: same status, headers and body,
errors included, with and without tokens, with and without CORS, for every method and form of
path a client may send."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient
from sqlalchemy.exc import OperationalError

from dashboard_api.bootstrap import memory_adapters
from dashboard_api.domain.services.tasks import TaskService
from dashboard_api.http import create_app, observability, problems
from dashboard_api.http.fast_reads import FastReads, HotRoutes, _Direct
from dashboard_api.http.observability import REQUEST_ID
from dashboard_api.settings import Settings

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
READER = "r" * 20
ENGINE = "e" * 20
TOKENS = f"ui:read+write:{READER},engine:ingest:{ENGINE}"
FRONTEND = "https://app.example.com"
PATHS = [
    "/api/tasks/t1",
    "/api/tasks/missing",
    "/api/tasks/" + "x" * 200,
    "/api/tasks/t1/",
    "/api/tasks/",
    "/api/tasks//t1",
    "/api/tasks/t%31",
    "/api/tasks/t%2F1",
    "/api/tasks/t%201",
    "/api/tasks/%C3%A9",
    "/api/tasks/t1.x",
    "/api/tasks/t1?limit=2",
    "/api/tasks",
    "/api/tasks/?limit=2",
    "/api/tasks?limit=2",
    "/api/tasks?limit=2&cursor={cursor}",
    "/api/tasks?cursor={cursor}&limit=2",
    "/api/tasks?limit=0",
    "/api/tasks?limit=02",
    "/api/tasks?limit=-1",
    "/api/tasks?limit=200",
    "/api/tasks?limit=201",
    "/api/tasks?limit=100000",
    "/api/tasks?limit=1&limit=2",
    "/api/tasks?cursor=",
    "/api/tasks?cursor=not-a-cursor",
    "/api/tasks?cursor={cursor}x",
    "/api/tasks?limit",
    "/api/tasks?&",
    "/api/tasks?status=queued",
    "/api/tasks?status=queued&limit=1",
    "/api/tasks?unknown=1",
    "/api/tasks?limit=%32",
]
# Methods beside GET, each on a task and on the list: the hot routes take GET only.
OTHER_METHODS = ["HEAD", "OPTIONS", "DELETE"]
# Headers that differ between any two requests (the request id is checked apart).
_VARYING = {"x-request-id", "ratelimit-reset", "date"}
_RANDOM_ID = re.compile(r"[0-9a-f]{32}")


def _header(name: str, value: str) -> tuple[str, str]:
    # Litestar lists a 405's allowed methods in a set's order, which differs between two apps.
    return (name, ", ".join(sorted(value.split(", ")))) if name == "allow" else (name, value)


def _callers(tokens: str, cors: bool) -> list[dict[str, str]]:
    callers: list[dict[str, str]] = [{}]
    if tokens:
        callers = [
            {"authorization": f"Bearer {READER}"},
            {"authorization": f"Bearer {ENGINE}"},
            {"authorization": "Bearer wrong"},
            {},
        ]
    if cors:
        reader = callers[0]
        callers += [
            {**reader, "origin": FRONTEND},
            {**reader, "origin": "https://elsewhere.example"},
            {**reader, "origin": FRONTEND, "access-control-request-method": "GET"},
        ]
    callers.append({**callers[0], "x-request-id": "fixed-id-1"})
    callers.append({**callers[0], "host": "bad host"})
    return callers


def _answers(
    tokens: str, cors: bool, database_url: str | None, limited: bool
) -> list[tuple[Any, ...]]:
    # A fixed clock: both apps hold the same tasks, times included (fresh memory adapters per
    # app, or the same database, whose tasks the first app creates).
    settings = Settings(api_tokens=tokens, cors_origins=(FRONTEND,) if cors else ())
    if not limited:  # no budget counts a read (as under the benchmark harness)
        settings = msgspec.structs.replace(
            settings, rate_limit_read_per_minute=0, rate_limit_write_per_minute=0
        )
    if database_url is None:
        app = create_app(settings, adapters=memory_adapters(), clock=lambda: NOW)
    else:
        settings = msgspec.structs.replace(settings, database_url=database_url, db_pool_size=4)
        app = create_app(settings, clock=lambda: NOW)
    callers = _callers(tokens, cors)
    answers = []
    with TestClient(app, base_url="http://127.0.0.1") as client:
        writer = {"authorization": f"Bearer {ENGINE}"} if tokens else {}
        for number in range(4):
            task = {"task_id": f"t{number}", "agent_type": "coder", "input_message": "hi"}
            assert client.post("/api/tasks", json=task, headers=writer).status_code in (201, 409)
        cursor = client.get("/api/tasks?limit=2", headers=callers[0]).json()["next_cursor"]
        requests = [("GET", path) for path in PATHS] + [
            (method, path) for method in OTHER_METHODS for path in ("/api/tasks/t1", "/api/tasks")
        ]
        _LINES.clear()  # the writes' and the cursor's
        _COUNTED.clear()
        for method, path in requests:
            for headers in callers:
                response = client.request(method, path.format(cursor=cursor), headers=headers)
                items = response.headers.multi_items()
                kept = [_header(k, v) for k, v in items if k not in _VARYING]
                answers.append(
                    (
                        method,
                        path,
                        headers,
                        response.status_code,
                        kept,
                        response.content,
                        [name for name, _ in items],  # every header, in order
                        _observed(headers, response.headers.get_list("x-request-id")),
                    )
                )
    return answers


# What the request observer recorded of each request: its access line (with the request id
# of structlog's context when it was logged) and its metrics; filled while `compare_paths` runs.
_LINES: list[dict[str, Any]] = []
_COUNTED: list[tuple[str, str, int, float]] = []


def _observed(headers: dict[str, str], ids: list[str]) -> tuple[Any, ...]:
    """The request's access line and metrics, its request id checked against the header's
    (none for a request the router refuses before any middleware, a bad host)."""
    lines, counted = _LINES.copy(), [entry[:3] for entry in _COUNTED]
    _LINES.clear()
    _COUNTED.clear()
    if not ids:
        assert not lines
        assert not counted
        return lines, counted
    (request_id,) = ids
    sent = headers.get("x-request-id")
    assert request_id == sent if sent else _RANDOM_ID.fullmatch(request_id)
    for line in lines:
        assert line.pop("context_id") == request_id
        assert line.pop("duration_ms") >= 0
    return lines, counted


class _AccessRecorder:
    """Stands in for the access logger: every line kept, with structlog's request id."""

    def bind(self) -> _AccessRecorder:
        return self

    def info(self, event: str, **fields: Any) -> None:
        _LINES.append({"event": event, "context_id": REQUEST_ID.get(), **fields})


class _ProblemRecorder:
    """Stands in for the exception handlers' logger, as `_AccessRecorder`."""

    def warning(self, event: str, **fields: Any) -> None:
        line = {"event": event, "context_id": REQUEST_ID.get(), "duration_ms": 0}
        _LINES.append({**line, **fields})

    exception = warning


def _record_observations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(observability, "_access_log", _AccessRecorder())
    monkeypatch.setattr(observability, "_ACCESS_ON", None)
    monkeypatch.setattr(observability, "_PENDING", _COUNTED)
    monkeypatch.setattr(observability, "_BATCH", 10**9)
    _LINES.clear()
    _COUNTED.clear()


@pytest.mark.parametrize(
    ("tokens", "cors", "limited"),
    [
        ("", False, True),
        ("", True, True),
        (TOKENS, False, True),
        (TOKENS, True, True),
        ("", False, False),
        ("", True, False),
        (TOKENS, False, False),
    ],
)
def test_task_reads_answer_as_the_router_and_handlers_do(
    monkeypatch: pytest.MonkeyPatch, tokens: str, cors: bool, limited: bool
) -> None:
    compare_paths(monkeypatch, tokens, cors, limited=limited)


@pytest.mark.parametrize("limited", [True, False])
@pytest.mark.parametrize(
    ("error", "status"),
    [(OperationalError("SELECT", None, ConnectionRefusedError()), 503), (RuntimeError("bug"), 500)],
)
def test_a_failed_read_answers_as_the_handler_does(
    monkeypatch: pytest.MonkeyPatch, limited: bool, error: Exception, status: int
) -> None:
    """The database lost (a 503 with its Retry-After) or a bug (a 500) while a task is read:
    the same problem answer, request id, access line and metrics on the short paths."""

    async def failing(_service: TaskService, _task_id: str) -> Any:
        raise error

    monkeypatch.setattr(TaskService, "get", failing)
    monkeypatch.setattr(TaskService, "view", failing)
    # The error's own log line (with a rendered stack for the 500), kept like the access line.
    monkeypatch.setattr(problems, "_log", _ProblemRecorder())
    compare_paths(monkeypatch, "", False, limited=limited, failing=status)


def compare_paths(
    monkeypatch: pytest.MonkeyPatch,
    tokens: str,
    cors: bool,
    database_url: str | None = None,
    *,
    limited: bool = True,
    failing: int | None = None,
) -> None:
    """Every request of `_answers` through the short paths, then through the router and the
    handlers: the same answers."""
    _record_observations(monkeypatch)
    taken: Counter[str] = Counter()
    hot, serve, direct, answer = HotRoutes._hot, FastReads._serve, _Direct.inner, _Direct._answer

    def counted_hot(self: HotRoutes, scope: Any) -> Any:
        route = hot(self, scope)
        taken["routed"] += route is not None
        return route

    async def counted_serve(scope: Any, receive: Any, send: Any) -> None:
        taken["answered"] += 1
        await serve(scope, receive, send)

    async def counted_answer(scope: Any, receive: Any, send: Any) -> None:
        taken["answered"] += 1
        taken["inline"] += 1
        await answer(scope, receive, send)

    def counted_direct(self: _Direct, scope: Any, handler: Any) -> Any:
        inner = direct(self, scope, handler)
        taken["direct"] += inner is not None
        return inner

    monkeypatch.setattr(HotRoutes, "_hot", counted_hot)
    monkeypatch.setattr(_Direct, "inner", counted_direct)
    monkeypatch.setattr(FastReads, "_serve", staticmethod(counted_serve))
    monkeypatch.setattr(_Direct, "_answer", staticmethod(counted_answer))
    fast = _answers(tokens, cors, database_url, limited)
    # The short paths were taken, for the plain reads only.
    assert taken["routed"] >= len(PATHS) // 2
    assert 0 < taken["answered"] < taken["routed"]
    # Without tokens most answers skip the inner layers (a refused host, a query to validate
    # take the stack); with tokens every one goes through the stack, which checks them.
    # When no budget counts a read, the observer's work is done inline (`_Direct._answer`).
    if tokens:
        assert taken["direct"] == taken["inline"] == 0
    else:
        assert 0 < taken["direct"] < taken["answered"]
        assert taken["inline"] == (0 if limited else taken["direct"])

    async def through_router(self: HotRoutes, scope: Any, receive: Any, send: Any) -> None:
        await self.router(scope, receive, send)

    async def through_handler(
        self: FastReads, scope: Any, receive: Any, send: Any, next_app: Any
    ) -> None:
        await next_app(scope, receive, send)

    monkeypatch.setattr(HotRoutes, "__call__", through_router)
    monkeypatch.setattr(HotRoutes, "direct", lambda *_: None)
    monkeypatch.setattr(FastReads, "handle", through_handler)
    taken.clear()
    ordinary = _answers(tokens, cors, database_url, limited)
    assert not taken
    assert len(ordinary) == len(fast) >= 42
    for expected, got in zip(ordinary, fast, strict=True):
        assert got == expected
    statuses = {answer[3] for answer in fast}
    if failing:  # every read of a task fails; a list is read as usual
        assert failing in statuses
        return
    assert 500 not in statuses
    assert statuses >= {200, 400, 404} | ({401, 403} if tokens else set())
