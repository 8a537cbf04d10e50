"""The groote-ai engine against the real server process, unchanged: a script making its
XADD, PUBLISH and REST calls; the dashboard's REST and WebSocket views of the same task; the
same events delivered twice, with nothing lost and nothing doubled."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect

from tests.e2e.conftest import Server
from tests.groote.worker import GrooteWorker
from tests.redis_support import PrivateRedis

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

TASK_ID = "task-5e1f00d2c3b4"
OUTPUT = (
    "Fixed the login bug: the session cookie is refreshed. https://github.com/acme/shop/pull/13"
)
CLI_EVENTS = [
    ("task:thinking", {"type": "thinking", "content": "The cookie expires too early."}),
    (
        "task:tool_call",
        {"name": "Read", "input": {"file_path": "auth/session.py"}, "_tool_use_id": "toolu_1"},
    ),
    ("task:tool_result", {"name": "Read", "content": "def refresh(): ...", "is_error": False}),
]
KINDS = ["thinking", "tool_call", "tool_result", "raw_output", "output"]


@pytest.fixture
def server(e2e_database_url: str, private_redis: PrivateRedis) -> Iterator[Server]:
    running = Server(
        {
            "DASHBOARD_DATABASE_URL": e2e_database_url,
            "DASHBOARD_REDIS_URL": private_redis.url,
            "DASHBOARD_GROOTE_EVENTS": "task_events",
        }
    )
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


@pytest.fixture
async def worker(server: Server, private_redis: PrivateRedis) -> AsyncIterator[GrooteWorker]:
    redis = Redis.from_url(private_redis.url)
    engine = GrooteWorker(redis, server.url)
    yield engine
    await engine.close()
    await redis.aclose()


async def frames_until(socket: ClientConnection, done: Any) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    async with asyncio.timeout(20):
        while not done(frames):
            frames.append(json.loads(await socket.recv()))
    return frames


def finished(frames: list[dict[str, Any]]) -> bool:
    outputs = [f for f in frames if f["type"] == "task_output"]
    statuses = [f.get("status") for f in frames if f["type"] == "task_status"]
    return len(outputs) >= len(KINDS) and "completed" in statuses


async def views(api: httpx.AsyncClient, conversation_id: str) -> dict[str, Any]:
    task = (await api.get(f"/api/tasks/{TASK_ID}")).json()
    messages = (await api.get(f"/api/conversations/{conversation_id}/messages")).json()
    stats = (await api.get("/api/webhooks/stats")).json()["items"]
    events = (await api.get("/api/webhooks/events")).json()
    return {"task": task, "messages": messages, "stats": stats, "events": events}


async def test_the_groote_worker_reports_unchanged_and_twice_delivered_changes_nothing(
    server: Server, worker: GrooteWorker
) -> None:
    task = {
        "task_id": TASK_ID,
        "source": "github",
        "prompt": "@agent fix the login bug",
        "session_id": "sess-e2e",
        "repository": {"full_name": "acme/shop"},
        "issue": {"number": 12, "title": "Login fails"},
    }
    result = {
        "stream": CLI_EVENTS,
        "result": {
            "output": OUTPUT,
            "cost_usd": 0.0421,
            "input_tokens": 12000,
            "output_tokens": 850,
            "success": True,
        },
    }
    ws = server.url.replace("http://", "ws://") + "/ws"
    async with (
        connect(ws) as socket,
        httpx.AsyncClient(base_url=server.url, timeout=10) as api,
    ):
        await socket.send(json.dumps({"type": "subscribe", "channel": f"task:{TASK_ID}"}))
        assert json.loads(await socket.recv())["type"] == "subscribed"

        webhook_event_id = await worker.gateway_receives(task)
        await worker.process_task(task, result)
        frames = await frames_until(socket, finished)

        outputs = [f for f in frames if f["type"] == "task_output"]
        assert [f["kind"] for f in outputs] == KINDS
        assert outputs[-1]["output"] == OUTPUT
        assert all(f["id"] for f in outputs)  # resumable ids on task:{id}
        statuses = [f["status"] for f in frames if f["type"] == "task_status"]
        assert statuses[-1] == "completed"
        assert worker.swallowed
        assert all(code in (200, 201) for code in worker.swallowed)

        task_view = (await api.get(f"/api/tasks/{TASK_ID}")).json()
        assert task_view["status"] == "completed"
        assert (task_view["cost_usd"], task_view["input_tokens"]) == (0.0421, 12000)
        assert task_view["output"] == OUTPUT
        assert task_view["agent_type"] == "brain"
        conversation_id = task_view["conversation_id"]
        assert conversation_id
        by_flow = await api.get("/api/conversations/by-flow/github%3Aacme%2Fshop%2312")
        assert by_flow.json()["conversation_id"] == conversation_id

        # Webhook monitoring fills from the gateway's stream entries.
        async with asyncio.timeout(10):
            while True:
                event = await api.get(f"/api/webhooks/events/{webhook_event_id}")
                if event.status_code == 200 and event.json()["status"] == "processed":
                    break
                await asyncio.sleep(0.05)
        assert event.json()["task_id"] == TASK_ID
        assert event.json()["latency_ms"] is not None
        before = await views(api, conversation_id)
        assert [m["role"] for m in before["messages"]["items"]] == ["system", "assistant"]

        # The same events delivered twice: every stream entry appended again as it was, and
        # the REST calls the engine retries sent again.
        for _, fields in await worker.redis.xrange("task_events"):
            await worker.redis.xadd("task_events", fields)
        await worker.register_task(task, conversation_id)
        await worker.update_dashboard_task(
            TASK_ID, {"status": "completed", "output": OUTPUT, "cost_usd": 0.0421}
        )
        await worker.post_assistant_message(conversation_id, OUTPUT, TASK_ID)
        await asyncio.sleep(1.5)  # the stream reader catches up in milliseconds
        after = await views(api, conversation_id)
        assert after == before
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(socket.recv(), 0.5)  # no frame for the repeat


VIEWER = "viewer-secret-0123456789"
TOKENS_TASK_ID = "task-70c3e5a1b2d4"  # the database is shared by the module's tests


@pytest.fixture
def server_with_tokens(e2e_database_url: str, private_redis: PrivateRedis) -> Iterator[Server]:
    running = Server(
        {
            "DASHBOARD_DATABASE_URL": e2e_database_url,
            "DASHBOARD_REDIS_URL": private_redis.url,
            "DASHBOARD_GROOTE_EVENTS": "task_events",
            "DASHBOARD_API_TOKENS": f"viewer:read:{VIEWER}",
            "DASHBOARD_GROOTE_TRUSTED_NETWORKS": "127.0.0.1",
        }
    )
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


async def test_with_tokens_the_worker_reports_from_a_trusted_address_only(
    server_with_tokens: Server, private_redis: PrivateRedis
) -> None:
    server = server_with_tokens
    redis = Redis.from_url(private_redis.url)
    worker = GrooteWorker(redis, server.url)  # no Authorization header, as theirs
    task = {"task_id": TOKENS_TASK_ID, "source": "github", "prompt": "@agent fix it"}
    task |= {
        "repository": {"full_name": "acme/shop"},
        "issue": {"number": 7, "title": "T"},
    }  # its own flow
    result = {"stream": [], "result": {"output": OUTPUT, "cost_usd": 0.0421, "success": True}}
    try:
        await worker.process_task(task, result)
    finally:
        await worker.close()
        await redis.aclose()
    assert worker.swallowed
    assert all(code in (200, 201) for code in worker.swallowed), worker.swallowed
    viewer = {"Authorization": f"Bearer {VIEWER}"}
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as api:
        view = (await api.get(f"/api/tasks/{TOKENS_TASK_ID}", headers=viewer)).json()
        assert (view["status"], view["cost_usd"], view["output"]) == ("completed", 0.0421, OUTPUT)
        # Only its six calls: the same address reads nothing without a token.
        assert (await api.get(f"/api/tasks/{TOKENS_TASK_ID}")).status_code == 401
        assert (await api.post(f"/api/tasks/{TOKENS_TASK_ID}/stop")).status_code == 401
    # Another loopback address, not listed: the same call is refused.
    other = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with httpx.AsyncClient(base_url=server.url, timeout=10, transport=other) as outside:
        refused = await outside.patch(f"/api/tasks/{TOKENS_TASK_ID}", json={"status": "completed"})
        assert refused.status_code == 401
