"""The OpenAPI document is the contract clients are generated from: it must say what is served."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from dashboard_api.http.openapi_document import render
from dashboard_api.http.problem_responses import ProblemDetails

Client = TestClient  # type: ignore[type-arg]
COMMITTED = Path(__file__).parents[2] / "openapi.json"
METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture
def document(client: Client) -> dict[str, Any]:
    response = client.get("/schema/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_the_committed_openapi_json_is_the_served_document(document: dict[str, Any]) -> None:
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert committed == document, "openapi.json is stale: run `make openapi` and commit it"
    assert COMMITTED.read_text(encoding="utf-8") == render(document)


def test_money_is_declared_a_number_and_served_as_one(
    client: Client, document: dict[str, Any]
) -> None:
    schemas = document["components"]["schemas"]
    money_schemas = ("TaskDetail", "TaskSummary", "Summary", "CostBucket", "ConversationTotals")
    budgets = ("Alert", "BudgetStatus", "SpendTotal")
    for name in (*money_schemas, *budgets):
        # Money is named `*_usd` (`cost_source` and `cost_breakdown` are not amounts).
        money = {
            key: value for key, value in schemas[name]["properties"].items() if key.endswith("_usd")
        }
        assert money, name
        for value in money.values():
            kinds = [value] if "type" in value else value["oneOf"]  # a nullable amount
            assert {kind["type"] for kind in kinds} <= {"number", "null"}, (name, money)
            assert kinds[0]["type"] == "number", (name, money)
    client.post("/api/tasks", json={"task_id": "money", "agent_type": "coder"})
    client.patch("/api/tasks/money", json={"cost_usd": 0.125})
    assert client.get("/api/tasks/money").json()["cost_usd"] == 0.125


def test_every_error_answer_is_a_problem_details_document(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        errors = {code: answer for code, answer in operation["responses"].items() if code >= "4"}
        assert errors or path == "/health", (method, path)
        for code, answer in errors.items():
            assert list(answer["content"]) == ["application/problem+json"], (method, path, code)
            schema = answer["content"]["application/problem+json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ProblemDetails"}, (method, path)
    # Litestar's own 400 body ({status_code, detail, extra}) is nowhere (an alert delivery's
    # `status_code`, the HTTP status a webhook answered, is data, not an error body).
    for name, schema in document["components"]["schemas"].items():
        assert not {"status_code", "extra"} <= set(schema.get("properties", {})), name
    assert '"extra"' not in json.dumps(document["paths"])


def test_each_route_documents_the_statuses_it_can_answer(document: dict[str, Any]) -> None:
    answers = {
        (method, path): set(operation["responses"])
        for path, method, operation in operations(document)
    }
    by_id = answers[("get", "/api/tasks/{task_id}")]
    assert {"400", "401", "403", "404", "422", "429", "503"} <= by_id
    assert {"409", "413", "415", "422"} <= answers[("post", "/api/tasks")]
    assert {"404", "409"} <= answers[("patch", "/api/tasks/{task_id}")]
    assert answers[("get", "/health")] == {"200"}
    assert answers[("get", "/ready")] == {"200", "503"}
    for (method, path), codes in answers.items():
        if path.startswith("/api/"):
            assert {"401", "403", "429", "503"} <= codes, (method, path)
        if method != "get":
            assert "415" in codes, (method, path)


def test_served_problems_match_the_declared_schema(client: Client) -> None:
    client.post("/api/tasks", json={"task_id": "done", "agent_type": "coder"})
    client.patch("/api/tasks/done", json={"status": "running"})
    client.patch("/api/tasks/done", json={"status": "completed"})
    answers = [
        client.get("/api/tasks/nope"),
        client.get("/api/tasks", params={"limit": "many"}),
        client.post("/api/tasks", json={"agent_type": "coder", "colour": "red"}),
        client.patch("/api/tasks/done", json={"status": "running"}),
        client.get("/api/tasks", params={"cursor": "not-a-cursor"}),
        client.patch("/api/tasks/done", json={"cost_usd": 2_000_000}),
    ]
    assert [answer.status_code for answer in answers] == [404, 400, 400, 409, 400, 422]
    for answer in answers:
        assert answer.headers["content-type"] == "application/problem+json"
        problem = msgspec.json.decode(answer.content, type=ProblemDetails)
        assert problem.status == answer.status_code
    assert msgspec.json.decode(answers[1].content, type=ProblemDetails).errors


def test_a_bearer_scheme_is_declared_and_probes_need_no_token(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes == {
        "bearerAuth": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token from DASHBOARD_API_TOKENS",
        }
    }
    assert document["security"] == [{"bearerAuth": []}]
    assert document["paths"]["/health"]["get"]["security"] == [{}]
    assert document["paths"]["/ready"]["get"]["security"] == [{}]


def test_operation_ids_and_component_names_read_well(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids))
    camel = re.compile(r"[a-z]+(?:[A-Z][A-Za-z]+)*")
    assert all(camel.fullmatch(operation_id) for operation_id in ids), ids
    assert {"listTasks", "getTask", "createTask", "updateTask", "stopTask"} <= set(ids)
    names = set(document["components"]["schemas"])
    assert all(re.fullmatch(r"[A-Z][A-Za-z]+", name) for name in names), names
    assert {"TaskSummary", "TaskPage", "ProblemDetails"} <= names


def test_request_rules_are_declared(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for name in ("TaskCreate", "TaskUpdate", "ConversationCreate", "MessageCreate", "SourceCreate"):
        assert schemas[name]["additionalProperties"] is False, name
    assert schemas["TaskCreate"]["properties"]["status"]["enum"] == ["queued", "running"]
    assert schemas["TaskUpdate"]["properties"]["input_tokens"]["minimum"] == 0
    created_at = schemas["TaskCreate"]["properties"]["created_at"]["oneOf"][0]
    assert created_at == {"type": "string", "format": "date-time"}


def test_a_new_task_that_is_already_finished_is_refused(client: Client) -> None:
    answer = client.post("/api/tasks", json={"agent_type": "coder", "status": "completed"})
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "status"


def test_options_and_405_list_every_method_of_a_path(
    client: Client, document: dict[str, Any]
) -> None:
    for path, item in document["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        documented = {method.upper() for method in item if method in METHODS} | {"OPTIONS"}
        allow = client.options(concrete).headers["allow"]
        assert set(allow.split(", ")) == documented, path
    refused = client.request("PUT", "/api/tasks")
    assert refused.status_code == 405
    assert set(refused.headers["allow"].split(", ")) == {"GET", "POST", "OPTIONS"}


def test_bodies_and_times_are_not_coerced_from_other_types(client: Client) -> None:
    client.post("/api/tasks", json={"task_id": "strict", "agent_type": "coder"})
    refused = [
        (client.patch("/api/tasks/strict", json={"input_tokens": "5"}), "input_tokens"),
        (client.post("/api/tasks", json={"agent_type": "coder", "created_at": 0}), "created_at"),
        (client.post("/api/conversations", json={"agent_type": "coder", "title": 5}), "title"),
        (client.get("/api/tasks", params={"created_before": "0.5"}), "created_before"),
    ]
    for answer, field in refused:
        assert answer.status_code in (400, 422), answer.text
        problem = answer.json()
        named = [problem.get("field")] + [error["field"] for error in problem.get("errors", [])]
        assert field in named, problem
    assert client.get("/api/tasks/strict").json()["input_tokens"] == 0
