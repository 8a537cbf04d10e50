"""A web page cannot drive the service through its visitor's browser; a frontend that is
allowed can. (No tokens here: the default, loopback mode the issue attacked.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient

from dashboard_api.bootstrap.adapters import memory_adapters
from dashboard_api.http import create_app
from dashboard_api.settings import Settings

Client = TestClient  # type: ignore[type-arg]
EVIL = "https://evil.example"
FRONTEND = "http://localhost:3000"
TASK = b'{"agent_type":"coder","input_message":"rm -rf /"}'


def make_client(**settings: object) -> Client:
    app = create_app(Settings(**settings), adapters=memory_adapters())  # type: ignore[arg-type]
    return TestClient(app, base_url="http://127.0.0.1:5000")


@pytest.fixture
def client() -> Iterator[Client]:
    with make_client() as test_client:
        yield test_client


def created(client: Client) -> int:
    return len(client.get("/api/tasks").json()["items"])


def test_a_cross_site_text_plain_post_changes_nothing(client: Client) -> None:
    # A CORS "simple request": the browser sends it without asking first.
    attack = client.post(
        "/api/tasks", content=TASK, headers={"Origin": EVIL, "Content-Type": "text/plain"}
    )
    assert attack.status_code == 403
    assert attack.headers["content-type"].startswith("application/problem+json")
    assert attack.json()["type"].endswith("/origin-not-allowed")
    assert created(client) == 0


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None]
)
def test_a_body_must_be_sent_as_json(client: Client, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    refused = client.post("/api/tasks", content=TASK, headers=headers)
    assert refused.status_code == 415
    assert refused.json()["type"].endswith("/unsupported-media-type")
    assert created(client) == 0
    for accepted in (
        "application/json",
        "application/json; charset=utf-8",
        "application/merge-patch+json",
    ):
        assert (
            client.post("/api/tasks", content=TASK, headers={"Content-Type": accepted}).status_code
            == 201
        )


def test_a_request_without_a_body_needs_no_content_type(client: Client) -> None:
    task_id = client.post("/api/tasks", json={"agent_type": "coder"}).json()["task_id"]
    assert client.post(f"/api/tasks/{task_id}/stop").status_code == 202


def test_a_foreign_origin_changes_nothing_even_as_json(client: Client) -> None:
    refused = client.post(
        "/api/tasks", content=TASK, headers={"Origin": EVIL, "Content-Type": "application/json"}
    )
    assert refused.status_code == 403
    assert (
        client.post(
            "/api/tasks",
            content=TASK,
            headers={"Origin": "null", "Content-Type": "application/json"},
        ).status_code
        == 403
    )
    assert created(client) == 0


def test_the_pages_own_origin_and_clients_without_origin_work(client: Client) -> None:
    same = client.post(
        "/api/tasks", json={"agent_type": "coder"}, headers={"Origin": "http://127.0.0.1:5000"}
    )
    assert same.status_code == 201
    assert (
        client.post("/api/tasks", json={"agent_type": "coder"}).status_code == 201
    )  # curl, engines
    # Reads are no change: a foreign page may send them, CORS keeps the answer from it.
    read = client.get("/api/tasks", headers={"Origin": EVIL})
    assert read.status_code == 200
    assert "access-control-allow-origin" not in read.headers


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:5000", "127.0.0.1.evil.example", ""]
)
def test_a_foreign_host_is_refused(client: Client, host: str) -> None:
    # DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1.
    refused = client.get("/api/tasks", headers={"Host": host})
    assert refused.status_code == 400
    assert refused.json()["type"].endswith("/host-not-allowed")
    assert (
        client.post("/api/tasks", json={"agent_type": "x"}, headers={"Host": host}).status_code
        == 400
    )


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:8080", "127.0.0.1:5000", "[::1]:5000", "[::1]"]
)
def test_the_loopback_names_are_served_on_any_port(client: Client, host: str) -> None:
    assert client.get("/api/tasks", headers={"Host": host}).status_code == 200


def test_configured_hosts_replace_the_default() -> None:
    with make_client(allowed_hosts=("dash.example.com", "*.internal")) as client:
        assert client.get("/api/tasks", headers={"Host": "dash.example.com"}).status_code == 200
        assert client.get("/api/tasks", headers={"Host": "api.eu.internal:443"}).status_code == 200
        assert client.get("/api/tasks", headers={"Host": "localhost"}).status_code == 400
        assert client.get("/health", headers={"Host": "evil.example"}).status_code == 400


def test_a_foreign_origin_cannot_open_the_websocket(client: Client) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect("/ws", headers={"Origin": EVIL}),
    ):
        pass
    assert refused.value.code == 4403
    with client.websocket_connect("/ws", headers={"Origin": "http://127.0.0.1:5000"}) as socket:
        socket.send_text('{"type":"ping"}')
        assert socket.receive_json() == {"type": "pong"}


def test_a_foreign_host_cannot_open_the_websocket(client: Client) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect("/ws", headers={"Host": "evil.example"}),
    ):
        pass
    assert refused.value.code == 4400


def test_an_allowed_frontend_works_preflight_included() -> None:
    with make_client(cors_origins=(FRONTEND,)) as client:
        preflight = client.options(
            "/api/tasks",
            headers={
                "Origin": FRONTEND,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type, authorization",
            },
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == FRONTEND
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert "authorization" in preflight.headers["access-control-allow-headers"]
        posted = client.post(
            "/api/tasks", json={"agent_type": "coder"}, headers={"Origin": FRONTEND}
        )
        assert posted.status_code == 201
        assert posted.headers["access-control-allow-origin"] == FRONTEND
        assert "x-request-id" in posted.headers["access-control-expose-headers"]
        with client.websocket_connect("/ws", headers={"Origin": FRONTEND}) as socket:
            socket.send_text('{"type":"ping"}')
            assert socket.receive_json() == {"type": "pong"}
        # Another page still gets neither a preflight nor a change.
        other = client.options(
            "/api/tasks", headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"}
        )
        assert "access-control-allow-origin" not in other.headers
        assert (
            client.post(
                "/api/tasks", json={"agent_type": "x"}, headers={"Origin": EVIL}
            ).status_code
            == 403
        )


def test_allowed_origins_may_change_things_without_cors() -> None:
    with make_client(allowed_origins=("https://ops.example",)) as client:
        allowed = client.post(
            "/api/tasks", json={"agent_type": "coder"}, headers={"Origin": "https://ops.example"}
        )
        assert allowed.status_code == 201
        assert "access-control-allow-origin" not in allowed.headers
