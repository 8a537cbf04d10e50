"""An embedder builds the app on adapters of its own choosing."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from litestar.testing import TestClient

from dashboard_api.bootstrap.adapters import memory_adapters
from dashboard_api.http import create_app
from dashboard_api.settings import Settings
from tests.unit.fakes import RecordingBus


def test_an_embedder_swaps_in_its_own_event_bus() -> None:
    bus = RecordingBus()
    adapters = replace(memory_adapters(), bus=bus)
    with TestClient(
        create_app(Settings(), adapters=adapters), base_url="http://127.0.0.1"
    ) as client:
        task_id = client.post("/api/tasks", json={"agent_type": "coder"}).json()["task_id"]
        client.post(f"/api/tasks/{task_id}/stop")
    assert [event["status"] for event in bus.on("tasks")] == ["queued", "cancelled"]
    assert bus.on("engine:commands")[0]["task_id"] == task_id


def test_embedded_adapters_stay_open_for_their_owner() -> None:
    adapters = memory_adapters()
    with TestClient(
        create_app(Settings(), adapters=adapters), base_url="http://127.0.0.1"
    ) as client:
        client.post("/api/tasks", json={"agent_type": "coder", "task_id": "kept"})
    with TestClient(
        create_app(Settings(), adapters=adapters), base_url="http://127.0.0.1"
    ) as client:
        assert client.get("/api/tasks/kept").status_code == 200


def test_the_default_app_runs_on_a_migrated_sqlite_file(sqlite_url: str, tmp_path: Path) -> None:
    app = create_app(Settings(database_url=sqlite_url))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        created = client.post("/api/tasks", json={"agent_type": "coder", "task_id": "s1"})
        assert created.status_code == 201
        client.patch("/api/tasks/s1", json={"status": "completed", "cost_usd": 1.25})
        assert client.get("/api/tasks/s1").json()["cost_usd"] == 1.25
        assert client.get("/ready").json() == {
            "status": "ready",
            "checks": {"database": True, "ingestion": True},
        }
        assert client.get("/api/status").json()["database"]["reachable"] is True
