"""The conversation routes as the dashboard's chat uses them, on the memory adapters."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from dashboard_api.domain.model.conversations import MAX_MESSAGE_CHARS

Client = TestClient  # type: ignore[type-arg]
PROBLEM = "application/problem+json"


def start(client: Client, **body: Any) -> dict[str, Any]:
    response = client.post("/api/conversations", json={"agent_type": "coder", **body})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_user_message_returns_the_task_it_created(client: Client) -> None:
    conversation = start(client, title="Build is red", user_id="ana")
    url = f"/api/conversations/{conversation['conversation_id']}"
    response = client.post(f"{url}/messages", json={"role": "user", "content": "why?"})
    assert response.status_code == 201
    message = response.json()
    assert message["role"] == "user"
    task = client.get(f"/api/tasks/{message['task_id']}").json()
    assert (task["status"], task["conversation_id"], task["source"]) == (
        "queued",
        conversation["conversation_id"],
        "dashboard",
    )
    client.patch(
        f"/api/tasks/{task['task_id']}",
        json={"status": "completed", "cost_usd": 0.25, "input_tokens": 9, "output_tokens": 1},
    )
    reply = {"role": "assistant", "content": "a flaky test", "task_id": task["task_id"]}
    assert client.post(f"{url}/messages", json=reply).status_code == 201
    totals = client.get(url).json()["totals"]
    assert totals == {
        "messages": 2,
        "tasks": 1,
        "cost_usd": 0.25,
        "input_tokens": 9,
        "output_tokens": 1,
    }
    messages = client.get(f"{url}/messages").json()
    assert [m["role"] for m in messages["items"]] == ["user", "assistant"]
    assert messages["next_cursor"] is None


def test_conversations_page_by_recent_activity_with_filters(client: Client) -> None:
    ids = [start(client, user_id=user)["conversation_id"] for user in ("a", "b", "a")]
    client.post(f"/api/conversations/{ids[0]}/messages", json={"role": "system", "content": "hi"})
    client.patch(f"/api/conversations/{ids[2]}", json={"archived": True})
    seen: list[str] = []
    url = "/api/conversations?limit=2"
    while True:
        page = client.get(url).json()
        seen += [item["conversation_id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        url = f"/api/conversations?limit=2&cursor={page['next_cursor']}"
    assert seen == [ids[2], ids[0], ids[1]]
    mine = client.get("/api/conversations?user_id=a&archived=false").json()["items"]
    assert [item["conversation_id"] for item in mine] == [ids[0]]


def test_patch_and_delete(client: Client) -> None:
    conversation_id = start(client)["conversation_id"]
    url = f"/api/conversations/{conversation_id}"
    patched = client.patch(url, json={"title": "Renamed", "archived": True}).json()
    assert (patched["title"], patched["archived"]) == ("Renamed", True)
    refused = client.post(f"{url}/messages", json={"role": "user", "content": "hello"})
    assert refused.status_code == 409
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404
    assert client.get(f"{url}/messages").status_code == 404
    assert client.delete(url).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "robot", "content": "hi"}, "role"),
        ({"role": "user", "content": ""}, "content"),
        ({"role": "user", "content": "x" * (MAX_MESSAGE_CHARS + 1)}, "content"),
        ({"role": "user", "content": "hi", "colour": "red"}, "colour"),
        ({"role": "user", "content": "   "}, "content"),
        ({"role": "assistant", "content": "hi", "task_id": "no-such-task"}, "task_id"),
        ({"role": "user", "content": 5}, "content"),
    ],
)
def test_a_bad_message_is_refused_naming_the_field_and_changes_nothing(
    client: Client, body: dict[str, Any], field: str
) -> None:
    conversation_id = start(client)["conversation_id"]
    response = client.post(f"/api/conversations/{conversation_id}/messages", json=body)
    assert response.status_code in (400, 422)
    assert response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    # The field is named in `field`/`errors`, or (an unknown field) in the detail.
    fields = {problem.get("field"), *(e.get("field") for e in problem.get("errors", []))}
    assert any(field in str(name) for name in [*fields, problem["detail"]]), problem
    assert client.get(f"/api/conversations/{conversation_id}").json()["totals"]["messages"] == 0
    assert client.get("/api/tasks").json()["items"] == []


@pytest.mark.parametrize(
    "url",
    [
        "/api/conversations?limit=0",
        "/api/conversations?limit=201",
        "/api/conversations?cursor=garbage",
        "/api/conversations?archived=maybe",
        "/api/conversations/x/messages?cursor=%%%",
    ],
)
def test_bad_list_parameters_are_4xx(client: Client, url: str) -> None:
    start(client, conversation_id="x")
    response = client.get(url)
    assert response.status_code in (400, 422)
    assert response.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"agent_type": "bad type!"},
        {"agent_type": "coder", "title": "t" * 201},
        {"agent_type": "coder", "archived": True},
    ],
)
def test_a_bad_conversation_is_refused(client: Client, body: dict[str, Any]) -> None:
    response = client.post("/api/conversations", json=body)
    assert response.status_code == 400
    assert client.get("/api/conversations").json()["items"] == []


def test_a_duplicate_conversation_id_is_a_conflict(client: Client) -> None:
    start(client, conversation_id="c-1")
    assert (
        client.post(
            "/api/conversations", json={"agent_type": "x", "conversation_id": "c-1"}
        ).status_code
        == 409
    )
