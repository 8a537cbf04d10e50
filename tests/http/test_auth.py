"""Bearer tokens with scopes: read for what a dashboard shows, write and ingest for changes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient

from dashboard_api.bootstrap.adapters import memory_adapters
from dashboard_api.domain.model.access import Scope, parse_tokens
from dashboard_api.http import create_app
from dashboard_api.settings import Settings

Client = TestClient  # type: ignore[type-arg]
VIEWER = "viewer-secret-0123456789"
ENGINE = "engine-secret-0123456789"
ADMIN = "admin-secret-01234567890"
TOKENS = f"viewer:read:{VIEWER},engine:ingest:{ENGINE},admin:read+write:{ADMIN}"


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def client() -> Iterator[Client]:
    app = create_app(Settings(api_tokens=TOKENS), adapters=memory_adapters())
    with TestClient(app) as test_client:
        yield test_client


def test_without_a_token_only_probes_and_docs_answer(client: Client) -> None:
    assert client.get("/health").status_code == 200
    assert client.get("/ready").status_code == 200
    assert client.get("/schema/openapi.json").status_code == 200
    response = client.get("/api/tasks")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/tasks", headers=bearer("wrong-secret-0123456789")).status_code == 401


def test_the_engine_reports_tasks_but_cannot_read_them(client: Client) -> None:
    created = client.post(
        "/api/tasks", json={"agent_type": "coder", "task_id": "e1"}, headers=bearer(ENGINE)
    )
    assert created.status_code == 201
    running = client.patch("/api/tasks/e1", json={"status": "running"}, headers=bearer(ENGINE))
    assert running.status_code == 200
    assert client.get("/api/tasks", headers=bearer(ENGINE)).status_code == 403
    assert client.post("/api/tasks/e1/stop", headers=bearer(ENGINE)).status_code == 403


def test_a_viewer_reads_but_changes_nothing(client: Client) -> None:
    client.post("/api/tasks", json={"agent_type": "coder", "task_id": "v1"}, headers=bearer(ADMIN))
    assert client.get("/api/tasks/v1", headers=bearer(VIEWER)).status_code == 200
    refused = client.post("/api/tasks/v1/stop", headers=bearer(VIEWER))
    assert refused.status_code == 403
    assert "write" in refused.json()["detail"]
    assert client.get("/api/tasks/v1", headers=bearer(VIEWER)).json()["status"] == "queued"
    assert client.post("/api/tasks/v1/stop", headers=bearer(ADMIN)).status_code == 202


def test_token_specs_are_validated() -> None:
    tokens = parse_tokens(TOKENS)
    assert {token.name: token.scopes for token in tokens.values()}["admin"] == {
        Scope.READ,
        Scope.WRITE,
    }
    for bad in ("nameonly", "x:read:short", "x:admin:" + "s" * 20):
        with pytest.raises(ValueError):  # noqa: PT011
            parse_tokens(bad)
    with pytest.raises(SystemExit, match=r"16\+ characters"):
        Settings.from_env({"DASHBOARD_API_TOKENS": "x:read:short"})


def test_a_browser_opens_the_websocket_with_a_single_use_ticket(client: Client) -> None:
    issued = client.post("/api/realtime/tickets", headers=bearer(VIEWER))
    assert issued.status_code == 201
    ticket = issued.json()
    assert ticket["expires_in"] == 30
    assert ticket["url"] == f"/ws?ticket={ticket['ticket']}"
    assert VIEWER not in ticket["ticket"]
    page = {"Origin": "http://testserver.local"}
    with client.websocket_connect(ticket["url"], headers=page) as socket:
        socket.send_text('{"type":"ping"}')
        assert socket.receive_json() == {"type": "pong"}
    with pytest.raises(WebSocketDisconnect) as reused, client.websocket_connect(ticket["url"]):
        pass
    assert reused.value.code == 4401


def test_a_ticket_carries_the_scopes_of_the_token_that_asked(client: Client) -> None:
    # The engine may not read, so it gets no ticket: a ticket is a read credential.
    assert client.post("/api/realtime/tickets", headers=bearer(ENGINE)).status_code == 403
    assert client.post("/api/realtime/tickets").status_code == 401
    with (
        pytest.raises(WebSocketDisconnect) as forged,
        client.websocket_connect("/ws?ticket=forged"),
    ):
        pass
    assert forged.value.code == 4401


def test_a_token_in_the_url_works_for_engines_but_never_from_a_page(client: Client) -> None:
    with client.websocket_connect(f"/ws?token={VIEWER}") as socket:
        socket.send_text('{"type":"ping"}')
        assert socket.receive_json() == {"type": "pong"}
    page = {"Origin": "http://testserver.local"}
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect(f"/ws?token={VIEWER}", headers=page),
    ):
        pass
    assert refused.value.code == 4401
    with client.websocket_connect("/ws", headers={**bearer(VIEWER), **page}) as socket:
        socket.send_text('{"type":"ping"}')
        assert socket.receive_json() == {"type": "pong"}
    with (
        pytest.raises(WebSocketDisconnect) as no_scope,
        client.websocket_connect(f"/ws?token={ENGINE}"),
    ):
        pass
    assert no_scope.value.code == 4403
