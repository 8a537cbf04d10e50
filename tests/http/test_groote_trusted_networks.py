"""groote-ai's REST calls carry no token: `DASHBOARD_GROOTE_TRUSTED_NETWORKS` lets exactly its
six calls through without one, only from the listed networks, and opens nothing else."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.exceptions import WebSocketDisconnect
from litestar.routes import HTTPRoute
from litestar.testing import TestClient
from litestar.types import Receive, Scope, Send

from dashboard_api.bootstrap import memory_adapters
from dashboard_api.domain.model.access import Access, parse_networks
from dashboard_api.http import create_app
from dashboard_api.settings import Settings
from tests.http.test_groote_api import TASK, open_flow, register

Client = TestClient  # type: ignore[type-arg]
ENGINE = "engine-secret-0123456789"
VIEWER = "viewer-secret-0123456789"
TOKENS = f"engine:ingest:{ENGINE},viewer:read:{VIEWER}"
PEER = "x-test-peer"
INSIDE = "10.1.2.3"
OUTSIDE = "192.168.7.7"
# (method, route) of the six calls groote-ai makes (docs/engines.md).
GROOTE_CALLS = {
    ("PATCH", "/api/tasks/{task_id:str}"),
    ("POST", "/api/tasks"),
    ("GET", "/api/conversations/by-flow/{flow_id:path}"),
    ("POST", "/api/conversations"),
    ("GET", "/api/conversations/{conversation_id:str}/context"),
    ("POST", "/api/conversations/{conversation_id:str}/messages"),
}


class PeerAddress:
    """The app, seen from the address a test names in `x-test-peer` (the test client's own
    address is the name `testclient`, which no network holds)."""

    def __init__(self, app: Litestar) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            for name, value in scope["headers"]:
                if name == PEER.encode():
                    scope["client"] = (value.decode(), 40000)
        await self.app(scope, receive, send)


def build(**settings: Any) -> tuple[Litestar, Client]:
    app = create_app(
        Settings(api_tokens=TOKENS, groote_events="task_events", **settings),
        adapters=memory_adapters(),
    )
    return app, TestClient(PeerAddress(app), base_url="http://127.0.0.1")  # type: ignore[arg-type]


@pytest.fixture
def trusted() -> Iterator[tuple[Litestar, Client]]:
    app, client = build(groote_trusted_networks=("10.0.0.0/8", "fd00::/8"))
    with client:
        yield app, client


def from_peer(client: Client, address: str) -> Client:
    client.headers[PEER] = address
    return client


def the_worker_flow(client: Client) -> list[int]:
    """The six calls, as groote-ai's worker makes them; the statuses they got."""
    statuses: list[int] = []

    def call(method: str, url: str, **kwargs: Any) -> Any:
        response = client.request(method, url, **kwargs)
        statuses.append(response.status_code)
        return response

    found = call("GET", "/api/conversations/by-flow/github%3Aacme%2Fshop%2312")
    made = call("POST", "/api/conversations", json={"flow_id": "github:acme/shop#12"})
    conversation = (made.json() if made.status_code < 300 else found.json()).get(
        "conversation_id", "c"
    )
    call("POST", "/api/tasks", json={"task_id": TASK, "conversation_id": conversation})
    call("GET", f"/api/conversations/{conversation}/context", params={"roles": "user"})
    message = {"role": "system", "content": "triggered", "task_id": TASK}
    call("POST", f"/api/conversations/{conversation}/messages", json=message)
    call("PATCH", f"/api/tasks/{TASK}", json={"status": "completed", "cost_usd": 0.5})
    return statuses


def test_without_the_setting_the_engine_is_refused_as_it_was() -> None:
    _, client = build()
    with client:
        assert set(the_worker_flow(from_peer(client, INSIDE))) == {401}


