"""`/ws` on the app with memory adapters: the protocol as a frontend speaks it."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import WebSocket
from litestar.testing import TestClient

from dashboard_api.http.websocket import SERVER_SEND, _frame_send


def test_subscribe_receive_and_unsubscribe(client: TestClient[Any]) -> None:
    with client.websocket_connect("/ws") as socket:
        socket.send_json({"type": "subscribe", "channel": "tasks"})
        subscribed = socket.receive_json()
        assert subscribed == {"type": "subscribed", "channel": "tasks", "recovered": True} | {
            "epoch": subscribed["epoch"]
        }
        assert subscribed["epoch"]
        created = client.post("/api/tasks", json={"agent_type": "coder", "task_id": "w1"})
        assert created.status_code == 201
        event = socket.receive_json()
        assert event["channel"] == "tasks"
        assert (event["type"], event["task_id"], event["status"]) == ("task_status", "w1", "queued")
        assert event["id"]
        status = client.get("/api/status").json()["realtime"]
        assert (status["connections"], status["subscriptions"]) == (1, 1)
        socket.send_json({"type": "unsubscribe", "channel": "tasks"})
        assert socket.receive_json() == {"type": "unsubscribed", "channel": "tasks"}
        socket.send_json({"type": "ping"})
        assert socket.receive_json() == {"type": "pong"}


def test_bad_frames_get_an_error_and_the_socket_stays_open(client: TestClient[Any]) -> None:
    with client.websocket_connect("/ws") as socket:
        sent: list[Any] = [
            "{not json",
            '{"type":"dance"}',
            '{"type":"subscribe"}',
            '{"type":"subscribe","channel":"passwords"}',
            '{"type":"subscribe","channel":"tasks","since":"x"}',
            '{"type":"subscribe","channel":"tasks","since":"99999999999999999999-0"}',
            '{"type":"ping","deep":' + "[" * 8_000 + "]" * 8_000 + "}",
            '{"type":"subscribe","channel":"tasks","since":1e999}',
            '{"type":"subscribe","channel":"tasks","since":123456789012345678901234567890}',
            '{"type":"\\ud800"}',
            "x" * 20_000,
        ]
        for text in sent:
            socket.send_text(text)
        socket.send_bytes(b'{"type":"ping"}')
        codes = [socket.receive_json()["code"] for _ in range(len(sent) + 1)]
        assert codes == [
            "invalid_json",
            "unknown_type",
            "missing_channel",
            "unknown_channel",
            "invalid_since",
            "invalid_since",
            "invalid_json",
            "invalid_frame",
            "invalid_frame",
            "invalid_json",
            "frame_too_large",
            "binary_frame",
        ]
        socket.send_json({"type": "ping"})
        assert socket.receive_json() == {"type": "pong"}


def test_resume_since_an_id_replays_the_missed_events(client: TestClient[Any]) -> None:
    client.post("/api/tasks", json={"agent_type": "coder", "task_id": "r1"})
    with client.websocket_connect("/ws") as socket:
        socket.send_json({"type": "subscribe", "channel": "task:r1"})
        socket.receive_json()
        client.patch("/api/tasks/r1", json={"status": "running"})
        first = socket.receive_json()
    client.patch("/api/tasks/r1", json={"status": "completed", "cost_usd": 0.25})
    with client.websocket_connect("/ws") as socket:
        socket.send_json({"type": "subscribe", "channel": "task:r1", "since": first["id"]})
        assert socket.receive_json()["type"] == "subscribed"
        missed = socket.receive_json()
        assert (missed["status"], missed["cost_usd"]) == ("completed", 0.25)
        assert int(missed["id"].split("-")[1]) > int(first["id"].split("-")[1])


def test_a_finished_task_sends_its_final_status_on_subscribe(client: TestClient[Any]) -> None:
    client.post("/api/tasks", json={"agent_type": "coder", "task_id": "f1"})
    client.post("/api/tasks/f1/stop")
    with client.websocket_connect("/ws") as socket:
        socket.send_json({"type": "subscribe", "channel": "task:f1"})
        assert socket.receive_json()["type"] == "subscribed"
        final = socket.receive_json()
        assert (final["channel"], final["status"]) == ("task:f1", "cancelled")


def _sample(text: str, name: str) -> float:
    line = next(line for line in text.splitlines() if line.startswith(name + " "))
    return float(line.split()[1])


def test_metrics_show_the_hub_and_ingestion(client: TestClient[Any]) -> None:
    before = client.get("/metrics").text
    events_before = _sample(before, "dashboard_ws_events_total")
    with client.websocket_connect("/ws") as socket:
        socket.send_json({"type": "subscribe", "channel": "tasks"})
        socket.receive_json()
        client.post("/api/tasks", json={"agent_type": "coder", "task_id": "metrics-1"})
        socket.receive_json()
        text = client.get("/metrics").text
        assert _sample(text, "dashboard_ws_connections") >= 1
        assert _sample(text, "dashboard_ws_subscriptions") >= 1
        assert _sample(text, "dashboard_ws_events_total") >= events_before + 1
        assert _sample(text, "dashboard_bus_connected") == 1
    for name in (
        "dashboard_ws_slow_clients_dropped_total",
        "dashboard_ingest_applied_total",
        "dashboard_ingest_rejected_total",
        "dashboard_ingest_failures_total",
    ):
        assert _sample(text, name) >= 0


def _socket(server_send: Any) -> WebSocket[Any, Any, Any]:
    async def receive() -> Any:
        return {"type": "websocket.connect"}

    async def wrapped(message: Any) -> None:
        return None

    scope: Any = {"type": "websocket", "path": "/ws", "headers": [], "query_string": b""}
    if server_send is not None:
        scope[SERVER_SEND] = server_send
    return WebSocket(scope, receive, wrapped)


def test_the_hubs_frames_go_to_the_servers_own_send_when_it_can_be_stepped() -> None:
    async def uvicorn_like(message: Any) -> None:
        return None

    class GranianLike:  # a callable returning an awaitable of its own, not a coroutine
        def __call__(self, message: Any) -> Any:
            return asyncio.sleep(0)

    socket = _socket(uvicorn_like)
    assert _frame_send(socket) is uvicorn_like
    for other in (GranianLike(), None):
        socket = _socket(other)
        assert _frame_send(socket) == socket.send  # through Litestar's wrappers


def test_the_hubs_frames_skip_litestars_socket_wrapper(
    client: TestClient[Any], monkeypatch: Any
) -> None:
    through_wrapper: list[str] = []
    wrap = WebSocket.send_wrapper

    def recording_wrapper(self: WebSocket[Any, Any, Any], send: Any) -> Any:
        wrapped = wrap(self, send)

        async def recorded(message: Any) -> None:
            through_wrapper.append(message["type"])
            await wrapped(message)

        return recorded

    monkeypatch.setattr(WebSocket, "send_wrapper", recording_wrapper)
    with client.websocket_connect("/ws") as socket:
        socket.send_json({"type": "subscribe", "channel": "tasks"})
        assert socket.receive_json()["type"] == "subscribed"
        created = client.post("/api/tasks", json={"agent_type": "c", "task_id": "f1"})
        assert created.status_code == 201
        assert socket.receive_json()["task_id"] == "f1"
    assert through_wrapper[0] == "websocket.accept"
    assert "websocket.send" not in through_wrapper
