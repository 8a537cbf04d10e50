"""/api/analytics over HTTP: the answers a dashboard charts, and clear 4xx for bad windows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from dashboard_api.bootstrap.adapters import memory_adapters
from dashboard_api.http import create_app
from dashboard_api.settings import Settings
from tests.unit.fakes import RecordingBus

NOW = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
Client = TestClient  # type: ignore[type-arg]


@pytest.fixture
def bus() -> RecordingBus:
    return RecordingBus()


@pytest.fixture
def client(bus: RecordingBus) -> Iterator[Any]:
    adapters = replace(memory_adapters(), bus=bus)
    with TestClient(
        create_app(Settings(), adapters=adapters, clock=lambda: NOW), base_url="http://127.0.0.1"
    ) as test_client:
        yield test_client


def _task(
    client: Any,
    task_id: str,
    created_at: str,
    agent: str = "coder",
    session: str | None = None,
    **done: Any,
) -> None:
    body = {"agent_type": agent, "task_id": task_id, "created_at": created_at, "model": "m1"}
    body |= {"session_id": session} if session else {}
    assert client.post("/api/tasks", json=body).status_code == 201
    if done:
        assert client.patch(f"/api/tasks/{task_id}", json=done).status_code == 200


def _seed(client: Any) -> None:
    _task(client, "a", "2026-11-23T10:15:00Z", status="completed", cost_usd=1.25,
          input_tokens=100, output_tokens=20, completed_at="2026-11-23T10:15:45Z")  # fmt: skip
    _task(client, "b", "2026-11-23T11:00:00Z", status="failed", cost_usd=0.5,
          input_tokens=10, output_tokens=0, completed_at="2026-11-23T11:30:00Z")  # fmt: skip
    _task(client, "c", "2026-11-24T09:00:00Z", agent="planner")


def test_the_summary_counts_every_task_with_both_success_rates(client: Any) -> None:
    _seed(client)
    body = client.get("/api/analytics/summary").json()
    assert body == {
        "total_cost_usd": 1.75,
        "total_tasks": 3,
        "completed_tasks": 1,
        "failed_tasks": 1,
        "success_rate": 1 / 3,
        "finished_success_rate": 0.5,
        "avg_tokens": 130 / 3,
        "avg_duration_seconds": (45 + 1800) / 2,
        "today_cost_usd": 0,
        "today_tasks": 1,
    }
    windowed = client.get(
        "/api/analytics/summary",
        params={"from": "2026-11-23T10:30:00Z", "to": "2026-11-24T00:00:00Z"},
    ).json()
    assert (windowed["total_tasks"], windowed["total_cost_usd"]) == (1, 0.5)
    planner = client.get("/api/analytics/summary", params={"agent_type": "planner"}).json()
    assert (planner["total_tasks"], planner["success_rate"]) == (1, 0.0)
    assert planner["finished_success_rate"] is None


def test_the_daily_histogram_has_every_day_even_empty_ones(client: Any) -> None:
    _seed(client)
    body = client.get("/api/analytics/costs/histogram", params={"days": 3}).json()
    assert body["granularity"] == "day"
    assert [bucket["start"] for bucket in body["buckets"]] == [
        "2026-11-22T00:00:00Z",
        "2026-11-23T00:00:00Z",
        "2026-11-24T00:00:00Z",
    ]
    assert body["buckets"][0] == {
        "start": "2026-11-22T00:00:00Z", "cost_usd": 0, "tasks": 0, "tokens": 0, "errors": 0,
        "groups": None,
    }  # fmt: skip
    assert body["buckets"][1] | {"groups": None} == {
        "start": "2026-11-23T00:00:00Z", "cost_usd": 1.75, "tasks": 2, "tokens": 130, "errors": 1,
        "groups": None,
    }  # fmt: skip


def test_an_hourly_histogram_grouped_by_agent_type(client: Any) -> None:
    _seed(client)
    body = client.get(
        "/api/analytics/costs/histogram",
        params={
            "granularity": "hour",
            "from": "2026-11-23T10:00:00Z",
            "to": "2026-11-23T13:00:00Z",
            "group_by": "agent_type",
        },
    ).json()
    assert [(b["start"][11:16], b["tasks"], list(b["groups"])) for b in body["buckets"]] == [
        ("10:00", 1, ["coder"]),
        ("11:00", 1, ["coder"]),
        ("12:00", 0, []),
    ]
    assert body["buckets"][1]["groups"]["coder"] == {
        "cost_usd": 0.5, "tasks": 1, "tokens": 10, "errors": 1,
    }  # fmt: skip


def test_performance_per_agent_type_and_model_with_pagination(client: Any) -> None:
    _seed(client)
    first = client.get("/api/analytics/performance", params={"days": 7, "limit": 1}).json()
    assert [item["agent_type"] for item in first["items"]] == ["coder"]
    coder = first["items"][0]
    assert (coder["tasks"], coder["completed_tasks"], coder["failed_tasks"]) == (2, 1, 1)
    assert (coder["duration_p50_seconds"], coder["duration_p99_seconds"]) == (60.0, 1800.0)
    assert coder["cost_per_task_usd"] == 0.875
    assert coder["tasks_per_day"] == 2 / 7
    rest = client.get(
        "/api/analytics/performance", params={"days": 7, "cursor": first["next_cursor"]}
    ).json()
    assert [item["agent_type"] for item in rest["items"]] == ["planner"]
    assert rest["next_cursor"] is None
    by_model = client.get("/api/analytics/performance", params={"group_by": "model"}).json()
    assert {(item["agent_type"], item["model"]) for item in by_model["items"]} == {
        ("coder", "m1"),
        ("planner", "m1"),
    }


def test_performance_per_session_pages_through_sessions_with_tasks_in_the_window(
    client: Any,
) -> None:
    _task(client, "a", "2026-11-23T10:00:00Z", session="s-1", status="completed",
          cost_usd=1.25, input_tokens=100, output_tokens=20,
          completed_at="2026-11-23T10:00:45Z")  # fmt: skip
    _task(client, "b", "2026-11-23T10:05:00Z", session="s-1", status="failed", cost_usd=0.5,
          input_tokens=10, completed_at="2026-11-23T10:35:00Z")  # fmt: skip
    _task(client, "c", "2026-11-23T10:10:00Z", agent="planner", session="s-1")
    _task(client, "d", "2026-11-23T12:00:00Z", agent="planner", session="s-2")
    _task(client, "e", "2026-11-23T12:00:00Z")  # no session: not listed
    _task(client, "f", "2026-11-20T12:00:00Z", session="s-0")  # before the window
    window = {"from": "2026-11-23T00:00:00Z", "to": "2026-11-24T00:00:00Z"}
    params = window | {"group_by": "session", "limit": 1}
    first = client.get("/api/analytics/performance", params=params).json()
    assert first["items"] == [
        {
            "session_id": "s-1", "agent_type": "coder", "tasks": 3, "completed_tasks": 1,
            "failed_tasks": 1, "success_rate": 1 / 3, "finished_success_rate": 0.5,
            "duration_p50_seconds": 60.0, "duration_p95_seconds": 1800.0,
            "duration_p99_seconds": 1800.0, "avg_tokens": 130 / 3,
            "cost_per_task_usd": 0.583333, "cost_usd": 1.75,
            "started_at": "2026-11-23T10:00:00Z", "ended_at": "2026-11-23T10:35:00Z",
        }
    ]  # fmt: skip
    rest = client.get(
        "/api/analytics/performance", params=params | {"cursor": first["next_cursor"]}
    ).json()
    assert [(item["session_id"], item["agent_type"]) for item in rest["items"]] == [
        ("s-2", "planner")
    ]
    assert rest["items"][0]["ended_at"] is None
    assert rest["next_cursor"] is None
    planners = client.get(
        "/api/analytics/performance",
        params=window | {"group_by": "session", "agent_type": "planner"},
    ).json()
    assert [(item["session_id"], item["tasks"]) for item in planners["items"]] == [
        ("s-1", 1),
        ("s-2", 1),
    ]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("summary", {"from": "2026-11-24T00:00:00Z", "to": "2026-11-23T00:00:00Z"}, "from"),
        ("summary", {"from": "yesterday"}, "from"),
        ("summary", {"from": "9999-12-31T23:30:00Z"}, "from"),
        ("summary", {"to": "0001-01-01T00:00:00+05:00"}, "to"),
        ("costs/histogram", {"from": "9999-12-31T22:00:00Z", "to": "9999-12-31T23:59:00Z"}, "from"),
        ("costs/histogram", {"granularity": "minute"}, "granularity"),
        ("costs/histogram", {"granularity": "hour", "days": 40}, "to"),
        ("costs/histogram", {"days": 400}, "days"),
        ("costs/histogram", {"days": 3, "from": "2026-11-20T00:00:00Z"}, "days"),
        ("costs/histogram", {"to": "2026-11-20T00:00:00Z"}, "from"),
        ("costs/histogram", {"group_by": "status"}, "group_by"),
        ("performance", {"from": "2024-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "to"),
        ("performance", {"cursor": "not-a-cursor"}, "cursor"),
        ("performance", {"limit": 0}, "limit"),
        ("performance", {"group_by": "agent"}, "group_by"),
        ("performance", {"group_by": "session", "cursor": "WyJjb2RlciIsIiJd"}, "cursor"),
        ("performance", {"group_by": "session", "agent_type": ""}, "agent_type"),
    ],
)
def test_bad_windows_get_a_problem_naming_the_field(
    client: Any, path: str, params: dict[str, Any], field: str
) -> None:
    response = client.get(f"/api/analytics/{path}", params=params)
    assert response.status_code in (400, 422)
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    named = body.get("field") or next(iter(body.get("errors", [])), {}).get("field")
    assert named == field


def test_a_finished_task_moves_the_numbers_at_once_and_is_announced(
    client: Any, bus: RecordingBus
) -> None:
    _task(client, "live", "2026-11-24T15:00:00Z")
    assert client.get("/api/analytics/summary").json()["completed_tasks"] == 0
    client.patch("/api/tasks/live", json={"status": "completed", "cost_usd": 2})
    [event] = [event for event in bus.on("tasks") if event["status"] == "completed"]
    assert (event["task_id"], event["created_at"], event["cost_usd"]) == (
        "live",
        "2026-11-24T15:00:00Z",
        2.0,
    )
    summary = client.get("/api/analytics/summary").json()
    assert (summary["completed_tasks"], summary["today_cost_usd"]) == (1, 2)


query_values = st.one_of(
    st.text(max_size=40),
    st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat()),
    st.integers(-(10**6), 10**6).map(str),
    st.sampled_from(
        ["hour", "day", "model", "session", "agent_type", "", "9999-12-31T23:59:59.999999"]
    ),
)


QUERY_NAMES = ("from", "to", "days", "granularity", "group_by", "agent_type", "limit", "cursor")
FIXTURE_REUSED = [HealthCheck.function_scoped_fixture]  # the app is stateless for these reads


@settings(max_examples=150, deadline=None, suppress_health_check=FIXTURE_REUSED)
@given(
    path=st.sampled_from(["summary", "costs/histogram", "performance"]),
    params=st.dictionaries(
        st.sampled_from(QUERY_NAMES),
        query_values,
        max_size=4,
    ),
)
def test_no_query_makes_the_analytics_answer_500(
    client: Any, path: str, params: dict[str, str]
) -> None:
    response = client.get(f"/api/analytics/{path}", params=params)
    assert response.status_code < 500, (params, response.text)
