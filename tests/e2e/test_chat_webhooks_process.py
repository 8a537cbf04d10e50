"""Chat, webhooks and sources through the real server process, configured by a webhooks file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Server

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

EXAMPLE = Path(__file__).parents[2] / "webhooks.example.toml"


@pytest.fixture(scope="module")
def configured_server(e2e_database_url: str) -> Iterator[Server]:
    running = Server(
        {
            "DASHBOARD_DATABASE_URL": e2e_database_url,
            "DASHBOARD_WEBHOOKS_FILE": str(EXAMPLE),
            "GITHUB_WEBHOOK_SECRET": "do-not-show",
        }
    )
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def test_a_chat_turn_creates_a_task_over_http(configured_server: Server) -> None:
    with httpx.Client(base_url=configured_server.url, timeout=10) as http:
        conversation = http.post("/api/conversations", json={"agent_type": "coder"}).json()
        url = f"/api/conversations/{conversation['conversation_id']}"
        message = http.post(f"{url}/messages", json={"role": "user", "content": "hello"})
        assert message.status_code == 201
        task_id = message.json()["task_id"]
        assert (
            http.get(f"/api/tasks/{task_id}").json()["conversation_id"]
            == (conversation["conversation_id"])
        )
        http.patch(f"/api/tasks/{task_id}", json={"status": "completed", "cost_usd": 0.01})
        assert http.get(url).json()["totals"]["cost_usd"] == 0.01
        assert http.get(f"{url}/messages").json()["items"][0]["task_id"] == task_id


def test_webhooks_from_the_file_are_listed_without_secrets(configured_server: Server) -> None:
    with httpx.Client(base_url=configured_server.url, timeout=10) as http:
        event = {"webhook_id": "unknown-hook", "provider": "github", "event_type": "push"}
        assert http.post("/api/webhooks/events", json=event).status_code == 201
        response = http.get("/api/webhooks")
        assert "do-not-show" not in response.text
        listed = {item["webhook_id"]: item for item in response.json()["items"]}
        assert listed["github-main"]["has_secret"] is True
        assert listed["github-main"]["origin"] == "file"
        assert (listed["unknown-hook"]["configured"], listed["unknown-hook"]["events_total"]) == (
            False,
            1,
        )
        stats = http.get("/api/webhooks/stats").json()["items"]
        assert [(s["webhook_id"], s["total"]) for s in stats] == [("unknown-hook", 1)]