def test_from_a_listed_network_its_six_calls_pass_and_the_task_completes(
    trusted: tuple[Litestar, Client],
) -> None:
    _, client = trusted
    statuses = the_worker_flow(from_peer(client, INSIDE))
    assert statuses == [404, 201, 201, 200, 201, 200]
    conversation = open_flow(client)  # found by its flow id now
    assert register(client, conversation).status_code == 200  # a retry fills in
    task = client.get(f"/api/tasks/{TASK}", headers={"Authorization": f"Bearer {VIEWER}"})
    assert task.status_code == 200
    assert (task.json()["status"], task.json()["cost_usd"]) == ("completed", 0.5)
    assert client.get(f"/api/tasks/{TASK}").status_code == 401  # reading is not one of them
    # An IPv4 peer of a dual-stack socket, and an IPv6 peer, in the listed networks.
    for address in ("::ffff:10.9.9.9", "fd00::5"):
        patch = {"status": "completed", "cost_usd": 0.5}
        got = from_peer(client, address).patch(f"/api/tasks/{TASK}", json=patch)
        assert got.status_code == 200, address
        assert got.json()["status"] == "completed"


def test_from_another_address_or_with_a_wrong_token_it_is_refused(
    trusted: tuple[Litestar, Client],
) -> None:
    _, client = trusted
    for address in (OUTSIDE, "11.0.0.1", "::ffff:192.168.7.7", "fe80::1", "testclient"):
        assert set(the_worker_flow(from_peer(client, address))) == {401}, address
    wrong = {"Authorization": "Bearer wrong-secret-0123456789"}
    inside = from_peer(client, INSIDE)
    assert inside.post("/api/tasks", json={"task_id": TASK}, headers=wrong).status_code == 401
    assert (
        inside.post("/api/tasks", json={"task_id": TASK}, headers={"Authorization": ""}).status_code
        == 401
    )


def _concrete(path: str) -> str:
    return re.sub(r"\{(\w+):(\w+)\}", lambda m: "/a" if m[2] == "path" else "x1", path)


def test_no_other_route_or_method_opens_from_a_listed_network(
    trusted: tuple[Litestar, Client],
) -> None:
    app, client = trusted
    inside = from_peer(client, INSIDE)
    checked = 0
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for method, (handler, _) in route.route_handler_map.items():
            opened = (method, route.path) in GROOTE_CALLS
            public = handler.opt.get("access") == "public" or route.path.startswith(
                ("/schema", "/console")
            )
            if opened or public or method == "OPTIONS":
                continue
            body: dict[str, Callable[..., Any] | Any] = (
                {} if method in ("GET", "HEAD", "DELETE") else {"json": {}}
            )
            answer = inside.request(method, _concrete(route.path), **body)
            assert answer.status_code == 401, (method, route.path, answer.status_code)
            checked += 1
    assert checked > 30, checked
    with pytest.raises(WebSocketDisconnect), inside.websocket_connect("/ws") as socket:
        socket.receive_json()


def test_networks_are_checked_and_every_address_is_refused() -> None:
    assert parse_networks(["10.0.0.0/8", "127.0.0.1", "fd00::/8", "192.168.1.5/24"])
    for refused, reason in (
        (["0.0.0.0/0"], "every address"),
        (["::/0"], "every address"),
        (["10.0.0.300"], "not an address"),
        (["example.com"], "not an address"),
    ):
        with pytest.raises(ValueError, match=reason):
            parse_networks(refused)
    env = {"DASHBOARD_GROOTE_TRUSTED_NETWORKS": "10.0.0.0/8"}
    with pytest.raises(SystemExit, match="needs DASHBOARD_GROOTE_EVENTS"):
        Settings.from_env(env)
    with pytest.raises(SystemExit, match="every address"):
        Settings.from_env(
            env
            | {
                "DASHBOARD_GROOTE_TRUSTED_NETWORKS": "10.0.0.0/8, 0.0.0.0/0",
                "DASHBOARD_GROOTE_EVENTS": "task_events",
                "DASHBOARD_REDIS_URL": "redis://127.0.0.1:6379/0",
            }
        )
    listed = Settings.from_env(
        {
            "DASHBOARD_GROOTE_TRUSTED_NETWORKS": "10.0.0.0/8, 127.0.0.1",
            "DASHBOARD_GROOTE_EVENTS": "task_events",
            "DASHBOARD_REDIS_URL": "redis://127.0.0.1:6379/0",
        }
    )
    access = Access({}, parse_networks(listed.groote_trusted_networks))
    assert access.trusts_engine_at("127.0.0.1")
    assert not access.trusts_engine_at("127.0.0.2")
    assert not access.trusts_engine_at(None)
