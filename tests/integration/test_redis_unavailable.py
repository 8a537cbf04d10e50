"""Redis gone (stopped, or unreachable past DASHBOARD_REDIS_TIMEOUT_SECONDS) is a 503 with
Retry-After on the routes that need it, within seconds; routes that do not need it still work."""

from __future__ import annotations

import time

import pytest
from litestar.testing import AsyncTestClient

from dashboard_api.http import create_app
from dashboard_api.settings import Settings
from tests.redis_support import PrivateRedis

pytestmark = pytest.mark.integration


async def test_a_stopped_redis_is_a_503_within_seconds_not_a_500(
    private_redis: PrivateRedis, sqlite_url: str
) -> None:
    settings = Settings(
        database_url=sqlite_url, redis_url=private_redis.url, redis_timeout_seconds=1
    )
    async with AsyncTestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        created = await client.post(
            "/api/tasks", json={"agent_type": "c", "task_id": "t1", "status": "running"}
        )
        assert created.status_code == 201
        private_redis.stop()
        started = time.monotonic()
        refused = await client.post("/api/tasks/t1/stop")  # publishes the stop command
        assert time.monotonic() - started < 10
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"]
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert (await client.get("/api/tasks/t1")).status_code == 200  # the database still is
        # A change that commits is answered as done; only its live notification is lost.
        created = await client.post("/api/tasks", json={"agent_type": "c", "task_id": "t2"})
        assert created.status_code == 201, created.text
        ready = await client.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["redis"] is False
