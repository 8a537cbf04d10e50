"""The task routes as a frontend and an engine use them, on the memory adapters."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

Client = TestClient  # type: ignore[type-arg]
PROBLEM = "application/problem+json"


def create(client: Client, **body: Any) -> dict[str, Any]:
    response = client.post("/api/tasks", json={"agent_type": "coder", **body})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_registered_task_is_returned_in_full(client: Client) -> None:
    task = create(client, task_id="t-1", input_message="Fix the build", source="github")
    assert task["status"] == "queued"
    fetched = client.get("/api/tasks/t-1").json()
    assert fetched == task
    assert fetched["created_at"].endswith("Z")
    assert fetched["cost_usd"] == 0


def test_get_api_tasks_returns_paginated_results_newest_first(client: Client) -> None:
    ids = [create(client)["task_id"] for _ in range(5)]
    seen: list[str] = []
    url = "/api/tasks?limit=2"
    while True:
        page = client.get(url).json()
        seen += [item["task_id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        url = f"/api/tasks?limit=2&cursor={page['next_cursor']}"
    assert seen == list(reversed(ids))


def test_filters_narrow_the_list(client: Client) -> None:
    create(client, task_id="a", agent_type="planner", input_message="Plan the sprint")
    create(client, task_id="b", agent_type="coder", input_message="Write code")
    client.patch("/api/tasks/b", json={"status": "running"})

    def ids(query: str) -> list[str]:
        return [item["task_id"] for item in client.get(f"/api/tasks?{query}").json()["items"]]

    assert ids("agent_type=planner") == ["a"]
    assert ids("status=running") == ["b"]
    assert ids("status=running&status=queued") == ["b", "a"]
    assert ids("q=SPRINT") == ["a"]
    assert ids("created_after=2000-01-01T00:00:00Z&created_before=2001-01-01T00:00:00") == []


def test_list_items_have_a_preview_instead_of_large_text(client: Client) -> None:
    create(client, input_message="y" * 1000)
    (item,) = client.get("/api/tasks").json()["items"]
    assert item["input_preview"] == "y" * 200
    assert "input_message" not in item
    assert "output" not in item


def test_the_engine_reports_progress_and_results(client: Client) -> None:
    create(client, task_id="run-1")
    assert client.patch("/api/tasks/run-1", json={"status": "running"}).json()["started_at"]
    done = client.patch(
        "/api/tasks/run-1",
        json={"status": "completed", "output": "ok", "cost_usd": 0.012345, "input_tokens": 10},
    ).json()
    assert done["status"] == "completed"
    assert done["cost_usd"] == 0.012345
    assert done["run_seconds"] is not None
    assert done["duration_seconds"] is not None


def test_an_illegal_status_change_is_a_409_naming_the_current_status(client: Client) -> None:
    create(client, task_id="t")
    client.patch("/api/tasks/t", json={"status": "completed"})
    response = client.patch("/api/tasks/t", json={"status": "running"})
    assert response.status_code == 409
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["current_status"] == "completed"
    assert body["type"].endswith("/conflict")
    assert client.get("/api/tasks/t").json()["status"] == "completed"


def test_a_duplicate_id_is_a_409(client: Client) -> None:
    create(client, task_id="same")
    response = client.post("/api/tasks", json={"agent_type": "coder", "task_id": "same"})
    assert response.status_code == 409
    assert response.headers["content-type"].startswith(PROBLEM)


def test_unknown_ids_and_routes_are_404_problems(client: Client) -> None:
    for response in (
        client.get("/api/tasks/nope"),
        client.patch("/api/tasks/nope", json={"status": "running"}),
        client.post("/api/tasks/nope/stop"),
        client.get("/api/nothing-here"),
    ):
        assert response.status_code == 404
        assert response.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("get", "/api/tasks?limit=0", None, "limit"),
        ("get", "/api/tasks?limit=201", None, "limit"),
        ("get", "/api/tasks?limit=ten", None, "limit"),
        ("get", "/api/tasks?status=sleeping", None, "status"),
        ("get", "/api/tasks?created_after=yesterday", None, "created_after"),
        ("get", "/api/tasks?cursor=bogus", None, "cursor"),
        ("get", "/api/tasks?cursor=WyJ4Il0", None, "cursor"),
        (
            "get",
            "/api/tasks?created_after=2026-02-01&created_before=2026-01-01",
            None,
            "created_after",
        ),
        ("post", "/api/tasks", {}, "agent_type"),
        ("post", "/api/tasks", {"agent_type": ""}, "agent_type"),
        ("post", "/api/tasks", {"agent_type": "a", "task_id": "bad id!"}, "task_id"),
        ("post", "/api/tasks", {"agent_type": "a", "surprise": 1}, "surprise"),
        ("post", "/api/tasks", {"agent_type": "a", "status": "done"}, "status"),
        ("post", "/api/tasks", {"agent_type": "a", "status": "completed"}, "status"),
        (
            "post",
            "/api/tasks",
            {"agent_type": "a", "created_at": "3026-01-01T00:00:00Z"},
            "created_at",
        ),
        ("post", "/api/tasks", [1, 2], None),
        ("patch", "/api/tasks/x", {"input_tokens": -1}, "input_tokens"),
        ("patch", "/api/tasks/x", {"cost_usd": -0.5}, "cost_usd"),
        ("patch", "/api/tasks/x", {"cost_usd": "NaN"}, "cost_usd"),
        ("patch", "/api/tasks/x", {"status": 7}, "status"),
    ],
)
def test_bad_input_is_a_4xx_problem_that_names_the_field_and_changes_nothing(
    client: Client, method: str, url: str, body: Any, field: str | None
) -> None:
    create(client, task_id="x")
    before = client.get("/api/tasks/x").json()
    response = client.request(method.upper(), url, json=body)
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    assert {"type", "title", "status", "detail"} <= problem.keys()
    if field:
        fields = [problem.get("field")] + [error["field"] for error in problem.get("errors", [])]
        assert field in fields or field in problem["detail"], problem
    assert client.get("/api/tasks/x").json() == before
    assert len(client.get("/api/tasks").json()["items"]) == 1


def test_malformed_json_and_oversized_bodies_are_refused(client: Client) -> None:
    response = client.post(
        "/api/tasks", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    huge = {"agent_type": "coder", "input_message": "z" * (3 * 1024 * 1024)}
    response = client.post("/api/tasks", json=huge)
    assert response.status_code == 413
    assert response.headers["content-type"].startswith(PROBLEM)
    assert client.get("/api/tasks").json()["items"] == []


def test_stop_cancels_a_queued_task_and_refuses_a_finished_one(client: Client) -> None:
    create(client, task_id="q")
    response = client.post("/api/tasks/q/stop")
    assert response.status_code == 202
    assert response.json() == {"task_id": "q", "status": "cancelled", "stop_requested": True}
    again = client.post("/api/tasks/q/stop")
    assert again.status_code == 409


def test_agents_list_configured_and_seen_agents(client: Client) -> None:
    create(client, agent_type="coder")
    items = client.get("/api/agents").json()["items"]
    assert [agent["agent_type"] for agent in items] == ["coder", "planner"]
    assert items[0]["queued"] == 1


def test_status_health_and_readiness(client: Client) -> None:
    create(client)
    status = client.get("/api/status").json()
    assert status["status"] == "ok"
    assert status["tasks"]["queued"] == 1
    assert status["database"] == {"configured": False, "reachable": None, "error": None}
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").status_code == 200


def test_openapi_and_its_docs_page_work_offline(client: Client) -> None:
    schema = client.get("/schema/openapi.json").json()
    assert "/api/tasks" in schema["paths"]
    assert "/api/tasks/{task_id}" in schema["paths"]
    page = client.get("/schema/swagger").text
    assert "http://" not in page.replace("http://www.w3.org", "")
    assert "https://" not in page
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-standalone-preset.js"):
        assert asset in page
        assert client.get(f"/schema-assets/{asset}").status_code == 200


def test_metrics_count_requests_by_route_template(client: Client) -> None:
    create(client, task_id="m1")
    client.get("/api/tasks/m1")
    text = client.get("/metrics").text
    assert 'route="/api/tasks/{task_id}"' in text
    assert "dashboard_http_request_duration_seconds_bucket" in text
    assert "/api/tasks/m1" not in text  # ids never become label values


def test_a_made_up_method_never_becomes_a_metric_label(client: Client) -> None:
    response = client.request("BREW", "/api/tasks")
    assert 400 <= response.status_code < 500
    text = client.get("/metrics").text
    assert "BREW" not in text
