"""Rate limits: a budget per client for reads, writes and ingestion, shared by replicas through
Redis; a 429 problem with Retry-After and RateLimit-* headers; probes never limited."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient

from dashboard_api.adapters.redis.edge import RedisRequestCounter
from dashboard_api.bootstrap.adapters import memory_adapters
from dashboard_api.http import create_app
from dashboard_api.settings import Settings
from tests.redis_support import require_shared_redis, unique

Client = TestClient  # type: ignore[type-arg]
LIMITS = {
    "rate_limit_read_per_minute": 3,
    "rate_limit_write_per_minute": 2,
    "rate_limit_ingest_per_minute": 4,
}


def make_client(redis_url: str | None = None, **settings: object) -> Client:
    adapters = memory_adapters()
    redis = aioredis.Redis.from_url(redis_url) if redis_url else None
    if redis is not None:
        # Created here, connected lazily in the app's own event loop, closed there.
        adapters.request_counter = RedisRequestCounter(redis)
    app = create_app(Settings(**{**LIMITS, **settings}), adapters=adapters)  # type: ignore[arg-type]
    if redis is not None:
        app.on_shutdown.append(redis.aclose)
    return TestClient(app, base_url="http://127.0.0.1")


@pytest.fixture(autouse=True)
def _inside_one_window() -> None:
    """The budgets are counted in fixed one-minute windows: a test that crossed a minute's end
    would find its budget whole again half way (seen once in a full run). Start each test at
    least 10 s before the end of a minute; none takes that long."""
    left = 60 - time.time() % 60
    if left < 10:
        time.sleep(left + 0.05)


@pytest.fixture
def client() -> Iterator[Client]:
    with make_client() as test_client:
        yield test_client


def test_a_client_past_its_read_budget_gets_a_429_problem(client: Client) -> None:
    answers = [client.get("/api/tasks") for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert [answer.headers["ratelimit-remaining"] for answer in answers] == ["2", "1", "0", "0"]
    assert {answer.headers["ratelimit-limit"] for answer in answers} == {"3"}
    refused = answers[-1]
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"].endswith("/rate-limited")
    assert refused.json()["status"] == 429
    retry_after = int(refused.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert int(refused.headers["ratelimit-reset"]) == retry_after


def test_reads_writes_and_ingestion_have_separate_budgets(client: Client) -> None:
    for _ in range(3):
        client.get("/api/agents")
    assert client.get("/api/tasks").status_code == 429
    # Registering tasks is ingestion (what an engine reports): its own budget of 4.
    registered = [client.post("/api/tasks", json={"agent_type": "a"}) for _ in range(5)]
    assert [answer.status_code for answer in registered] == [201] * 4 + [429]
    task_id = registered[0].json()["task_id"]
    stops = [client.post(f"/api/tasks/{task_id}/stop") for _ in range(3)]
    assert [answer.status_code for answer in stops][-1] == 429
    assert stops[0].status_code == 202


def test_probes_metrics_and_docs_are_never_limited(client: Client) -> None:
    for _ in range(3):
        client.get("/api/tasks")
    for path in ("/health", "/ready", "/metrics", "/schema/openapi.json"):
        assert {client.get(path).status_code for _ in range(5)} == {200}, path


def test_each_token_has_its_own_budget() -> None:
    first, second = "first-secret-0123456789", "second-secret-0123456789"
    tokens = f"one:read:{first},two:read:{second}"
    with make_client(api_tokens=tokens) as client:
        for _ in range(3):
            assert (
                client.get("/api/tasks", headers={"Authorization": f"Bearer {first}"}).status_code
                == 200
            )
        assert (
            client.get("/api/tasks", headers={"Authorization": f"Bearer {first}"}).status_code
            == 429
        )
        assert (
            client.get("/api/tasks", headers={"Authorization": f"Bearer {second}"}).status_code
            == 200
        )


def test_limits_at_zero_are_off() -> None:
    off = dict.fromkeys(LIMITS, 0)
    with make_client(**off) as client:
        answers = [client.get("/api/tasks") for _ in range(10)]
        assert {answer.status_code for answer in answers} == {200}
        assert "ratelimit-limit" not in answers[0].headers


def test_open_websockets_per_client_are_capped() -> None:
    with make_client(ws_max_connections_per_client=1, rate_limit_read_per_minute=0) as client:
        with client.websocket_connect("/ws") as first:
            with (
                pytest.raises(WebSocketDisconnect) as refused,
                client.websocket_connect("/ws") as second,
            ):
                second.receive_text()
            assert refused.value.code == 1008
            first.send_text('{"type":"ping"}')
            assert first.receive_json() == {"type": "pong"}
        # Closing one frees its place (once the server has seen it close).
        assert _ping_within(client, seconds=2.0)


def _ping_within(client: Client, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with client.websocket_connect("/ws") as again:
                again.send_text('{"type":"ping"}')
                return bool(again.receive_json() == {"type": "pong"})
        except WebSocketDisconnect:
            time.sleep(0.05)
    return False


@pytest.mark.integration
def test_replicas_share_a_budget_through_redis() -> None:
    url = require_shared_redis()
    secret = "shared-secret-0123456789"
    # A token name of this test only: other runs share this Redis.
    tokens = f"{unique('ui')}:read:{secret}"
    auth = {"Authorization": f"Bearer {secret}"}
    with make_client(url, api_tokens=tokens) as one, make_client(url, api_tokens=tokens) as two:
        answers = [replica.get("/api/tasks", headers=auth) for replica in (one, two, one, two)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert [answer.headers["ratelimit-remaining"] for answer in answers] == ["2", "1", "0", "0"]
