"""Alerts on the real PostgreSQL: two replicas and a restart, each threshold alerted once."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dashboard_api.http import create_app
from dashboard_api.settings import Settings
from tests.alert_receiver import alert_receiver

pytestmark = pytest.mark.integration


async def _until(condition: object, seconds: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():  # type: ignore[operator]
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_a_budget_crossed_once_alerts_once_across_replicas_and_a_restart(
    postgres_url: str, clean_postgres: AsyncEngine, tmp_path: Path
) -> None:
    await clean_postgres.dispose()  # the apps below have their own pools
    async with clean_postgres.begin() as connection:
        await connection.execute(text("TRUNCATE alerts, alert_deliveries"))
    async with alert_receiver() as receiver:
        alerts_file = tmp_path / "alerts.toml"
        alerts_file.write_text(
            '[[budgets]]\nname = "service-day"\nlimit_usd = "1.50"\nperiod = "day"\n'
            "thresholds = [50, 100]\n"
            f'[[webhooks]]\nname = "ops"\nurl = "{receiver.url}"\nsecret = "k"\n'
        )
        settings = Settings(
            database_url=postgres_url, alerts_file=str(alerts_file), alerts_check_seconds=0.1
        )
        replicas = [create_app(settings), create_app(settings)]
        async with (
            AsyncTestClient(replicas[0], base_url="http://127.0.0.1") as one,
            AsyncTestClient(replicas[1], base_url="http://127.0.0.1") as two,
        ):
            for client, cost in ((one, 0.8), (two, 0.8)):
                created = await client.post("/api/tasks", json={"agent_type": "coder"})
                task_id = created.json()["task_id"]
                patch = {"status": "completed", "cost_usd": cost}
                assert (await client.patch(f"/api/tasks/{task_id}", json=patch)).status_code == 200
            await _until(lambda: len(receiver.received) >= 2)
            await asyncio.sleep(0.5)  # both replicas check a few more rounds
            listed = (await two.get("/api/alerts")).json()["items"]
            budgets = (await one.get("/api/budgets")).json()["items"]
        async with AsyncTestClient(create_app(settings), base_url="http://127.0.0.1") as restarted:
            await asyncio.sleep(0.5)
            assert len((await restarted.get("/api/alerts")).json()["items"]) == 2
            delivered = await restarted.get(f"/api/alerts/{listed[0]['alert_id']}/deliveries")
    assert sorted(alert["threshold_percent"] for alert in listed) == [50, 100]
    assert budgets[0]["spend_usd"] == 1.6
    assert len(receiver.received) == 2  # once per threshold, whatever the replicas
    assert [attempt["status_code"] for attempt in delivered.json()["items"]] == [200]
    for request in receiver.received:
        signed = request.headers["x-dashboard-timestamp"].encode() + b"." + request.body
        expected = hmac.new(b"k", signed, hashlib.sha256).hexdigest()
        assert request.headers["x-dashboard-signature"] == f"sha256={expected}"
