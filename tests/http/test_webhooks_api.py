"""The webhook, data source and OAuth routes, on the memory adapters."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from dashboard_api.domain.model.webhooks import MAX_PAYLOAD_BYTES

Client = TestClient  # type: ignore[type-arg]


def report(client: Client, **body: Any) -> Any:
    event = {"webhook_id": "gh", "provider": "github", "event_type": "push", **body}
    return client.post("/api/webhooks/events", json=event)


def test_a_gateway_reports_events_idempotently(client: Client) -> None:
    first = report(client, event_id="e-1", payload={"ref": "main"}, latency_ms=30)
    assert first.status_code == 201
    assert report(client, event_id="e-1", payload={"ref": "main"}, latency_ms=30).status_code == 200
    finished = report(client, event_id="e-1", status="failed", error="timeout", http_status=504)
    assert finished.status_code == 201
    assert report(client, event_id="e-1", status="processed").status_code == 409
    detail = client.get("/api/webhooks/events/e-1").json()
    assert (detail["status"], detail["payload"], detail["http_status"]) == (
        "failed",
        {"ref": "main"},
        504,
    )
    listed = client.get("/api/webhooks/events?status=failed&webhook_id=gh").json()
    assert [item["event_id"] for item in listed["items"]] == ["e-1"]
    assert "payload" not in listed["items"][0]
    assert client.get("/api/webhooks/events/nope").status_code == 404


def test_webhooks_list_and_stats_show_unconfigured_webhooks(client: Client) -> None:
    for status in ("processed", "processed", "failed", "skipped"):
        report(client, status=status, latency_ms=20)
    webhooks = client.get("/api/webhooks").json()["items"]
    assert [(w["webhook_id"], w["configured"], w["events_total"]) for w in webhooks] == [
        ("gh", False, 4)
    ]
    assert all("secret" not in key or key == "has_secret" for key in webhooks[0])
    stats = client.get("/api/webhooks/stats?provider=github").json()
    [line] = stats["items"]
    assert (line["total"], line["processed"], line["failed"], line["skipped"]) == (4, 2, 1, 1)
    assert line["success_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert line["latency_p50_ms"] == 25
    assert stats["window_to"].endswith(":00:00Z")


def test_events_page_newest_first(client: Client) -> None:
    for i in range(5):
        report(client, event_id=f"e-{i}", created_at=f"2026-11-20T10:0{i}:00Z")
    seen: list[str] = []
    url = "/api/webhooks/events?limit=2&from=2026-11-20T10:01:00Z"
    while url:
        page = client.get(url).json()
        seen += [item["event_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        url = (
            f"/api/webhooks/events?limit=2&from=2026-11-20T10:01:00Z&cursor={cursor}"
            if cursor
            else ""
        )
    assert seen == ["e-4", "e-3", "e-2", "e-1"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "exploded"}, "status"),
        ({"latency_ms": -1}, "latency_ms"),
        ({"http_status": 1000}, "http_status"),
        ({"payload": {"blob": "x" * MAX_PAYLOAD_BYTES}}, "payload"),
        ({"payload": [1, 2]}, "payload"),
        ({"webhook_id": ""}, "webhook_id"),
        ({"created_at": "2999-01-01T00:00:00Z"}, "created_at"),
    ],
)
def test_a_bad_event_is_refused_naming_the_field(
    client: Client, body: dict[str, Any], field: str
) -> None:
    response = report(client, **body)
    assert response.status_code in (400, 422)
    problem = response.json()
    fields = {problem.get("field"), *(e.get("field") for e in problem.get("errors", []))}
    assert any(field in str(name) for name in fields), problem
    assert client.get("/api/webhooks/events").json()["items"] == []


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/webhooks/stats?from=yesterday", "from"),
        ("/api/webhooks/stats?from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z", "from"),
        ("/api/webhooks/events?to=soon", "to"),
        ("/api/webhooks/events?status=odd", "status"),
        ("/api/webhooks?cursor=zzz", "cursor"),
    ],
)
def test_bad_query_parameters_name_the_field(client: Client, url: str, field: str) -> None:
    response = client.get(url)
    assert response.status_code in (400, 422)
    problem = response.json()
    fields = {problem.get("field"), *(e.get("field") for e in problem.get("errors", []))}
    assert field in fields, problem


def test_a_source_is_synced_by_the_indexer_through_the_api(client: Client) -> None:
    created = client.post(
        "/api/sources", json={"kind": "github_repo", "name": "API", "external_ref": "acme/api"}
    )
    assert created.status_code == 201
    source_id = created.json()["source_id"]
    assert created.json()["sync_status"] == "never"
    queued = client.post(f"/api/sources/{source_id}/sync")
    assert queued.status_code == 202
    job_id = queued.json()["last_sync"]["job_id"]
    report_url = f"/api/sources/{source_id}/sync"
    running = client.put(report_url, json={"job_id": job_id, "status": "running"})
    assert running.json()["sync_status"] == "running"
    done = client.put(report_url, json={"job_id": job_id, "status": "succeeded", "documents": 7})
    assert done.json()["last_sync"]["documents"] == 7
    assert client.put(report_url, json={"job_id": "other", "status": "failed"}).status_code == 409
    assert client.get("/api/sources").json()["items"][0]["sync_status"] == "succeeded"
    assert client.delete(f"/api/sources/{source_id}").status_code == 204
    assert client.post(f"/api/sources/{source_id}/sync").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "dropbox", "name": "x", "external_ref": "y"},
        {"kind": "github_repo", "name": "", "external_ref": "y"},
        {"kind": "github_repo", "name": "x"},
    ],
)
def test_a_bad_source_is_refused(client: Client, body: dict[str, Any]) -> None:
    assert client.post("/api/sources", json=body).status_code == 400
    assert client.get("/api/sources").json()["items"] == []


def test_oauth_status_reports_what_the_oauth_service_recorded(client: Client) -> None:
    before = {row["platform"]: row for row in client.get("/api/oauth/status").json()["items"]}
    assert before["github"]["connected"] is False
    recorded = client.put(
        "/api/oauth/status/github",
        json={
            "connected": True,
            "scopes": ["repo", "read:org"],
            "installed_at": "2026-11-01T09:00:00Z",
            "token_expires_at": "2026-12-01T09:00:00Z",
        },
    )
    assert recorded.status_code == 200
    github = next(
        row
        for row in client.get("/api/oauth/status").json()["items"]
        if row["platform"] == "github"
    )
    assert (github["connected"], github["scopes"], github["token_expires_at"]) == (
        True,
        ["repo", "read:org"],
        "2026-12-01T09:00:00Z",
    )
    assert client.put("/api/oauth/status/Git Hub", json={"connected": True}).status_code == 400
    unknown = client.put("/api/oauth/status/myspace", json={"connected": True})
    assert (unknown.status_code, unknown.json()["field"]) == (422, "platform")
    bad_scope = {"connected": True, "scopes": ["a b"]}
    assert client.put("/api/oauth/status/github", json=bad_scope).status_code == 400
