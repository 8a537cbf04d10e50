"""The task reads answered by `http/fast_reads.py` (routed by `HotRoutes`, answered by
`FastReads`) are the answers the router and the handlers give: same status, headers and body,
errors included, with and without tokens, with and without CORS, for every method and form of
path a client may send."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from dashboard_api.bootstrap import memory_adapters
from dashboard_api.http import create_app
from dashboard_api.http.fast_reads import FastReads, HotRoutes, _Direct
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
# Headers that differ between any two requests.
_VARYING = {"x-request-id", "ratelimit-reset", "date"}


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


def _answers(tokens: str, cors: bool, database_url: str | None) -> list[tuple[Any, ...]]:
    # A fixed clock: both apps hold the same tasks, times included (fresh memory adapters per
    # app, or the same database, whose tasks the first app creates).
    settings = Settings(api_tokens=tokens, cors_origins=(FRONTEND,) if cors else ())
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
        for method, path in requests:
            for headers in callers:
                response = client.request(method, path.format(cursor=cursor), headers=headers)
                kept = [
                    _header(k, v) for k, v in response.headers.multi_items() if k not in _VARYING
                ]
                answers.append(
                    (method, path, headers, response.status_code, kept, response.content)
                )
    return answers


@pytest.mark.parametrize(
    ("tokens", "cors"), [("", False), ("", True), (TOKENS, False), (TOKENS, True)]
)
def test_task_reads_answer_as_the_router_and_handlers_do(
    monkeypatch: pytest.MonkeyPatch, tokens: str, cors: bool
) -> None:
    compare_paths(monkeypatch, tokens, cors)


def compare_paths(
    monkeypatch: pytest.MonkeyPatch, tokens: str, cors: bool, database_url: str | None = None
) -> None:
    """Every request of `_answers` through the short paths, then through the router and the
    handlers: the same answers."""
    taken: Counter[str] = Counter()
    hot, serve, direct = HotRoutes._hot, FastReads._serve, _Direct.inner

    def counted_hot(self: HotRoutes, scope: Any) -> Any:
        route = hot(self, scope)
        taken["routed"] += route is not None
        return route

    async def counted_serve(scope: Any, receive: Any, send: Any) -> None:
        taken["answered"] += 1
        await serve(scope, receive, send)

    def counted_direct(self: _Direct, scope: Any, handler: Any) -> Any:
        inner = direct(self, scope, handler)
        taken["direct"] += inner is not None
        return inner

    monkeypatch.setattr(HotRoutes, "_hot", counted_hot)
    monkeypatch.setattr(_Direct, "inner", counted_direct)
    monkeypatch.setattr(FastReads, "_serve", staticmethod(counted_serve))
    fast = _answers(tokens, cors, database_url)
    # The short paths were taken, for the plain reads only.
    assert taken["routed"] >= len(PATHS) // 2
    assert 0 < taken["answered"] < taken["routed"]
    # Without tokens most answers skip the inner layers (a refused host, a query to validate
    # take the stack); with tokens every one goes through the stack, which checks them.
    if tokens:
        assert taken["direct"] == 0
    else:
        assert 0 < taken["direct"] < taken["answered"]

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
    ordinary = _answers(tokens, cors, database_url)
    assert not taken
    assert len(ordinary) == len(fast) >= 42
    for expected, got in zip(ordinary, fast, strict=True):
        assert got == expected
    statuses = {answer[3] for answer in fast}
    assert 500 not in statuses
    assert statuses >= {200, 400, 404} | ({401, 403} if tokens else set())
