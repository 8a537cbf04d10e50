"""The webhook gateway reports events with an `ingest` token: it cannot stop tasks or delete."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from dashboard_api.bootstrap.adapters import memory_adapters
from dashboard_api.http import create_app
from dashboard_api.settings import Settings

Client = TestClient  # type: ignore[type-arg]
GATEWAY = "gateway-secret-0123456789"
VIEWER = "viewer-secret-01234567890"
ADMIN = "admin-secret-012345678901"
TOKENS = f"gateway:ingest:{GATEWAY},viewer:read:{VIEWER},admin:read+write:{ADMIN}"
EVENT = {"webhook_id": "gh", "provider": "github", "event_type": "push"}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def client() -> Iterator[Client]:
    app = create_app(Settings(api_tokens=TOKENS), adapters=memory_adapters())
    with TestClient(app) as test_client:
        yield test_client


def test_an_ingest_token_reports_webhook_events_and_nothing_else(client: Client) -> None:
    reported = client.post("/api/webhooks/events", json=EVENT, headers=bearer(GATEWAY))
    assert reported.status_code == 201
    client.post("/api/tasks", json={"agent_type": "coder", "task_id": "t1"}, headers=bearer(ADMIN))
    assert client.post("/api/tasks/t1/stop", headers=bearer(GATEWAY)).status_code == 403
    assert client.get("/api/webhooks/events", headers=bearer(GATEWAY)).status_code == 403


def test_a_write_token_still_reports_and_a_read_token_does_not(client: Client) -> None:
    assert client.post("/api/webhooks/events", json=EVENT, headers=bearer(ADMIN)).status_code == 201
    refused = client.post("/api/webhooks/events", json=EVENT, headers=bearer(VIEWER))
    assert refused.status_code == 403
    assert "ingest or write" in refused.json()["detail"]
