"""The six REST calls of the groote-ai engine, as it sends them, on the memory adapters; the
native API stays as strict as ever when the adapter is off, and for other bodies when on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from litestar.testing import TestClient

from dashboard_api.bootstrap.adapters import memory_adapters
from dashboard_api.http import create_app
from dashboard_api.settings import Settings

Client = TestClient  # type: ignore[type-arg]
FLOW = "github:acme/shop#12"
TASK = "5f0c2a9e-8a51-4d8e-9a43-0d1c2b3a4f50"


@pytest.fixture
def groote() -> Iterator[Client]:
    settings = Settings(groote_events="task_events", groote_wait_seconds=0.2)
    with TestClient(
        create_app(settings, adapters=memory_adapters()), base_url="http://127.0.0.1"
    ) as client:
        yield client


def open_flow(client: Client) -> str:
    """conversation_bridge.get_or_create_flow_conversation, call for call."""
    encoded = quote(FLOW, safe="")
    response = client.get(f"/api/conversations/by-flow/{encoded}")
    if response.status_code == 200:
        return str(response.json()["conversation_id"])
    assert response.status_code == 404
    response = client.post(
        "/api/conversations",
        json={
            "flow_id": FLOW,
            "title": "GitHub: shop#12 - Login fails",
            "source": "github",
            "metadata": {"repo": "acme/shop", "number": 12, "title": "Login fails"},
        },
    )
    response.raise_for_status()
    return str(response.json()["conversation_id"])


def register(client: Client, conversation_id: str) -> Any:
    return client.post(
        "/api/tasks",
        json={
            "task_id": TASK,
            "source": "github",
            "source_metadata": {"repo": "acme/shop", "number": 12, "title": "Login fails"},
            "input_message": "@agent fix the login bug",
            "assigned_agent": "brain",
            "conversation_id": conversation_id,
            "flow_id": FLOW,
        },
    )


def test_the_worker_flow_over_rest_ends_in_one_completed_task(groote: Client) -> None:
    conversation_id = open_flow(groote)
    assert open_flow(groote) == conversation_id  # found again by its encoded flow id
    assert register(groote, conversation_id).status_code == 201
    assert register(groote, conversation_id).status_code == 200  # a retry fills, never fails
    system = {"role": "system", "content": "GitHub Webhook Triggered", "task_id": TASK}
    groote.post(f"/api/conversations/{conversation_id}/messages", json=system).raise_for_status()
    context = groote.get(
        f"/api/conversations/{conversation_id}/context",
        params={"max_messages": 5, "roles": "user,assistant"},
    )
    assert context.status_code == 200
    assert context.json() == []
    assert groote.patch(f"/api/tasks/{TASK}", json={"status": "running"}).status_code == 200
    done = {
        "status": "completed",
        "output": "Fixed.",
        "cost_usd": 0.0421,
        "input_tokens": 12000,
        "output_tokens": 850,
        "duration_seconds": 9.31,
    }  # their null fields are dropped before sending
    assert groote.patch(f"/api/tasks/{TASK}", json=done).status_code == 200
    answer = {"role": "assistant", "content": "Fixed.", "task_id": TASK}
    first = groote.post(f"/api/conversations/{conversation_id}/messages", json=answer).json()
    again = groote.post(f"/api/conversations/{conversation_id}/messages", json=answer).json()
    assert again["message_id"] == first["message_id"]  # a retried post is said once

    task = groote.get(f"/api/tasks/{TASK}").json()
    assert (task["status"], task["output"], task["cost_usd"]) == ("completed", "Fixed.", 0.0421)
    assert task["conversation_id"] == conversation_id
    assert task["agent_type"] == "brain"
    origin = groote.get(f"/api/tasks/{TASK}/origin").json()
    assert origin["flow_id"] == FLOW
    assert origin["source_metadata"]["number"] == 12
    context = groote.get(
        f"/api/conversations/{conversation_id}/context?max_messages=5&roles=user,assistant"
    ).json()
    assert [(m["role"], m["content"]) for m in context] == [("assistant", "Fixed.")]
    conversation = groote.get(f"/api/conversations/{conversation_id}").json()
    assert conversation["totals"]["messages"] == 2
    assert conversation["totals"]["tasks"] == 1
    assert conversation["totals"]["cost_usd"] == 0.0421


def test_flow_ids_of_every_shape_are_found_by_their_encoded_form(groote: Client) -> None:
    for flow in ("jira:KEY-1", "slack:C1:1700000000.123", "github:o/r#1"):
        created = groote.post("/api/conversations", json={"flow_id": flow, "title": flow})
        assert created.status_code == 201
        found = groote.get(f"/api/conversations/by-flow/{quote(flow, safe='')}")
        assert found.json()["conversation_id"] == created.json()["conversation_id"]
    assert groote.get("/api/conversations/by-flow/jira%3ANOPE-1").status_code == 404


def test_the_context_keeps_the_last_messages_of_the_asked_roles(groote: Client) -> None:
    cid = groote.post("/api/conversations", json={"agent_type": "brain"}).json()["conversation_id"]
    for n in range(8):
        role = "assistant" if n % 2 else "system"
        body = {"role": role, "content": f"m{n}"}
        groote.post(f"/api/conversations/{cid}/messages", json=body).raise_for_status()
    context = groote.get(f"/api/conversations/{cid}/context?max_messages=3&roles=assistant")
    assert [m["content"] for m in context.json()] == ["m3", "m5", "m7"]
    assert groote.get(f"/api/conversations/{cid}/context?roles=robot").status_code == 422
    assert groote.get("/api/conversations/nope/context").status_code == 404


def test_native_bodies_stay_strict_with_the_adapter_on(groote: Client) -> None:
    created = groote.post("/api/tasks", json={"agent_type": "coder", "task_id": "n-1"})
    assert created.status_code == 201
    assert (
        groote.post("/api/tasks", json={"agent_type": "coder", "task_id": "n-1"}).status_code == 409
    )
    assert (
        groote.patch("/api/tasks/n-1", json={"status": "running", "colour": 1}).status_code == 400
    )
    assert groote.patch("/api/tasks/n-1", json={"status": "completed"}).status_code == 200
    assert groote.patch("/api/tasks/n-1", json={"status": "failed"}).status_code == 409
    assert groote.patch("/api/tasks/missing", json={"status": "running"}).status_code == 404
    assert groote.post("/api/conversations", json={"title": "no agent"}).status_code == 422


def test_without_the_adapter_groote_fields_are_refused(client: Client) -> None:
    client.post("/api/tasks", json={"agent_type": "coder", "task_id": "n-1"}).raise_for_status()
    refused = client.patch("/api/tasks/n-1", json={"status": "running", "duration_seconds": 1})
    assert refused.status_code == 400
    body = {"agent_type": "coder", "task_id": "n-2", "flow_id": FLOW}
    assert client.post("/api/tasks", json=body).status_code == 400
    assert client.post("/api/conversations", json={"flow_id": FLOW}).status_code == 400
    assert client.get(f"/api/conversations/by-flow/{quote(FLOW, safe='')}").status_code == 404
