"""The task reads answered by `http/fast_reads.py` are the answers the handlers give: same
status, headers and body, errors included, with and without tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from litestar.testing import TestClient

from dashboard_api.bootstrap import memory_adapters
from dashboard_api.http import create_app
from dashboard_api.http.fast_reads import FastReads
from dashboard_api.settings import Settings

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
READER = "r" * 20
ENGINE = "e" * 20
TOKENS = f"ui:read+write:{READER},engine:ingest:{ENGINE}"
PATHS = [
    "/api/tasks/t1",
    "/api/tasks/missing",
    "/api/tasks/" + "x" * 200,
    "/api/tasks",
    "/api/tasks?limit=2",
    "/api/tasks?limit=2&cursor={cursor}",
    "/api/tasks?cursor={cursor}&limit=2",
    "/api/tasks?limit=0",
    "/api/tasks?limit=02",
    "/api/tasks?limit=100000",
    "/api/tasks?limit=1&limit=2",
    "/api/tasks?cursor=",
    "/api/tasks?cursor=not-a-cursor",
    "/api/tasks?status=queued",
    "/api/tasks?unknown=1",
]
# Headers that differ between any two requests.
_VARYING = {"x-request-id", "ratelimit-reset", "date"}


def _answers(tokens: str) -> list[tuple[Any, ...]]:
    # Fresh adapters and a fixed clock per app: both apps hold the same tasks, times included.
    app = create_app(Settings(api_tokens=tokens), adapters=memory_adapters(), clock=lambda: NOW)
    callers = [{"authorization": f"Bearer {READER}"}, {"authorization": f"Bearer {ENGINE}"}, {}]
    answers = []
    with TestClient(app, base_url="http://127.0.0.1") as client:
        writer = {"authorization": f"Bearer {ENGINE}"} if tokens else {}
        for number in range(4):
            task = {"task_id": f"t{number}", "agent_type": "coder", "input_message": "hi"}
            assert client.post("/api/tasks", json=task, headers=writer).status_code in (201, 409)
        reader = callers[0] if tokens else {}
        cursor = client.get("/api/tasks?limit=2", headers=reader).json()["next_cursor"]
        for path in PATHS:
            for headers in callers if tokens else [{}]:
                response = client.get(path.format(cursor=cursor), headers=headers)
                kept = [(k, v) for k, v in response.headers.multi_items() if k not in _VARYING]
                answers.append((path, response.status_code, kept, response.content))
    return answers


@pytest.mark.parametrize("tokens", ["", TOKENS])
def test_task_reads_answer_as_the_handlers_do(monkeypatch: pytest.MonkeyPatch, tokens: str) -> None:
    fast = _answers(tokens)

    async def ordinary(self: FastReads, scope: Any, receive: Any, send: Any, next_app: Any) -> None:
        await next_app(scope, receive, send)

    monkeypatch.setattr(FastReads, "handle", ordinary)
    assert _answers(tokens) == fast
    assert {status for _, status, _, _ in fast} >= (
        {200, 400, 404} | ({401, 403} if tokens else set())
    )
