"""Webhook events arrive through the durable ingestion stream as well as over REST."""

from __future__ import annotations

import time

import msgspec
from litestar.testing import TestClient

from dashboard_api.bootstrap.adapters import memory_adapters
from dashboard_api.http import create_app
from dashboard_api.settings import Settings


def _wait_for_events(client: TestClient, webhook_id: str, count: int) -> list[dict[str, object]]:  # type: ignore[type-arg]
    deadline = time.monotonic() + 10
    while True:
        items = client.get("/api/webhooks/events", params={"webhook_id": webhook_id}).json()
        if len(items["items"]) >= count or time.monotonic() > deadline:
            return items["items"]  # type: ignore[no-any-return]
        time.sleep(0.05)


def test_a_streamed_webhook_event_is_recorded_once_and_a_bad_one_rejected() -> None:
    adapters = memory_adapters()
    event = {
        "type": "webhook_event",
        "event_id": "gh-delivery-1",
        "webhook_id": "github-main",
        "provider": "github",
        "event_type": "issues.opened",
        "status": "processed",
        "latency_ms": 12,
    }
    with TestClient(
        create_app(Settings(), adapters=adapters), base_url="http://127.0.0.1"
    ) as client:
        portal = client.blocking_portal
        assert portal is not None
        portal.call(adapters.ingest.add, msgspec.json.encode(event))
        portal.call(adapters.ingest.add, msgspec.json.encode(event))  # a redelivery
        portal.call(
            adapters.ingest.add, msgspec.json.encode({**event, "event_id": "x", "provider": 7})
        )
        items = _wait_for_events(client, "github-main", 1)
        assert [item["event_id"] for item in items] == ["gh-delivery-1"]
        deadline = time.monotonic() + 10
        while client.get("/api/status").json()["realtime"]["rejected_events"] < 1:
            assert time.monotonic() < deadline, "the malformed event was not rejected"
            time.sleep(0.05)
