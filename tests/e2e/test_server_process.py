"""The real server process on the real PostgreSQL, driven over HTTP like a dashboard would."""

from __future__ import annotations

import asyncio
import json
import signal

import httpx
import pytest
from websockets.asyncio.client import connect

from dashboard_api.settings import Settings
from tests.e2e.conftest import Server

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def test_a_task_lives_its_whole_life_over_http(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as http:
        created = http.post("/api/tasks", json={"agent_type": "coder", "input_message": "Ship"})
        assert created.status_code == 201
        task_id = created.json()["task_id"]
        assert http.patch(f"/api/tasks/{task_id}", json={"status": "running"}).status_code == 200
        done = http.patch(
            f"/api/tasks/{task_id}",
            json={"status": "completed", "cost_usd": 0.5, "output_tokens": 42},
        ).json()
        assert done["status"] == "completed"
        assert done["cost_usd"] == 0.5
        page = http.get("/api/tasks", params={"status": "completed", "limit": 5}).json()
        assert [item["task_id"] for item in page["items"]] == [task_id]
        assert http.patch(f"/api/tasks/{task_id}", json={"status": "running"}).status_code == 409
        assert http.get("/api/status").json()["database"]["reachable"] is True
        assert http.get("/api/agents").json()["items"][0]["agent_type"] == "coder"


def test_the_server_refuses_bad_input_without_failing(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as http:
        bad = [
            http.post(
                "/api/tasks", content=b"\xff\xfe", headers={"content-type": "application/json"}
            ),
            http.get("/api/tasks", params={"cursor": "%%%"}),
            http.get("/api/tasks", params={"limit": "-3"}),
            http.get("/api/tasks/" + "x" * 500),
            http.patch("/api/tasks/none", json={"status": "running"}),
        ]
        assert [response.status_code // 100 for response in bad] == [4] * len(bad)
        assert http.get("/health").status_code == 200


def test_docs_are_served_by_the_process(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as http:
        assert http.get("/schema/openapi.json").status_code == 200
        assert http.get("/schema-assets/swagger-ui-bundle.js").status_code == 200


def test_the_server_stops_cleanly_on_sigterm(e2e_database_url: str) -> None:
    second = Server({"DASHBOARD_DATABASE_URL": e2e_database_url})
    second.wait_ready()
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status reports it.
    assert second.stop() in (0, -signal.SIGTERM)


# The server `dashboard-api run` does not start by default (DASHBOARD_SERVER): it must serve the
# same API, WebSockets included.
OTHER_SERVER = "granian" if Settings().server == "uvicorn" else "uvicorn"


async def test_the_other_server_serves_rest_and_websockets(e2e_database_url: str) -> None:
    other = Server({"DASHBOARD_DATABASE_URL": e2e_database_url, "DASHBOARD_SERVER": OTHER_SERVER})
    try:
        other.wait_ready()
        async with httpx.AsyncClient(base_url=other.url, timeout=10) as http:
            created = await http.post(
                "/api/tasks", json={"agent_type": "coder", "input_message": "Go"}
            )
            assert created.status_code == 201
            task_id = created.json()["task_id"]
            assert (await http.get(f"/api/tasks/{task_id}")).json()["task_id"] == task_id
            ws_url = other.url.replace("http://", "ws://") + "/ws"
            async with connect(ws_url) as socket:
                await socket.send(json.dumps({"type": "subscribe", "channel": f"task:{task_id}"}))
                reply = json.loads(await asyncio.wait_for(socket.recv(), 15))
                assert reply["type"] == "subscribed"
                patched = await http.patch(f"/api/tasks/{task_id}", json={"status": "running"})
                assert patched.status_code == 200
                live = json.loads(await asyncio.wait_for(socket.recv(), 15))  # a frame after send
                assert live["channel"] == f"task:{task_id}"
                assert live["status"] == "running"
    finally:
        output = other.read_output()
        assert other.stop() in (0, -signal.SIGTERM), output
