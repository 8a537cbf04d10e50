"""Cost and outcomes per agent type on /metrics, and the alerts and budgets routes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from litestar.testing import TestClient

from dashboard_api.bootstrap.adapters import memory_adapters
from dashboard_api.http import create_app
from dashboard_api.settings import Settings


def _finish(client: TestClient, agent_type: str, status: str, cost: float) -> None:  # type: ignore[type-arg]
    task_id = client.post("/api/tasks", json={"agent_type": agent_type}).json()["task_id"]
    client.patch(f"/api/tasks/{task_id}", json={"status": status, "cost_usd": cost})


def test_metrics_carry_cost_and_outcomes_per_agent_type_and_budgets_show_spend(
    tmp_path: Path,
) -> None:
    alerts = tmp_path / "alerts.toml"
    alerts.write_text('[[budgets]]\nname = "all"\nlimit_usd = "10"\nperiod = "week"\n')
    settings = Settings(alerts_file=str(alerts), alerts_check_seconds=0.05)
    with TestClient(
        create_app(settings, adapters=memory_adapters()), base_url="http://127.0.0.1"
    ) as client:
        _finish(client, "coder", "completed", 1.25)
        _finish(client, "coder", "failed", 0.5)
        _finish(client, "planner", "cancelled", 0)
        deadline = time.monotonic() + 5
        cancelled = 'dashboard_agent_tasks_total{agent_type="planner",outcome="cancelled"} 1.0'
        while cancelled not in (metrics := client.get("/metrics").text):
            assert time.monotonic() < deadline, metrics
            time.sleep(0.05)
        assert 'dashboard_agent_tasks_total{agent_type="coder",outcome="failed"} 1.0' in metrics
        assert (
            'dashboard_agent_tasks_total{agent_type="planner",outcome="cancelled"} 1.0' in metrics
        )
        (budget,) = client.get("/api/budgets").json()["items"]
        assert (budget["spend_usd"], budget["used_percent"], budget["period"]) == (
            1.75,
            17.5,
            "week",
        )
        assert client.get("/api/alerts").json() == {"items": []}
        # The one time rule (domain/times.py), as on every list: a 422 naming the parameter.
        refused = client.get("/api/alerts?before=not-a-time")
        assert (refused.status_code, refused.json()["field"]) == (422, "before")


def test_a_broken_alerts_file_stops_start_up_naming_it(tmp_path: Path) -> None:
    alerts = tmp_path / "alerts.toml"
    alerts.write_text('[[budgets]]\nname = "x"\nlimit_usd = "-1"\n')
    with pytest.raises(SystemExit, match=r"alerts\.toml.*limit_usd"):
        create_app(Settings(alerts_file=str(alerts)), adapters=memory_adapters())


def test_retention_runs_in_the_background_and_counts_on_metrics() -> None:
    settings = Settings(retention_tasks_days=30, retention_interval_seconds=0.05)
    with TestClient(
        create_app(settings, adapters=memory_adapters()), base_url="http://127.0.0.1"
    ) as client:
        old = client.post(
            "/api/tasks", json={"agent_type": "coder", "created_at": "2020-01-01T00:00:00Z"}
        ).json()["task_id"]
        client.patch(f"/api/tasks/{old}", json={"status": "completed", "cost_usd": 2})
        deadline = time.monotonic() + 5
        while client.get(f"/api/tasks/{old}").status_code != 404:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert 'dashboard_retention_pruned_total{kind="tasks"} 1.0' in client.get("/metrics").text
        summary = client.get("/api/analytics/summary").json()
        assert (summary["total_tasks"], summary["total_cost_usd"]) == (1, 2)


def test_spend_by_user_and_a_user_budget(tmp_path: Path) -> None:
    alerts = tmp_path / "alerts.toml"
    alerts.write_text(
        '[[budgets]]\nname = "alice-day"\nscope = "user"\nkey = "alice"\nlimit_usd = "1"\n'
        'period = "day"\nthresholds = [100]\n'
    )
    settings = Settings(alerts_file=str(alerts), alerts_check_seconds=0.05)
    with TestClient(
        create_app(settings, adapters=memory_adapters()), base_url="http://127.0.0.1"
    ) as client:
        conversation = client.post(
            "/api/conversations", json={"agent_type": "coder", "title": "x", "user_id": "alice"}
        ).json()["conversation_id"]
        task_id = client.post(
            f"/api/conversations/{conversation}/messages", json={"role": "user", "content": "hi"}
        ).json()["task_id"]
        client.patch(f"/api/tasks/{task_id}", json={"status": "completed", "cost_usd": 1.5})
        by_user = client.get("/api/analytics/spend?group_by=user").json()
        assert by_user["items"] == [
            {"key": "alice", "tasks": 1, "cost_usd": 1.5, "input_tokens": 0, "output_tokens": 0}
        ]
        by_source = client.get("/api/analytics/spend?group_by=source").json()["items"]
        assert [(item["key"], item["cost_usd"]) for item in by_source] == [("dashboard", 1.5)]
        mid_hour = "/api/analytics/spend?group_by=user&from=2026-01-01T10:30:00Z"
        assert client.get(mid_hour).status_code == 422
        deadline = time.monotonic() + 5
        while not (fired := client.get("/api/alerts").json()["items"]):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert fired[0]["alert_id"].startswith("budget:alice-day:")
        assert "user alice" in fired[0]["message"]
