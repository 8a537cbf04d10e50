"""Bulk stop and retry over HTTP, on the memory adapters."""

from __future__ import annotations

from litestar.testing import TestClient

Client = TestClient  # type: ignore[type-arg]


def _task(client: Client, task_id: str, agent_type: str = "coder") -> None:
    body = {"agent_type": agent_type, "task_id": task_id, "input_message": "do it"}
    assert client.post("/api/tasks", json=body).status_code == 201


def test_stop_every_task_matching_a_filter(client: Client) -> None:
    for i in range(3):
        _task(client, f"c-{i}")
    _task(client, "p-0", agent_type="planner")
    client.patch("/api/tasks/c-2", json={"status": "running"})
    response = client.post("/api/bulk/stop-tasks", json={"agent_type": "coder", "max_tasks": 2})
    assert response.status_code == 200
    report = response.json()
    assert report["truncated"] is True
    assert [(r["task_id"], r["outcome"]) for r in report["results"]] == [
        ("c-2", "stop_requested"),
        ("c-1", "cancelled"),
    ]
    rest = client.post("/api/bulk/stop-tasks", json={"agent_type": "coder"}).json()
    assert [(r["task_id"], r["outcome"]) for r in rest["results"]] == [
        ("c-2", "stop_requested"),  # still running until the engine stops it
        ("c-0", "cancelled"),
    ]
    assert client.get("/api/tasks/p-0").json()["status"] == "queued"


def test_a_bad_bulk_filter_is_refused_naming_the_field(client: Client) -> None:
    for body in ({"max_tasks": 0}, {"max_tasks": 5000}, {"status": ["nope"]}, {"colour": 1}):
        response = client.post("/api/bulk/stop-tasks", json=body)
        assert response.status_code == 400, body


def test_retry_a_failed_task(client: Client) -> None:
    _task(client, "t-1")
    assert client.post("/api/tasks/t-1/retry").status_code == 409  # still queued
    client.patch("/api/tasks/t-1", json={"status": "failed", "error": "boom"})
    response = client.post("/api/tasks/t-1/retry", json={"task_id": "t-1-again"})
    assert response.status_code == 201
    retry = response.json()
    assert (retry["task_id"], retry["retry_of"], retry["status"]) == ("t-1-again", "t-1", "queued")
    assert client.post("/api/tasks/t-1/retry", json={"task_id": "t-1-again"}).status_code == 409
    assert client.post("/api/tasks/missing/retry").status_code == 404
    assert client.post("/api/tasks/t-1/retry").json()["retry_of"] == "t-1"
