"""Exports of the task list and the webhook events, on the memory adapters."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from litestar.testing import TestClient

Client = TestClient  # type: ignore[type-arg]


def _rest(client: Client, url: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = client.get(f"{url}{cursor}").json()
        items += page["items"]
        if page["next_cursor"] is None:
            return items
        cursor = f"&cursor={page['next_cursor']}"


def test_a_task_export_holds_the_filtered_list_in_both_formats(client: Client) -> None:
    for i in range(7):
        text = ["=cmd|' /C calc'!A0", 'say "hi", twice', "plain\nnext"][i % 3]
        body = {"agent_type": "coder" if i % 2 else "planner", "input_message": text}
        assert client.post("/api/tasks", json=body).status_code == 201
    rest = _rest(client, "/api/tasks?agent_type=coder&limit=2")
    assert len(rest) == 3

    ndjson = client.get("/api/exports/tasks?agent_type=coder")
    assert ndjson.headers["content-type"].startswith("application/x-ndjson")
    assert 'filename="tasks.ndjson"' in ndjson.headers["content-disposition"]
    assert [json.loads(line) for line in ndjson.text.splitlines()] == rest

    table = list(
        csv.reader(io.StringIO(client.get("/api/exports/tasks?format=csv&agent_type=coder").text))
    )
    assert table[0] == list(rest[0])
    preview = table[0].index("input_preview")
    # A cell a spreadsheet would run is defused; quotes, commas and newlines survive CSV quoting.
    assert sorted(row[preview] for row in table[1:]) == sorted(
        ("'" + item["input_preview"])
        if item["input_preview"].startswith("=")
        else item["input_preview"]
        for item in rest
    )


def test_an_export_of_nothing_is_a_header_or_an_empty_body(client: Client) -> None:
    assert client.get("/api/exports/tasks?agent_type=nobody").text == ""
    header = client.get("/api/exports/tasks?format=csv&agent_type=nobody").text
    assert header.startswith("task_id,status,agent_type")
    assert header.count("\n") == 1


def test_an_unknown_format_or_a_bad_filter_is_refused(client: Client) -> None:
    assert client.get("/api/exports/tasks?format=xlsx").status_code == 400
    assert client.get("/api/exports/tasks?status=nope").status_code == 400
    bad_window = "/api/exports/webhook-events?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z"
    assert client.get(bad_window).status_code == 422


def test_webhook_events_export_like_their_list(client: Client) -> None:
    for i in range(5):
        event = {
            "event_id": f"e-{i}",
            "webhook_id": "gh" if i % 2 else "jira",
            "provider": "github",
            "event_type": "push",
            "payload": {"secret": "never exported"},
        }
        assert client.post("/api/webhooks/events", json=event).status_code == 201
    rest = _rest(client, "/api/webhooks/events?webhook_id=gh&limit=1")
    exported = client.get("/api/exports/webhook-events?webhook_id=gh&format=ndjson")
    assert [json.loads(line) for line in exported.text.splitlines()] == rest
    assert "never exported" not in client.get("/api/exports/webhook-events?format=csv").text
