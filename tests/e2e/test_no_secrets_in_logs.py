"""No secret in any log line: the real server process, with tokens, JSON logs at debug level (the
most a server prints) and a Redis of its own, driven the way clients use it and misuse it. Every
line it printed is scanned for every secret."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.e2e.conftest import Server
from tests.redis_support import PrivateRedis

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

VIEWER = "viewer-9f8e7d6c5b4a39281706"
ADMIN = "admin-0a1b2c3d4e5f60718293"
ENGINE = "engine-ffeeddccbbaa99887766"
UNKNOWN = "not-a-token-but-a-secret-elsewhere-5566"
TOKENS = f"viewer:read:{VIEWER},admin:read+write:{ADMIN},engine:ingest:{ENGINE}"


async def drive(base: str) -> list[str]:
    """Everything a dashboard, an engine and an attacker do; returns the tickets issued."""
    ws_base = base.replace("http://", "ws://")
    tickets: list[str] = []
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        for secret in (VIEWER, ADMIN):
            auth = {"Authorization": f"Bearer {secret}"}
            assert (await http.get("/api/tasks", headers=auth)).status_code == 200
            ticket = (await http.post("/api/realtime/tickets", headers=auth)).json()["ticket"]
            tickets.append(ticket)
        # A careless client sends a secret as its request id: echoed to it, redacted in logs.
        careless = {"Authorization": f"Bearer {VIEWER}", "X-Request-ID": ADMIN}
        assert (await http.get("/api/tasks", headers=careless)).status_code == 200
        engine = {"Authorization": f"Bearer {ENGINE}"}
        task = await http.post("/api/tasks", json={"agent_type": "coder"}, headers=engine)
        assert task.status_code == 201
        bad = [
            await http.get("/api/tasks", headers={"Authorization": f"Bearer {UNKNOWN}"}),
            await http.get(f"/api/tasks?token={VIEWER}"),  # a secret in a query string
            await http.post(
                "/api/tasks",
                content=b"{bad",
                headers={**engine, "Content-Type": "application/json"},
            ),
            await http.post(
                "/api/tasks", content=b"{}", headers={**engine, "Content-Type": "text/plain"}
            ),
            await http.post(
                "/api/tasks/x/stop",
                headers={"Authorization": f"Bearer {ADMIN}", "Origin": "https://evil.example"},
            ),
            await http.get("/api/tasks", headers={"Authorization": f"Basic {VIEWER}"}),
        ]
        assert all(400 <= answer.status_code < 500 for answer in bad), [a.status_code for a in bad]
    page = {"Origin": base}
    async with connect(f"{ws_base}/ws?token={VIEWER}") as socket:  # an engine's way
        await socket.send('{"type":"ping"}')
        await socket.recv()
    async with connect(f"{ws_base}/ws?ticket={tickets[0]}", additional_headers=page) as socket:
        await socket.send('{"type":"subscribe","channel":"tasks"}')
        await socket.recv()
    async with connect(
        f"{ws_base}/ws", additional_headers={"Authorization": f"Bearer {ADMIN}"}
    ) as socket:
        await socket.send("not json")
        await socket.recv()
    refused = (
        f"{ws_base}/ws?token={UNKNOWN}",
        f"{ws_base}/ws?ticket={tickets[0]}",  # used already
        f"{ws_base}/ws?token={ADMIN}",  # from a page: a token never goes in a browser's URL
    )
    for url in refused:
        with pytest.raises(InvalidStatus):
            async with connect(url, additional_headers=page):
                pass
    with pytest.raises(InvalidStatus):
        async with connect(
            f"{ws_base}/ws?ticket={tickets[1]}",
            additional_headers={"Origin": "https://evil.example"},
        ):
            pass
    return tickets


def test_no_secret_reaches_any_log_line(tmp_path: Path, private_redis: PrivateRedis) -> None:
    server = Server(
        {
            "DASHBOARD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'logs.db'}",
            "DASHBOARD_REDIS_URL": private_redis.url,
            "DASHBOARD_API_TOKENS": TOKENS,
            "DASHBOARD_LOG_FORMAT": "json",
            "DASHBOARD_LOG_LEVEL": "debug",
            "DASHBOARD_RATE_LIMIT_READ_PER_MINUTE": "1000",
        }
    )
    try:
        server.wait_ready()
        tickets = asyncio.run(drive(server.url))
        server.process.terminate()
        server.process.wait(timeout=15)
        output = server.read_output()
    finally:
        server.stop()
    lines = [line for line in output.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # one format: every line is a JSON object
    assert all({"timestamp", "level", "event"} <= record.keys() for record in records)
    for secret in (VIEWER, ADMIN, ENGINE, UNKNOWN, *tickets):
        leaks = [line for line in lines if secret in line]
        assert leaks == [], f"{len(leaks)} line(s) print a secret, e.g. {leaks[0][:300]}"
    events = {record["event"] for record in records}
    assert {"request", "websocket connected", "websocket closed", "websocket refused"} <= events
    closed = [record for record in records if record["event"] == "websocket closed"]
    assert all(isinstance(record["code"], int) for record in closed)
    requests = [record for record in records if record["event"] == "request"]
    assert all(record.get("request_id") for record in requests)
    # uvicorn's own handshake lines went through the same pipeline, redacted.
    assert any("[redacted]" in line and "uvicorn" in line for line in lines)
